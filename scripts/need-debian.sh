#!/usr/bin/env bash
# Install Debian packages unless the commands they provide are all there:
#   bash scripts/need-debian.sh "command ..." package ...
# Installing needs root (CI runs as root); otherwise it says what is missing.
set -euo pipefail
cmds=$1
shift
missing=0
for c in $cmds; do
    command -v "$c" >/dev/null || missing=1
done
[[ $missing -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
    echo "needs the Debian packages $* (for: $cmds); run as root to install them" >&2
    exit 1
fi
echo "== installing $* (Debian) =="
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$@" >/dev/null
