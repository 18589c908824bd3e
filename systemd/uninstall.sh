#!/bin/bash
# Remove the hotfolder system service installed by systemd/install.sh. Run as root:
#
#   systemd/uninstall.sh [--purge]
#
# By default it stops and disables the service and removes the unit, the venv
# (/opt/hotfolder) and the sysusers.d/tmpfiles.d snippets, but KEEPS your data and
# settings: /var/lib/hotfolder (inbox, outputs, archive, failed), /etc/hotfolder,
# drop-ins in /etc/systemd/system/hotfolder.service.d, and the user and group
# hotfolder that own those files (so their ownership stays meaningful).
#
# --purge  also deletes /var/lib/hotfolder with every file in it, /etc/hotfolder,
#          the drop-ins, and the user and group hotfolder.
#
# Safe to run again, and on a machine where hotfolder was never installed.
set -eu

PREFIX=/opt/hotfolder
CONF_DIR=/etc/hotfolder
STATE_DIR=/var/lib/hotfolder
UNIT=/etc/systemd/system/hotfolder.service
SOCKET=/etc/systemd/system/hotfolder.socket
DROPINS=/etc/systemd/system/hotfolder.service.d
SYSUSERS=/etc/sysusers.d/hotfolder.conf
TMPFILES=/etc/tmpfiles.d/hotfolder.conf

PURGE=no
usage() { sed -n '2,/^set -eu/p' "$0" | sed -e 's/^# \{0,1\}//' -e '/^set -eu/d'; }
say() { printf 'hotfolder uninstall: %s\n' "$*"; }
die() { printf 'hotfolder uninstall: error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
    case "$arg" in
        --purge) PURGE=yes ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $arg" ;;
    esac
done
[ "$(id -u)" = 0 ] || die "run me as root (sudo $0)"

# 1. stop the service (it drains within TimeoutStopSec) and forget it
if command -v systemctl >/dev/null; then
    if systemctl cat hotfolder.socket >/dev/null 2>&1; then
        systemctl disable --now hotfolder.socket || true
    fi
    if systemctl cat hotfolder.service >/dev/null 2>&1; then
        say "stopping and disabling hotfolder.service"
        systemctl disable --now hotfolder.service || true
    fi
    systemctl reset-failed hotfolder.service hotfolder.socket >/dev/null 2>&1 || true
fi
rm -f "$UNIT" "$SOCKET" "$DROPINS/notify.conf"
if [ "$PURGE" = yes ]; then
    rm -rf "$DROPINS"
fi
if command -v systemctl >/dev/null; then
    systemctl daemon-reload || true
fi

# 2. the code
if [ -e "$PREFIX" ]; then
    say "removing $PREFIX"
    rm -rf "$PREFIX"
fi

# 3. the snippets (the folders they made stay unless --purge)
rm -f "$SYSUSERS" "$TMPFILES"

# 4. data, config and the user that owns them
if [ "$PURGE" = yes ]; then
    say "purging $STATE_DIR, $CONF_DIR and the user and group hotfolder"
    rm -rf "$STATE_DIR" "$CONF_DIR"
    if getent passwd hotfolder >/dev/null; then
        userdel hotfolder
    fi
    if getent group hotfolder >/dev/null; then
        groupdel hotfolder
    fi
    say "done; nothing of hotfolder is left"
else
    kept=""
    for path in "$STATE_DIR" "$CONF_DIR" "$DROPINS"; do
        [ -e "$path" ] && kept="$kept $path"
    done
    getent passwd hotfolder >/dev/null && kept="$kept user:hotfolder"
    say "done. Kept your data and settings:${kept:- (none)}"
    say "to delete those too: $0 --purge"
fi
