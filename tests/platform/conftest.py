"""The platform tests' shared fixtures: a platform database with the shipped warning rules hooked in, on SQLite
and PostgreSQL; a real `gaslatch run` on emulated detectors reporting to the test's broker."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from gaslatch_tools.platform import accounts
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.receiver import open_storage
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.running_unit import RunningUnit

ROOT = Path(__file__).resolve().parents[2]
RULES = R.load(str(ROOT / "deploy" / "platform" / "warning-rules.yaml"))
BENCH_KEY = b"platform tests' unit key, not a real secret"  # the bench unit's command key (uplink.hmac_key_file)


@pytest.fixture
def storage(platform_db):
    """The platform database of each kind, with the warnings' and the console's tables and the rules' hook."""
    s = open_storage(platform_db)
    WS.prepare(s)
    accounts.prepare(s)
    s.add_store_hook(WS.WarningHook(RULES))
    yield s
    s.close()


@pytest.fixture
def bench_unit(tmp_path, broker):
    """(bus, unit): a real unit (site bench, unit unit-1) on two emulated detectors, reporting to the broker with
    BENCH_KEY, started and reading normal, its reset button released."""
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    unit.enable_uplink(broker, BENCH_KEY)
    unit.set_input("reset_button", False)
    try:
        unit.start()
        unit.wait_detectors_normal()
        yield bus, unit
    finally:
        unit.stop(signal.SIGTERM)
        unit.close()
        bus.close()
