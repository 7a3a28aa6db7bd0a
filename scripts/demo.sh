#!/usr/bin/env bash
# Runs the main job on emulated hardware: the real controller (gaslatch-unit run) against an emulated
# kitchen (Modbus detectors on a pty bus, valve, fan, buttons), shown live while a leak develops,
# then the report and plot of the run. Arguments go to `gaslatch demo` (--no-live: no live view).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "Installing gaslatch with its bench extra (the demo's emulators, report and plot) into .venv ..."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -qq --upgrade pip
.venv/bin/python -m pip install -qq -e '.[bench]'
exec .venv/bin/gaslatch demo "$@"
