#!/usr/bin/env bash
# apt-install.sh PACKAGE [COMMAND]: install a Debian package unless COMMAND is already on the
# PATH (or, without COMMAND, unless the package is installed). Serialised by a lock, so scripts
# running side by side do not fight over dpkg.
set -euo pipefail
pkg=$1 cmd=${2:-}
present() {
  if [ -n "$cmd" ]; then command -v "$cmd" >/dev/null 2>&1
  else dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; fi
}
present && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "[apt-install] ${cmd:-$pkg} is missing: install the package $pkg (this needs root and apt-get)" >&2
  exit 1
fi
exec 9>/var/lock/kafka-playground-apt.lock
flock 9
present && exit 0
echo "[apt-install] installing Debian's $pkg (one-off)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq "$pkg" >/dev/null 2>&1 || {
  echo "[apt-install] apt-get install $pkg failed" >&2; exit 1; }
