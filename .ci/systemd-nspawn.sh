#!/bin/bash
# Helper for the real-systemd integration test (tests/system/test_systemd_nspawn.py).
#
#   .ci/systemd-nspawn.sh rootfs     build (once) and print the cached Debian root file system
#   .ci/systemd-nspawn.sh test       run the nspawn test with pytest (-m systemd)
#   .ci/systemd-nspawn.sh deps       apt-get install what the test needs on the host
#   .ci/systemd-nspawn.sh clean      delete the cached root file systems and wheels
#
# Needs root. The rootfs is cached under ${HOTFOLDER_NSPAWN_CACHE:-~/.cache/hotfolder-nspawn},
# keyed by a hash of the suite, mirror and package list, so changing the list rebuilds it.
set -eu

SUITE=${HOTFOLDER_NSPAWN_SUITE:-bookworm}
MIRROR=${HOTFOLDER_NSPAWN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=${HOTFOLDER_NSPAWN_PACKAGES:-systemd,systemd-sysv,dbus,python3,python3-venv,procps}
CACHE=${HOTFOLDER_NSPAWN_CACHE:-${HOME:-/root}/.cache/hotfolder-nspawn}

die() { echo "systemd-nspawn.sh: $*" >&2; exit 1; }

key() {
    printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "$(uname -m)" | sha256sum | cut -c1-16
}

rootfs() {
    [ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"
    command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap"
    local dir="$CACHE/$SUITE-$(key)"
    if [ -f "$dir/.complete" ]; then
        echo "$dir"
        return
    fi
    mkdir -p "$CACHE"
    rm -rf "$dir.tmp"
    echo "building $dir (debootstrap $SUITE: $PACKAGES) ..." >&2
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir.tmp" "$MIRROR" >&2 \
        || die "debootstrap failed (see the messages above)"
    # an empty machine-id: each boot of a throwaway copy makes up its own
    : > "$dir.tmp/etc/machine-id"
    rm -f "$dir.tmp/var/cache/apt/archives/"*.deb
    touch "$dir.tmp/.complete"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    echo "$dir"
}

deps() {
    # systemd: systemd-analyze, -sysusers, -tmpfiles; systemd-container: systemd-nspawn;
    # debootstrap; util-linux (essential): nsenter
    local need=()
    command -v systemd-analyze >/dev/null || need+=(systemd)
    command -v systemd-nspawn >/dev/null || need+=(systemd-container)
    command -v debootstrap >/dev/null || need+=(debootstrap)
    command -v nsenter >/dev/null || need+=(util-linux)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    fi
}

case "${1:-}" in
    rootfs) rootfs ;;
    deps) deps ;;
    clean) rm -rf "$CACHE" ;;
    test)
        shift
        cd "$(dirname "$0")/.."
        py=${PYTHON:-}
        [ -n "$py" ] || { [ -x .venv/bin/python ] && py=.venv/bin/python; } || py=python3
        exec "$py" -m pytest -n 0 -m systemd tests/system/test_systemd_nspawn.py "$@"
        ;;
    *) die "usage: $0 rootfs|deps|clean|test [pytest args]" ;;
esac
