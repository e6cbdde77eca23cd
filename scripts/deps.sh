#!/usr/bin/env bash
# Installs the Debian packages kvd needs to build and test, only if one is missing.
# Usage: scripts/deps.sh [--check]   (--check: exit 1 if something is missing, install nothing)
set -euo pipefail
packages=(
    build-essential cmake pkg-config
    libuv1-dev libcli11-dev libtoml11-dev nlohmann-json3-dev
    libsystemd-dev libspdlog-dev libfmt-dev
    libgtest-dev googletest
    procps
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
    echo "missing packages: ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
