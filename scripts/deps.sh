#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those that are missing.
# Usage: scripts/deps.sh [SET] [--check]
#   SET: build (default: build and test kvd), fuzz (clang, libFuzzer runtimes, llvm for
#        symbolized traces), bench (the peers make bench compares with: redis-server,
#        supervisor; best effort, since the benchmark skips a peer it does not find),
#        format (clang-format, for make format and the CI check), package (debhelper,
#        lintian, scdoc, fakeroot: make package and scripts/check-package.sh; scdoc also builds
#        the man pages in a normal build),
#        nats (nats-server and the NATS C client: kvd-nats, kvfleet and the fleet tests; also
#        part of build, so that make test builds and runs the fleet on a fresh machine)
#   --check: exit 1 if something is missing, install nothing
set -euo pipefail
set_name=build
check=no
for arg in "$@"; do
    case "$arg" in
        --check) check=yes ;;
        build | fuzz | bench | format | package | nats) set_name=$arg ;;
        *) echo "usage: scripts/deps.sh [build|fuzz|bench|format|package|nats] [--check]" >&2; exit 2 ;;
    esac
done
case "$set_name" in
    build) packages=(build-essential cmake pkg-config
                     libuv1-dev libcli11-dev libtoml11-dev nlohmann-json3-dev
                     libsystemd-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
                     libgtest-dev googletest procps scdoc
                     libncurses-dev tmux
                     nats-server libnats-dev) ;;
    fuzz) packages=(clang libclang-rt-14-dev llvm) ;;
    bench) packages=(redis-server supervisor gnuplot-nox jq) ;;
    format) packages=(clang-format-14) ;;
    nats) packages=(nats-server libnats-dev) ;;
    package) packages=(debhelper dpkg-dev fakeroot lintian scdoc) ;;
esac
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$check" = yes ]; then
    echo "missing packages ($set_name): ${missing[*]}" >&2
    exit 1
fi
echo "installing ($set_name): ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    [ "$set_name" = bench ] || exit 1
    echo "deps: could not install ${missing[*]}; their benchmark rows will be skipped" >&2
fi
