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
# shellcheck source=lib.sh
. "$here/lib.sh"
mode=${PLAYGROUND_IMAGES:-auto}
env_file=$root/.env

available() { docker image inspect "$1" >/dev/null 2>&1 || docker pull -q "$1" >/dev/null 2>&1; }

set_env() { "$root/infra/host/dotenv.sh" "$@"; }
# setting NAME [DEFAULT]: NAME as Compose sees it: the environment first, then .env.
setting() {
  local name=$1
  if [ -n "${!name:-}" ]; then printf '%s' "${!name}"; return; fi
  local line
  line=$(grep -E "^$name=" "$env_file" | tail -n 1) || true
  printf '%s' "${line#*=}"
  [ -n "$line" ] || printf '%s' "${2:-}"
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
# Plain `docker compose logs`, `ps` and `down` see only the services of active profiles: with
# every scenario active they see whichever runs, and `down` leaves no stopped container behind
# (Compose would start such a one again on the network that `down` removed). `up` is always
# given its scenario: `--profile fanout`, `shared` or `queue` (bare, it would run them all).
# The value an older playground wrote, before the queue scenario, is brought up to date.
if [ "$(setting COMPOSE_PROFILES)" = fanout,shared ]; then
  set_env COMPOSE_PROFILES fanout,shared,queue
fi
set_env COMPOSE_PROFILES fanout,shared,queue --if-unset
# The web service (a non-root user) reads the consumers' logs through the Docker socket: it
# joins the socket's group.
set_env DOCKER_GID "$(stat -c %g "$(setting DOCKER_SOCKET /var/run/docker.sock)" 2>/dev/null || echo 0)"
# Every Python service shares one image, built once here: Compose would build it once per
# service, and (without the buildx plugin) warn about Bake each time.
quietly docker build -q --build-arg PYTHON_IMAGE="$(setting PYTHON_IMAGE)" \
  -t "$(setting APP_IMAGE "$DEFAULT_APP_IMAGE")" "$root"
say "using $(grep -E '^(KAFKA|PYTHON)_IMAGE=' "$env_file" | tr '\n' ' ')(from .env)"
