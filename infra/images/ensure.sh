#!/usr/bin/env bash
# Make sure the images compose.yaml needs can be had, and tell Compose which ones to use.
#
# With a registry (Docker Hub) nothing is built: the official apache/kafka and python images
# are pulled as usual. Without one (our machines, CI), the Kafka and Python base images are
# built from Debian packages and Maven Central, and KAFKA_IMAGE / PYTHON_IMAGE are written to
# .env so that plain `docker compose ...` commands use them too.
#
#   PLAYGROUND_IMAGES=auto (default) | official | local
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
mode=${PLAYGROUND_IMAGES:-auto}
env_file=$root/.env
say() { printf '[images] %s\n' "$*" >&2; }

available() { docker image inspect "$1" >/dev/null 2>&1 || docker pull -q "$1" >/dev/null 2>&1; }

set_env() { # set_env NAME VALUE: replace or append NAME=VALUE in .env, leaving other lines alone
  touch "$env_file"
  grep -v "^$1=" "$env_file" >"$env_file.tmp" || true
  printf '%s=%s\n' "$1" "$2" >>"$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
}

if [ "$mode" = auto ]; then
  if available "$OFFICIAL_KAFKA_IMAGE" && available "$OFFICIAL_PYTHON_IMAGE"; then
    mode=official
  else
    say "cannot pull $OFFICIAL_KAFKA_IMAGE / $OFFICIAL_PYTHON_IMAGE (no registry?): building local images instead"
    mode=local
  fi
fi
case "$mode" in
  official)
    set_env KAFKA_IMAGE "$OFFICIAL_KAFKA_IMAGE"
    set_env PYTHON_IMAGE "$OFFICIAL_PYTHON_IMAGE"
    ;;
  local)
    # The two debootstraps are mostly waiting on downloads: run them side by side.
    "$here/debian-rootfs.sh" "$LOCAL_PYTHON_IMAGE" python3,python3-venv,python3-pip,ca-certificates &
    python_base=$!
    "$here/kafka.sh"
    wait "$python_base"
    set_env KAFKA_IMAGE "$LOCAL_KAFKA_IMAGE"
    set_env PYTHON_IMAGE "$LOCAL_PYTHON_IMAGE"
    ;;
  *) say "PLAYGROUND_IMAGES must be auto, official or local, not '$mode'"; exit 2 ;;
esac
say "using $(grep -E '^(KAFKA|PYTHON)_IMAGE=' "$env_file" | tr '\n' ' ')(from .env)"
