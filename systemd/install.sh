#!/bin/bash
# Install hotfolder as a system service from this checkout. Run as root:
#
#   systemd/install.sh [--no-start]
#   systemd/install.sh --rollback [--no-start]
#
# What it does (each step is safe to repeat; running it again upgrades):
#   1. creates a venv of this release's own, /opt/hotfolder/venvs/<date>-<time>[-<commit>],
#      and pip-installs this checkout into it; the running service is not touched
#   2. installs the user and group hotfolder (sysusers.d) and the default hot
#      folder under /var/lib/hotfolder (tmpfiles.d)
#   3. copies config/hotfolder.system.yaml to /etc/hotfolder/hotfolder.yaml unless
#      that file exists already (yours is never overwritten), and checks it with the new
#      release; a failure stops here and removes the new venv (the service runs on as it was)
#   4. switches /opt/hotfolder/venv (a symlink, renamed over the old one at once) to the
#      new venv, keeps the previous release's for --rollback and removes older ones
#   5. installs the units, reloads systemd, and enables and starts the service
#      (restarts it if it was running, to load the new code); with `http:` in the
#      config also hotfolder.socket (the status page and /metrics), with `notify:`
#      items the drop-in that gives the service the network notifications need
#
# A running daemon keeps the release it started with until it restarts (it resolves the
# link at its start), its workers too.
#
# --no-start  install and enable, but do not start or restart the service.
# --rollback  switch /opt/hotfolder/venv back to the previous release kept (checked against
#             your config first) and restart the service; again: back to the newer one.
# EXTRAS=...  the pip extras installed with it (default heic-ffmpeg: FFmpeg's HEVC decoder,
#             ~1.3x the speed on iPhone HEICs; its wheels are GPL-bound, README "HEIC").
#             EXTRAS= (empty) installs without: libheif decodes every HEIC.
# Offline installs: pip honours PIP_NO_INDEX=1 and PIP_FIND_LINKS=/dir/of/wheels.
# Undo with systemd/uninstall.sh.
set -eu
# What this makes (the venv, the units, the config) is read by the service's user and by
# systemd: a root shell's umask 077 or 027 (a hardened server's) made the venv root's only,
# and the service died at its start (203/EXEC, or No module named 'hotfolder.cli').
umask 022

PREFIX=/opt/hotfolder            # the unit's ExecStart names $PREFIX/venv/bin/hotfolder
VENV=$PREFIX/venv                # a symlink to the release in use: venvs/NAME
VENVS=$PREFIX/venvs              # one venv a release: the one in use, the previous one
CONF_DIR=/etc/hotfolder
UNIT_DIR=/etc/systemd/system
SYSUSERS=/etc/sysusers.d/hotfolder.conf
TMPFILES=/etc/tmpfiles.d/hotfolder.conf
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS-heic-ffmpeg}     # set but empty: none

REPO=$(cd "$(dirname "$0")/.." && pwd)
START=yes
ROLLBACK=no

usage() { sed -n '2,/^set -eu/p' "$0" | sed -e 's/^# \{0,1\}//' -e '/^set -eu/d'; }
say() { printf 'hotfolder install: %s\n' "$*"; }
die() { printf 'hotfolder install: error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
    case "$arg" in
        --no-start) START=no ;;
        --rollback) ROLLBACK=yes ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $arg" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "run me as root (sudo $0)"
[ -f "$REPO/pyproject.toml" ] && [ -f "$REPO/systemd/hotfolder.service" ] \
    || die "$REPO does not look like a hotfolder checkout"
for tool in systemctl systemd-sysusers systemd-tmpfiles; do
    command -v "$tool" >/dev/null || die "$tool not found: this needs a systemd system"
done
[ -x /bin/kill ] || die "/bin/kill (ExecReload=) is missing: apt-get install procps"

current() {  # the release $VENV points to (its name under $VENVS), or nothing
    [ -L "$VENV" ] && basename "$(readlink "$VENV")"
}
previous() {  # the newest release kept other than the one in use
    local cur name
    cur=$(current || true)
    for name in $(ls -1 "$VENVS" 2>/dev/null | sort -r); do
        [ "$name" != "$cur" ] && [ -x "$VENVS/$name/bin/hotfolder" ] && { echo "$name"; return 0; }
    done
    return 0
}
switch_to() {  # point $VENV at $VENVS/$1: a new link renamed over the old one (atomic)
    ln -sfn "venvs/$1" "$PREFIX/.venv.new"
    mv -Tf "$PREFIX/.venv.new" "$VENV"
}
in_use() {  # does a process run code of this venv (its interpreter or a library it mapped)?
    # the pattern from a file: in grep's own command line it would always match
    grep -qsF -f <(printf '%s/\n' "$1") /proc/[0-9]*/maps /proc/[0-9]*/cmdline
}
restart_service() {
    if [ "$START" = no ]; then
        say "not restarting (--no-start): the running service keeps its release until: systemctl restart hotfolder"
    elif systemctl is-active --quiet hotfolder.service; then
        say "restarting the running service"
        systemctl restart hotfolder.service
    else
        systemctl start hotfolder.service
    fi
}

