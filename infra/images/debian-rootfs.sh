#!/usr/bin/env bash
# Build a Docker base image from Debian packages alone (no registry):
#   debian-rootfs.sh IMAGE:TAG PACKAGE[,PACKAGE...] [--change 'ENV ...']...
# debootstrap a minbase bookworm, add the host's CA bundle (our machines reach the
# registries through a TLS proxy whose CA lives there), strip caches, `docker import`.
# Skips the work when IMAGE:TAG already carries the same recipe label.
set -euo pipefail

image=$1 packages=$2
shift 2
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit} /^deb /{print $2; exit}' \
  /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
recipe=$(printf '%s|%s|%s|%s' "$suite" "$packages" "$*" "$(sha256sum "$0" | cut -c1-12)" | sha256sum | cut -c1-16)

say() { printf '[images] %s\n' "$*" >&2; }

if [ "$(docker image inspect -f '{{index .Config.Labels "org.kafka-playground.recipe"}}' "$image" 2>/dev/null)" = "$recipe" ]; then
  say "$image is up to date"
  exit 0
fi

"$(dirname "$0")/../host/apt-install.sh" debootstrap debootstrap

rootfs=$(mktemp -d /var/tmp/rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
say "building $image from Debian $suite ($packages); takes a few minutes"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -n 30 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

ca=/etc/ssl/certs/ca-certificates.crt
tar -C "$rootfs" -c . | docker import \
  --change "LABEL org.kafka-playground.recipe=$recipe" \
  --change "ENV SSL_CERT_FILE=$ca REQUESTS_CA_BUNDLE=$ca PIP_CERT=$ca LANG=C.UTF-8" \
  --change 'CMD ["/bin/bash"]' \
  "$@" - "$image" >/dev/null
say "built $image ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"
