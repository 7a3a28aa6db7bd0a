#!/usr/bin/env bash
# Runs the main job on emulated hardware: the real controller (gaslatch run) against an emulated
# kitchen (Modbus detectors on a pty bus, valve, fan, buttons), shown live while a leak develops,
# then the report and plot of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[bench]'
exec .venv/bin/gaslatch demo "$@"
