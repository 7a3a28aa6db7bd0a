#!/usr/bin/env bash
# Installs or upgrades the gaslatch kitchen unit on Raspberry Pi OS Bookworm; safe to run again.
# Run as root from the source tree: sudo deploy/install.sh [--dry-run] [--restart] [--panel]. See docs/install.md.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/gaslatch
VENV=$PREFIX/venv
GASLATCH=$VENV/bin/gaslatch
# The unit's own command: what the service runs, and what checks the configuration here.
GASLATCH_UNIT=$VENV/bin/gaslatch-unit
# The system Python: the venv links to it, so it must be one the gaslatch user can run.
PYTHON=/usr/bin/python3
CLI_LINK=/usr/local/bin/gaslatch
CONF_DIR=/etc/gaslatch
CONF=$CONF_DIR/config.json
# The self-test's reference (config self_test.manifest): every installed code and profile file's SHA-256.
MANIFEST=$CONF_DIR/manifest.json
EXAMPLE=$SRC_DIR/deploy/config.example.json
UNIT_SRC=$SRC_DIR/deploy/gaslatch.service
UNIT=/etc/systemd/system/gaslatch.service
UDEV_RULE=/etc/udev/rules.d/60-gaslatch-watchdog.rules
MODULES_CONF=/etc/modules-load.d/gaslatch.conf
SERVICE=gaslatch
USER_NAME=gaslatch
DEVICE_GROUPS=(dialout gpio i2c)
# What pip needs to build the package (pyproject.toml names its readme and package folders).
BUILD_FILES=(pyproject.toml README.md firmware host_tools)
APT_PACKAGES=(python3-venv python3-dev gcc i2c-tools)
# usbserial registers the ttyUSB device numbers and i2c-dev the i2c ones: they must exist when the
# service starts, or systemd cannot allow them (DeviceAllow=char-ttyUSB, char-i2c).
KERNEL_MODULES=(usbserial i2c-dev)
# /dev/watchdog (misc device) and /dev/watchdog0: read-write for group gaslatch only.
UDEV_TEXT='# gaslatch: the controller feeds the hardware watchdog as user gaslatch (docs/install.md).
KERNEL=="watchdog|watchdog[0-9]*", GROUP="gaslatch", MODE="0660"'
STEPS=10
# The kitchen panel (--panel): its own user in the control socket's group, its own service.
PANEL_USER=gaslatch-panel
PANEL_UNIT_SRC=$SRC_DIR/deploy/gaslatch-panel.service
PANEL_UNIT=/etc/systemd/system/gaslatch-panel.service
PANEL_PINS=/var/lib/gaslatch-panel/pins.json

DRY_RUN=0
RESTART=0
PANEL=0
STEP=0
NOTES=()

usage() {
    cat <<EOF
Usage: sudo $0 [--dry-run] [--restart] [--panel]

Installs gaslatch from $SRC_DIR as a systemd service:
user and group $USER_NAME, $VENV, $UNIT, $UDEV_RULE,
$MODULES_CONF, $CONF (from the example if absent), $MANIFEST,
then checks the configuration and enables and starts the service.

  --dry-run   print every step without changing anything (no root needed)
  --restart   restart the service if it is already running, so an upgrade takes effect now;
              a restart closes the gas valve until someone presses reset on site
  --panel     also install the kitchen panel (user $PANEL_USER, $PANEL_UNIT) for a touch screen
EOF
}

for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        --restart) RESTART=1 ;;
        --panel) PANEL=1; STEPS=11 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

step() {
    STEP=$((STEP + 1))
    printf '\n[%d/%d] %s\n' "$STEP" "$STEPS" "$1"
}

say() {
    printf '  %s\n' "$*"
}

# Prints a command, then runs it unless this is a dry run.
run() {
    printf '  +'
    printf ' %q' "$@"
    printf '\n'
    if [ "$DRY_RUN" = 0 ]; then
        "$@"
    fi
}

# write_file PATH MODE TEXT: writes TEXT (plus a newline) to PATH when it differs.
write_file() {
    local path=$1 mode=$2 text=$3
    if [ -f "$path" ] && [ "$(cat "$path")" = "$text" ]; then
        say "$path is up to date"
        return
    fi
    say "write $path (mode $mode):"
    printf '%s\n' "$text" | sed 's/^/      | /'
    if [ "$DRY_RUN" = 0 ]; then
        printf '%s\n' "$text" > "$path.tmp"
        chmod "$mode" "$path.tmp"
        mv -f "$path.tmp" "$path"
    fi
}

