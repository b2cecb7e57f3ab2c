# Shared by the image scripts: the versions, a log line, and running noisy tools quietly.
# shellcheck shell=bash
# shellcheck source=versions.env
. "$(dirname "${BASH_SOURCE[0]}")/versions.env"

say() { printf '[images] %s\n' "$*" >&2; }

# Run a noisy tool with its output kept aside, shown only when it fails: Maven's colour
# resets and the legacy builder's deprecation banner are not for the newcomer's first screen.
quietly() {
  local out rc=0
  out=$(mktemp)
  "$@" >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$out" >&2
    say "failed ($rc): $*"
  fi
  rm -f "$out"
  return "$rc"
}