if [ "$ROLLBACK" = yes ]; then
    cur=$(current || true)
    [ -n "$cur" ] || die "$VENV is not a link to a release under $VENVS: nothing to roll back to"
    prev=$(previous)
    [ -n "$prev" ] || die "no other release kept under $VENVS (only $cur)"
    "$VENVS/$prev/bin/hotfolder" check-config "$CONF_DIR/hotfolder.yaml" \
        || die "release $prev refuses $CONF_DIR/hotfolder.yaml (see above): change it for that release, or stay on $cur"
    switch_to "$prev"
    say "switched $VENV from $cur to $prev (again: $0 --rollback switches back)"
    restart_service
    exit 0
fi
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=/path/to/python3.11+)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is older than 3.11"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$PYTHON cannot create venvs: apt-get install python3-venv"
# an extra pip does not know is only a warning of pip's: a typo would install without it
unknown=$("$PYTHON" - "$REPO/pyproject.toml" "$EXTRAS" <<'PY'
import sys, tomllib
known = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]
print(" ".join(e for e in sys.argv[2].replace(",", " ").split() if e not in known))
PY
) || die "cannot read $REPO/pyproject.toml"
[ -z "$unknown" ] || die "EXTRAS: no extra named $unknown (pyproject.toml's [project.optional-dependencies])"

# 1. the new release's own venv; the one in use is not touched
install -d -m 0755 "$PREFIX" "$VENVS"
NAME=$(date -u +%Y%m%d-%H%M%S)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || true)
NAME=$NAME${rev:+-$rev}
while [ -e "$VENVS/$NAME" ]; do NAME=$NAME+; done   # twice in one second
NEW=$VENVS/$NAME
SWITCHED=no
BUILD=$(mktemp -d)
# a failure before the switch leaves nothing of this release behind
trap 'rm -rf "$BUILD"; [ "$SWITCHED" = yes ] || rm -rf "$NEW" "$PREFIX/.venv.new"' EXIT
say "creating $NEW"
"$PYTHON" -m venv "$NEW"
say "installing hotfolder${EXTRAS:+[$EXTRAS]} from $REPO into $NEW"
# build from a copy so the checkout stays clean (and may be read-only)
tar -C "$REPO" --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./build \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=./bench -cf - . | tar -C "$BUILD" -xf -
"$NEW/bin/python" -m pip install --quiet --disable-pip-version-check "$BUILD${EXTRAS:+[$EXTRAS]}"
"$NEW/bin/hotfolder" --version >/dev/null || die "$NEW/bin/hotfolder does not run"
case ",$EXTRAS," in *,heic-ffmpeg,*)
    "$NEW/bin/python" -c 'from hotfolder.engine.decoders import hevc; raise SystemExit(not hevc.available())' \
        || die "PyAV (the heic-ffmpeg extra) was installed but does not load; EXTRAS= installs without it" ;;
esac

# 2. user, group and folders
say "installing $SYSUSERS and $TMPFILES"
install -D -m 0644 "$REPO/systemd/hotfolder.sysusers" "$SYSUSERS"
systemd-sysusers "$SYSUSERS"
install -D -m 0644 "$REPO/systemd/hotfolder.tmpfiles" "$TMPFILES"
systemd-tmpfiles --create "$TMPFILES"

# 3. the config
install -d -m 0755 "$CONF_DIR"
if [ -e "$CONF_DIR/hotfolder.yaml" ]; then
    say "keeping your $CONF_DIR/hotfolder.yaml"
else
    say "installing $CONF_DIR/hotfolder.yaml"
    install -m 0644 "$REPO/config/hotfolder.system.yaml" "$CONF_DIR/hotfolder.yaml"
fi
"$NEW/bin/hotfolder" check-config "$CONF_DIR/hotfolder.yaml" \
    || die "fix $CONF_DIR/hotfolder.yaml for the new release (see above), then run me again; the service runs on as it was"

