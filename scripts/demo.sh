#!/usr/bin/env bash
# Runs the main job on emulated hardware: the real controller core against a simulated kitchen
# (detectors on a Modbus bus, valve, buttons, clock), printing the timeline of a leak.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/gaslatch demo "$@"
