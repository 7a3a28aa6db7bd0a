#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what it needs (Node.js, mosquitto, PostgreSQL,
# poppler-utils, systemd-analyze, Chromium and a CJK font via apt when root and missing, a Python venv, the MicroPython npm package), checks the
# generated docs are current, then pytest: the tests in two workers, the HIL scenarios in four.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && apt-get install -y nodejs npm
    else
        echo "Node.js and npm are needed for the MicroPython gate: install them (apt-get install nodejs npm)" >&2
        exit 1
    fi
fi
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y mosquitto || { apt-get update && apt-get install -y mosquitto; }
    else
        echo "mosquitto (the MQTT broker the uplink tests start) is needed: apt-get install mosquitto" >&2
        exit 1
    fi
fi
# PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin) for the platform tests' throwaway server.
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y postgresql || { apt-get update && apt-get install -y postgresql; }
    else
        echo "PostgreSQL (the server the platform tests start) is needed: apt-get install postgresql" >&2
        exit 1
    fi
fi
# pdftotext (poppler-utils): the commissioning report's tests read the PDF back.
if ! command -v pdftotext >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y poppler-utils || { apt-get update && apt-get install -y poppler-utils; }
    else
        echo "poppler-utils (pdftotext, for the report tests) is needed: apt-get install poppler-utils" >&2
        exit 1
    fi
fi
# systemd-analyze: tests/test_deploy.py verifies the unit file and checks its security exposure offline.
if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y systemd || { apt-get update && apt-get install -y systemd; }
    else
        echo "systemd-analyze (the unit file's checks) is needed: apt-get install systemd" >&2
        exit 1
    fi
fi
# Chromium (Debian's) for the console's browser tests, and a CJK font so its pages (and their screenshots) read.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei"; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y chromium fonts-wqy-microhei || { apt-get update && apt-get install -y chromium fonts-wqy-microhei; }
    else
        echo "Chromium and a CJK font (the console's browser tests) are needed: apt-get install chromium fonts-wqy-microhei" >&2
        exit 1
    fi
fi
echo "Installing gaslatch with its test extra (every tool, the test runners) into .venv ..."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -qq --upgrade pip
.venv/bin/python -m pip install -qq -e '.[test]'
npm ci --no-audit --no-fund --loglevel=error

.venv/bin/python -m gaslatch_tools.schema_export --check
.venv/bin/python -m gaslatch_tools.schema_export --check --schema profile
.venv/bin/python -m gaslatch_tools.schema_export --check --schema bench
.venv/bin/python -m gaslatch_tools.schema_export --check --schema warning-rules
.venv/bin/python -m gaslatch_tools.schema_export --check --schema platform-contacts
.venv/bin/python -m gaslatch_tools.safety_diagram --check
.venv/bin/python -m gaslatch_tools.wiring_diagram --check
if [ "$#" -gt 0 ]; then
    exec .venv/bin/python -m pytest "$@"
fi
# The unit and integration tests in two pytest-xdist workers (a CPU each on the reference machine; about
# 10 min, against 18 one at a time: no test may depend on the machine being idle); the HIL scenarios, which
# run in real time and mostly wait, in four.
.venv/bin/python -m pytest tests -n 2
exec .venv/bin/python -m pytest hil_tests -n 4
