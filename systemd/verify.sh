#!/usr/bin/env bash
# Checks what `make install` puts on a system: the systemd units with `systemd-analyze verify`,
# the sysusers.d and tmpfiles.d snippets with their own tools, and the installed config with
# `kvd --check-config`. The build is installed into a temporary prefix, so ExecStart= names
# binaries that exist and nothing outside that directory is touched.
# Usage: systemd/verify.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

if ! command -v systemd-analyze >/dev/null || ! command -v systemd-sysusers >/dev/null; then
    echo "installing systemd for systemd-analyze" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends systemd
fi

stage=$(mktemp -d /tmp/kvd-verify-XXXXXX)
trap 'rm -rf "$stage"' EXIT
cmake --install "$build" --prefix "$stage/usr" >"$stage/install.log" || {
    cat "$stage/install.log" >&2
    exit 1
}
units=$stage/usr/lib/systemd/system
fail=0

# verify prints warnings without failing on them, so any line about our units fails too.
echo "== systemd-analyze verify kvd.service kvd.socket"
if ! out=$(systemd-analyze verify --man=no "$units/kvd.service" "$units/kvd.socket" 2>&1); then
    fail=1
fi
[ -z "$out" ] || echo "$out"
if grep -E 'kvd\.(service|socket)' <<<"$out" >/dev/null; then fail=1; fi

# The metrics drop-in, applied: systemd reads a unit's repeated [Service] sections as a drop-in
# would be read, so the unit with it appended must verify as cleanly.
echo "== systemd-analyze verify kvd.service + kvd-metrics.conf"
dropin=$stage/usr/share/doc/kvd/kvd-metrics.conf
if [ ! -f "$dropin" ]; then
    echo "kvd-metrics.conf is not installed in the docs" >&2
    fail=1
else
    mkdir -p "$stage/with-metrics"
    cat "$units/kvd.service" "$dropin" >"$stage/with-metrics/kvd.service"
    cp "$units/kvd.socket" "$stage/with-metrics/"
    if ! out=$(systemd-analyze verify --man=no "$stage/with-metrics/kvd.service" \
        "$stage/with-metrics/kvd.socket" 2>&1); then
        fail=1
    fi
    [ -z "$out" ] || echo "$out"
    if grep -E 'kvd\.(service|socket)' <<<"$out" >/dev/null; then fail=1; fi
    grep -q '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' "$dropin" || fail=1
fi

echo "== systemd-sysusers, systemd-tmpfiles (into $stage)"
mkdir -p "$stage/etc"
systemd-sysusers --root="$stage" "$stage/usr/lib/sysusers.d/kvd.conf" || fail=1
grep -q '^kvd:' "$stage/etc/passwd" && grep -q '^kvd:' "$stage/etc/group" || {
    echo "sysusers did not create user and group kvd" >&2
    fail=1
}
# systemd-tmpfiles resolves user names on the host, where kvd need not exist: the snippet is
# checked with the owner swapped for root.
sed 's/ kvd kvd / root root /' "$stage/usr/lib/tmpfiles.d/kvd.conf" >"$stage/tmpfiles.conf"
systemd-tmpfiles --root="$stage" --create "$stage/tmpfiles.conf" || fail=1
[ -d "$stage/var/log/kvd" ] || { echo "tmpfiles did not create /var/log/kvd" >&2; fail=1; }

echo "== kvd --check-config on the config kvd.service runs with"
config=$(sed -n 's/^ExecStart=.* --config \([^ ]*\).*/\1/p' "$units/kvd.service")
# --check-config also checks that socket_group exists, and systemd-sysusers created group kvd
# only inside $stage: on a host without it, a copy naming root's group is checked instead.
checked=$config
if ! getent group kvd >/dev/null; then
    checked=$stage/kvd-check.toml
    sed 's/^socket_group = "kvd"$/socket_group = "root"/' "$config" >"$checked"
    grep -q '^socket_group = "root"$' "$checked" || {
        echo "the installed config has no socket_group = \"kvd\" line to swap" >&2
        fail=1
    }
fi
"$stage/usr/bin/kvd" --check-config --config "$checked" || fail=1
for handler in $(sed -n 's/^command = \["\([^"]*\)".*/\1/p' "$config"); do
    [ -x "$handler" ] || {
        echo "the installed config runs $handler, which is not an installed executable" >&2
        fail=1
    }
done

if [ "$fail" -ne 0 ]; then
    echo "systemd/verify.sh: FAILED" >&2
    exit 1
fi
echo "systemd/verify.sh: ok"
