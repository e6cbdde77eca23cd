#!/usr/bin/env bash
# Installs the peers `make bench` compares kvd with (Debian's redis-server and supervisor),
# only if one is missing. The benchmark skips a peer's rows with a note when its program is
# absent, so a failed install here is reported but does not stop `make bench`.
# Usage: scripts/bench-deps.sh [--check]   (--check: exit 1 if something is missing, install nothing)
set -euo pipefail
packages=(redis-server supervisor)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
    echo "missing benchmark peers: ${missing[*]}" >&2
    exit 1
fi
echo "installing benchmark peers: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# The package lists may never have been fetched on a fresh machine.
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || {
        echo "bench-deps: could not install ${missing[*]}; their rows will be skipped" >&2
        exit 0
    }
fi
