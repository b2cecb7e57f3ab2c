#!/usr/bin/env bash
# dotenv.sh NAME VALUE [--if-unset]: set NAME=VALUE in the repo's .env, leaving other lines alone.
# .env is where Compose reads its variables from, so what is written here holds for plain
# `docker compose ...` commands as much as for make (images to use, the active profile).
set -euo pipefail
name=$1 value=$2
env_file=$(cd "$(dirname "$0")/../.." && pwd)/.env
touch "$env_file"
if [ "${3:-}" = --if-unset ] && grep -q "^$name=" "$env_file"; then
  exit 0
fi
grep -v "^$name=" "$env_file" >"$env_file.tmp" || true
printf '%s=%s\n' "$name" "$value" >>"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
