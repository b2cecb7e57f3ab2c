#!/usr/bin/env bash
# Print the path of a uv binary, installing one (from PyPI, into a private venv) if there is
# none. Tests and linters run from the workspace's uv-managed .venv.
set -euo pipefail
UV_VERSION=${UV_VERSION:-0.13.9}
if command -v uv >/dev/null 2>&1; then
  command -v uv
  exit 0
fi
home=${PLAYGROUND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-playground}/uv-$UV_VERSION
if [ ! -x "$home/bin/uv" ]; then
  printf '[ensure-uv] uv missing: installing uv==%s into %s\n' "$UV_VERSION" "$home" >&2
  if ! python3 -m venv "$home" >/dev/null 2>&1; then
    # Debian's python3 comes without venv until python3-venv is installed.
    rm -rf "$home"
    "$(dirname "$0")/apt-install.sh" python3-venv
    python3 -m venv "$home"
  fi
  "$home/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION" >&2
fi
echo "$home/bin/uv"
