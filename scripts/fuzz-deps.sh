#!/usr/bin/env bash
# Installs what `make fuzz` needs on top of scripts/deps.sh, only if one is missing: clang,
# its libFuzzer and sanitizer runtimes (libclang-rt-14-dev) and llvm (llvm-symbolizer, for
# readable stack traces).
# Usage: scripts/fuzz-deps.sh [--check]   (--check: exit 1 if something is missing, install nothing)
set -euo pipefail
packages=(clang libclang-rt-14-dev llvm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
    echo "missing packages for fuzzing: ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