fail() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if [ "$DRY_RUN" = 1 ]; then
    echo "gaslatch install (dry run: nothing is changed) from $SRC_DIR"
else
    [ "$(id -u)" = 0 ] || fail "run as root: sudo $0 (or add --dry-run to see the steps)"
    echo "gaslatch install from $SRC_DIR"
fi
[ -f "$SRC_DIR/pyproject.toml" ] || fail "$SRC_DIR is not the gaslatch source tree (no pyproject.toml)"
[ -f "$UNIT_SRC" ] && [ -f "$EXAMPLE" ] || fail "deploy/gaslatch.service or deploy/config.example.json is missing"
if [ -r /etc/os-release ] && ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then
    say "note: this script is written for Raspberry Pi OS Bookworm; $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"') found"
fi

step "system packages: ${APT_PACKAGES[*]}"
missing=()
for package in "${APT_PACKAGES[@]}"; do
    package_installed "$package" || missing+=("$package")
done
if [ "${#missing[@]}" = 0 ]; then
    say "already installed"
else
    run apt-get update
    run apt-get install -y --no-install-recommends "${missing[@]}"
fi

step "user and group $USER_NAME, device groups ${DEVICE_GROUPS[*]}"
if getent group "$USER_NAME" >/dev/null; then
    say "group $USER_NAME already exists"
else
    run groupadd --system "$USER_NAME"
fi
if id -u "$USER_NAME" >/dev/null 2>&1; then
    say "user $USER_NAME already exists"
else
    run useradd --system --gid "$USER_NAME" --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin --comment "gaslatch controller" "$USER_NAME"
fi
for group in "${DEVICE_GROUPS[@]}"; do
    if getent group "$group" >/dev/null; then
        say "group $group already exists"
    else
        run groupadd --system "$group"
    fi
done

step "Python environment $VENV"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || fail "gaslatch needs $PYTHON 3.11 or newer"
run install -d -m 0755 "$PREFIX"
if [ -x "$VENV/bin/python" ]; then
    say "$VENV already exists"
else
    run "$PYTHON" -m venv "$VENV"
fi

EXTRAS=pi
[ "$PANEL" = 1 ] && EXTRAS=pi,panel
step "gaslatch, the unit only (base install and the $EXTRAS extra: libgpiod v2 bindings$([ "$PANEL" = 1 ] && echo ', the panel'"'"'s web server')) from $SRC_DIR"
# Built from a fresh copy: a build/ directory left in the source tree would put deleted modules
# back into the wheel, and root-owned build files would be left in the installer's checkout.
if [ "$DRY_RUN" = 1 ]; then
    BUILD_DIR=/tmp/gaslatch-install.XXXXXX
else
    BUILD_DIR=$(mktemp -d /tmp/gaslatch-install.XXXXXX)
    trap 'rm -rf "$BUILD_DIR"' EXIT
fi
run mkdir -p "$BUILD_DIR/src"
for item in "${BUILD_FILES[@]}"; do
    run cp -R "$SRC_DIR/$item" "$BUILD_DIR/src/"
done
# The unit only: no commissioning, bench or report tools (and none of their libraries) on the Pi.
run "$VENV/bin/python" -m pip install --upgrade --no-cache-dir "$BUILD_DIR/src[$EXTRAS]"
run ln -sfn "$GASLATCH" "$CLI_LINK"

step "device access: hardware watchdog for group $USER_NAME, kernel modules ${KERNEL_MODULES[*]}"
write_file "$UDEV_RULE" 0644 "$UDEV_TEXT"
write_file "$MODULES_CONF" 0644 "$(printf '# gaslatch: device numbers the systemd unit allows must exist at start.\n'; printf '%s\n' "${KERNEL_MODULES[@]}")"
for module in "${KERNEL_MODULES[@]}"; do
    run modprobe "$module"
done
run udevadm control --reload-rules
run udevadm trigger --action=change --subsystem-match=misc --subsystem-match=watchdog
if [ ! -e /dev/watchdog ]; then
    NOTES+=("no /dev/watchdog: add dtparam=watchdog=on to /boot/firmware/config.txt and reboot")
