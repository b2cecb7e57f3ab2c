#!/usr/bin/env bash
# Build $LOCAL_KAFKA_IMAGE from Kafka's jars on Maven Central and a Debian JRE base image.
# Jars are resolved on the host (mvn) into a cache, so the image build needs neither Maven
# nor a Java trust store. Skips the build when the image carries the same recipe label.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../kafka
# shellcheck source=lib.sh
. "$here/lib.sh"
cache=${PLAYGROUND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-playground}

"$here/debian-rootfs.sh" "$LOCAL_JRE_IMAGE" openjdk-17-jre-headless,ca-certificates
recipe=$( (cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum; \
  docker image inspect -f '{{.Id}}' "$LOCAL_JRE_IMAGE") | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "org.kafka-playground.recipe"}}' "$LOCAL_KAFKA_IMAGE" 2>/dev/null)" = "$recipe" ]; then
  say "$LOCAL_KAFKA_IMAGE is up to date"
  exit 0
fi

jars=$cache/kafka-$KAFKA_VERSION/lib
if [ ! -f "$jars/kafka_2.13-$KAFKA_VERSION.jar" ]; then
  "$here/../host/apt-install.sh" maven mvn
  say "resolving Kafka $KAFKA_VERSION jars from Maven Central into $jars"
  rm -rf "$jars.tmp"
  quietly mvn -B -q -Dstyle.color=never -f "$src/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$jars.tmp"
  mv "$jars.tmp" "$jars"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp -R "$src/." "$context/"
mkdir -p "$context/lib"
cp -l "$jars"/*.jar "$context/lib/" 2>/dev/null || cp "$jars"/*.jar "$context/lib/"
say "building $LOCAL_KAFKA_IMAGE"
quietly docker build -q --build-arg JRE_IMAGE="$LOCAL_JRE_IMAGE" --build-arg KAFKA_VERSION="$KAFKA_VERSION" \
  --label org.kafka-playground.recipe="$recipe" -t "$LOCAL_KAFKA_IMAGE" "$context"
say "built $LOCAL_KAFKA_IMAGE ($(docker image inspect -f '{{.Size}}' "$LOCAL_KAFKA_IMAGE" | numfmt --to=iec))"
