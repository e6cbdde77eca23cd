#!/usr/bin/env bash
# Checks the Debian package the way an operator meets it: lintian reports no error and no
# warning; then, on this machine, dpkg installs it (the programs stripped, the units, the
# sysusers/tmpfiles snippets applied, /etc/kvd/kvd.toml a conffile, man pages and completion
# in place and working), removes it (the conffile stays), purges it, and no file is left that
# was not there before. Works where systemd is not running (a container): the maintainer
# scripts must cope with that too.
# Usage: scripts/check-package.sh [DIST_DIR]   (default: dist, where `make package` puts it)
# Needs root (runs itself through sudo otherwise), and refuses to run where a package named kvd is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${1:-dist}
shopt -s nullglob
debs=("$dist"/kvd_*_amd64.deb)
dbgsyms=("$dist"/kvd-dbgsym_*_amd64.deb)
changes=("$dist"/kvd_*_amd64.changes)
if [ ${#debs[@]} -ne 1 ] || [ ${#changes[@]} -ne 1 ]; then
    echo "check-package: expected one kvd_*_amd64.deb and one .changes in $dist (make package)" >&2
    exit 2
fi
deb=${debs[0]}
[ "$(id -u)" -eq 0 ] || exec sudo "$0" "$@"
if dpkg-query -W -f='${Status}' kvd 2>/dev/null | grep -q 'installed'; then
    echo "check-package: a kvd package is installed here already; not touching it" >&2
    exit 2
fi

fail=0
check() { # check DESCRIPTION COMMAND...: runs COMMAND, reports DESCRIPTION, records a failure
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "  ok: $what"
    else
        echo "  FAILED: $what" >&2
        fail=1
    fi
}

echo "== lintian ${changes[0]}"
# Every tag at warning or above fails; --info shows why.
lintian --fail-on error,warning --info "${changes[0]}" || fail=1

echo "== the debug symbols are in their own package"
check "kvd-dbgsym built" test ${#dbgsyms[@]} -eq 1
[ ${#dbgsyms[@]} -eq 1 ] && check "kvd-dbgsym holds .debug files" \
    sh -c "dpkg-deb -c '${dbgsyms[0]}' | grep -q '/usr/lib/debug/.build-id/.*\.debug$'"

# Everything a package may touch, without the caches and logs the package tools keep for
# themselves: apt's and man-db's caches (man-db's trigger indexes the new man pages) and
# dpkg's own log and database (which records the purge).
snapshot() {
    find /etc /usr /var /opt /srv -xdev \
        \( -path /var/cache/apt -o -path /var/lib/apt -o -path /var/cache/man \
        -o -path /var/cache/debconf -o -path /var/lib/dpkg -o -path /var/log -o -path /var/tmp \
        -o -path /var/cache/ldconfig \) -prune -o -print | sort
    # /var/log/kvd is what the package creates there: it is checked on its own.
    [ -e /var/log/kvd ] && echo /var/log/kvd
    return 0
}
before=$(mktemp /tmp/kvd-check-before-XXXXXX)
after=$(mktemp /tmp/kvd-check-after-XXXXXX)
trap 'rm -f "$before" "$after"; dpkg -P kvd >/dev/null 2>&1 || true' EXIT
snapshot >"$before"

echo "== dpkg -i $deb"
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb"
for f in /usr/bin/kvd /usr/bin/kvctl /usr/bin/kv-bucket /usr/bin/kvd-nats /usr/bin/kvfleet; do
    check "$f is there and stripped" sh -c "test -x $f && ! readelf -S $f | grep -q debug_info"
done
for f in /lib/systemd/system/kvd.service /lib/systemd/system/kvd.socket \
    /usr/lib/sysusers.d/kvd.conf /usr/lib/tmpfiles.d/kvd.conf /usr/lib/kvd/handlers/log-events \
    /usr/share/man/man8/kvd.8.gz /usr/share/man/man1/kvctl.1.gz \
    /usr/share/man/man1/kv-bucket.1.gz /usr/share/man/man5/kvd.toml.5.gz \
    /usr/share/bash-completion/completions/kvctl /usr/share/zsh/vendor-completions/_kvctl \
    /usr/share/fish/vendor_completions.d/kvctl.fish /usr/share/doc/kvd/copyright \
    /usr/share/doc/kvd/changelog.gz /usr/share/doc/kvd/install.md; do
    check "$f" test -f "$f"
done
check "README in /usr/share/doc/kvd" sh -c 'ls /usr/share/doc/kvd/README.md*'
check "kvctl top is there (its keys in --help)" sh -c '/usr/bin/kvctl top --help | grep -q "q "'
check "kvctl metrics is there" /usr/bin/kvctl metrics --help
check "the metrics drop-in is in the docs" sh -c 'ls /usr/share/doc/kvd/kvd-metrics.conf*'
check "/etc/kvd/kvd.toml is a conffile" \
    sh -c "dpkg-query -W -f='\${Conffiles}' kvd | grep -q '^ /etc/kvd/kvd.toml '"
check "the service's config is valid" /usr/bin/kvd --check-config --config /etc/kvd/kvd.toml
check "kvd.service runs /usr/bin/kvd" grep -q '^ExecStart=/usr/bin/kvd ' /lib/systemd/system/kvd.service
if command -v systemd-sysusers >/dev/null; then
    check "postinst created the user and group kvd" sh -c 'getent passwd kvd && getent group kvd'
    check "postinst created /var/log/kvd for kvd" sh -c '[ "$(stat -c %U:%G /var/log/kvd)" = kvd:kvd ]'
fi
check "kvd.socket is enabled" test -L /etc/systemd/system/sockets.target.wants/kvd.socket
check "kvd.service is enabled" test -L /etc/systemd/system/multi-user.target.wants/kvd.service
if command -v man >/dev/null; then
    for page in kvd kvctl kv-bucket kvd.toml; do
        check "man $page" sh -c "MANPAGER=cat MANWIDTH=80 man $page | grep -q NAME"
    done
fi
check "bash completes 'kvctl st'" bash -c '
    source /usr/share/bash-completion/completions/kvctl
    COMP_WORDS=(kvctl st); COMP_CWORD=1; _kvctl
    [ "${COMPREPLY[*]}" = "status stop" ]'
command -v zsh >/dev/null && check "zsh parses _kvctl" zsh -n /usr/share/zsh/vendor-completions/_kvctl
command -v fish >/dev/null && check "fish parses kvctl.fish" \
    fish -n /usr/share/fish/vendor_completions.d/kvctl.fish

echo "== dpkg -r kvd"
dpkg -r kvd
check "the programs are gone" test ! -e /usr/bin/kvd
check "the edited-or-not conffile stays until purge" test -f /etc/kvd/kvd.toml

echo "== dpkg -P kvd"
dpkg -P kvd
snapshot >"$after"
# The system user and group kvd stay after a purge, as Debian keeps every system user;
# systemd-sysusers saved the account files it changed as passwd-, group-, shadow-, gshadow-.
left=$(comm -13 "$before" "$after" | grep -v -x -E '/etc/(passwd|group|shadow|gshadow)-' || true)
gone=$(comm -23 "$before" "$after" || true)
if [ -n "$left" ]; then
    echo "  FAILED: left behind after purge:" >&2
    echo "$left" | sed 's/^/    /' >&2
    fail=1
else
    echo "  ok: nothing left behind after purge"
fi
if [ -n "$gone" ]; then
    echo "  FAILED: gone after install and purge (was there before):" >&2
    echo "$gone" | sed 's/^/    /' >&2
    fail=1
fi

if [ "$fail" -ne 0 ]; then
    echo "scripts/check-package.sh: FAILED" >&2
    exit 1
fi
echo "scripts/check-package.sh: ok"