fi
if grep -Eqs '^[[:space:]]*RuntimeWatchdogSec=[^0o]' /etc/systemd/system.conf /etc/systemd/system.conf.d/*.conf; then
    NOTES+=("systemd's RuntimeWatchdogSec is set: it holds /dev/watchdog, so gaslatch cannot open it; remove it")
fi
if systemctl is-enabled watchdog.service >/dev/null 2>&1; then
    NOTES+=("the watchdog daemon is enabled: it holds /dev/watchdog; run: systemctl disable --now watchdog")
fi

step "systemd unit $UNIT"
if [ -f "$UNIT" ] && cmp -s "$UNIT_SRC" "$UNIT"; then
    say "$UNIT is up to date"
else
    run install -m 0644 "$UNIT_SRC" "$UNIT"
fi
run systemctl daemon-reload

step "configuration $CONF (root:$USER_NAME, mode 0640)"
run install -d -m 0750 -o root -g "$USER_NAME" "$CONF_DIR"
if [ -f "$CONF" ]; then
    say "keeping the existing $CONF"
    run chown "root:$USER_NAME" "$CONF"
    run chmod 0640 "$CONF"
else
    run install -m 0640 -o root -g "$USER_NAME" "$EXAMPLE" "$CONF"
    NOTES+=("$CONF is the example configuration: edit it for this kitchen, then run: gaslatch check-config $CONF && systemctl restart $SERVICE")
fi

step "install manifest $MANIFEST (root, mode 0644): every start checks the installed files against it"
# Written after every install, as root, from the files just installed; the service can read it but never write it.
run "$GASLATCH_UNIT" manifest write --path "$MANIFEST"
if [ "$DRY_RUN" = 1 ]; then
    run runuser -u "$USER_NAME" -- "$GASLATCH_UNIT" manifest check --path "$MANIFEST"
elif ! run runuser -u "$USER_NAME" -- "$GASLATCH_UNIT" manifest check --path "$MANIFEST"; then
    fail "the installed files do not match $MANIFEST as user $USER_NAME (listed above); the service was not enabled or restarted."
fi

step "check-config: the service starts only with a valid configuration"
if [ "$DRY_RUN" = 1 ]; then
    run runuser -u "$USER_NAME" -- "$GASLATCH_UNIT" check-config "$CONF"
elif ! run runuser -u "$USER_NAME" -- "$GASLATCH_UNIT" check-config "$CONF"; then
    fail "$CONF has problems (listed above). Fix them and run this script again; the service was not enabled or restarted."
fi

step "enable and start $SERVICE.service"
run systemctl enable "$SERVICE"
if [ "$DRY_RUN" = 0 ] && systemctl is-active --quiet "$SERVICE"; then
    if [ "$RESTART" = 1 ]; then
        say "restarting: the gas valve closes until someone presses reset on site"
        run systemctl restart "$SERVICE"
    else
        NOTES+=("$SERVICE was already running and still runs the previous version; to switch now: systemctl restart $SERVICE (the valve closes until the local reset)")
    fi
else
    run systemctl start "$SERVICE"
fi
if [ "$DRY_RUN" = 0 ]; then
    systemctl --no-pager --lines=5 status "$SERVICE" || true
fi

if [ "$PANEL" = 1 ]; then
    step "kitchen panel: user $PANEL_USER (group $USER_NAME for the control socket), $PANEL_UNIT"
    if id -u "$PANEL_USER" >/dev/null 2>&1; then
        say "user $PANEL_USER already exists"
    else
        run useradd --system --user-group --groups "$USER_NAME" --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin --comment "gaslatch kitchen panel" "$PANEL_USER"
    fi
    if [ -f "$PANEL_UNIT" ] && cmp -s "$PANEL_UNIT_SRC" "$PANEL_UNIT"; then
        say "$PANEL_UNIT is up to date"
    else
        run install -m 0644 "$PANEL_UNIT_SRC" "$PANEL_UNIT"
    fi
    run systemctl daemon-reload
    run systemctl enable gaslatch-panel
    run systemctl restart gaslatch-panel
    NOTES+=("set the panel's PINs (each level its own): sudo -u $PANEL_USER $GASLATCH_UNIT panel-pin operator --pins $PANEL_PINS (and maintenance, installer); until then only viewing works")
fi

echo
if [ "$DRY_RUN" = 1 ]; then
    echo "Dry run finished: nothing was changed."
else
    echo "Done. The valve stays closed until someone on site presses the reset button."
    echo "Follow the log with: journalctl -u $SERVICE -f"
fi
for note in "${NOTES[@]}"; do
    echo "NOTE: $note"
done