# 4. the switch
if [ -d "$VENV" ] && [ ! -L "$VENV" ]; then
    # A venv an install.sh from before releases side by side filled in place: moved aside once,
    # under the date it was made, its scripts' #! lines pointed at where it now is (they named
    # $VENV/bin/python, which is about to be the new release's). The daemon running from it
    # follows $VENV (it resolves nothing): stopped before the switch, started again below.
    old=$(date -u -r "$VENV/pyvenv.cfg" +%Y%m%d-%H%M%S 2>/dev/null || date -u +%Y%m%d-%H%M%S)-moved
    if [ "$START" != no ] && systemctl is-active --quiet hotfolder.service; then
        say "stopping hotfolder.service (it runs from $VENV in place, moved aside now)"
        systemctl stop hotfolder.service
    elif systemctl is-active --quiet hotfolder.service; then
        say "restart hotfolder.service soon (systemctl restart hotfolder): it runs from $VENV in place, moved aside now"
    fi
    say "moving the venv of the earlier install aside: $VENVS/$old"
    mv -T "$VENV" "$VENVS/$old"
    for script in "$VENVS/$old"/bin/*; do
        [ -f "$script" ] && [ ! -L "$script" ] || continue
        if head -n 1 "$script" | grep -q "^#!$VENV/bin/"; then
            sed -i "1s|^#!$VENV/bin/|#!$VENVS/$old/bin/|" "$script"
        fi
    done
fi
was=$(current || true)
switch_to "$NAME"
SWITCHED=yes
say "switched $VENV to $NAME${was:+ (was $was)}"
# keep the one in use and the previous one (for --rollback); a release a process still
# runs (a daemon not restarted since) is kept until it ends
prev=$(previous)
for name in $(ls -1 "$VENVS"); do
    [ "$name" = "$NAME" ] || [ "$name" = "$prev" ] && continue
    if in_use "$VENVS/$name"; then
        say "keeping $VENVS/$name: a process still runs it"
    else
        say "removing $VENVS/$name"
        rm -rf "${VENVS:?}/$name"
    fi
done

# 5. the unit
say "installing $UNIT_DIR/hotfolder.service and hotfolder.socket"
install -D -m 0644 "$REPO/systemd/hotfolder.service" "$UNIT_DIR/hotfolder.service"
install -D -m 0644 "$REPO/systemd/hotfolder.socket" "$UNIT_DIR/hotfolder.socket"
wants() {  # does the installed config have this top-level section?
    # serving=frozenset(): a ${VAR} the service takes from its drop-in need not be set in
    # this shell (check-config above passed it with a warning); config.load alone refused
    # it, and the socket and the notify drop-in were silently left out.
    "$VENV/bin/python" -c "import sys; from hotfolder import config; c = config.load(sys.argv[1], serving=frozenset()); sys.exit(0 if getattr(c, sys.argv[2]) else 1)" "$CONF_DIR/hotfolder.yaml" "$1"
}
if wants notify; then
    say "notify: in the config: installing the drop-in $UNIT_DIR/hotfolder.service.d/notify.conf (network for notifications)"
    install -D -m 0644 "$REPO/systemd/hotfolder-notify.conf" "$UNIT_DIR/hotfolder.service.d/notify.conf"
fi
systemctl daemon-reload
systemctl enable hotfolder.service
if wants http; then
    say "http: in the config: enabling hotfolder.socket (status page and /metrics on 127.0.0.1:9464)"
    systemctl enable hotfolder.socket
    if [ "$START" != no ] && ! systemctl is-active --quiet hotfolder.socket; then
        # systemd refuses to start a socket whose service runs already ("Socket service
        # hotfolder.service already active, refusing"): stop it first, started again below
        if systemctl is-active --quiet hotfolder.service; then
            say "stopping hotfolder.service to hand it the socket"
            systemctl stop hotfolder.service
        fi
        systemctl start hotfolder.socket
    fi
fi
if [ "$START" = no ] && ! systemctl is-active --quiet hotfolder.service; then
    say "enabled; start it with: systemctl start hotfolder"
else
    restart_service
fi

cat <<EOF
hotfolder install: done.
  drop images into   /var/lib/hotfolder/inbox   (members of the group hotfolder may write there)
  renditions land in /var/lib/hotfolder/output
  config             $CONF_DIR/hotfolder.yaml   (then: systemctl reload hotfolder)
  status             systemctl status hotfolder; $VENV/bin/hotfolder status -c $CONF_DIR/hotfolder.yaml
  logs               journalctl -u hotfolder
  release            $VENV -> venvs/$NAME${prev:+ (going back to $prev: sudo $0 --rollback)}
  your own folders   systemctl edit hotfolder  ->  [Service] ReadWritePaths=/srv/photos
  status page        http: in the config, then run me again (or: systemctl stop hotfolder; systemctl enable --now hotfolder.socket; systemctl start hotfolder)
EOF
