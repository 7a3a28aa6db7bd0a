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
from gaslatch_tools.platform.storage import SqliteStorage
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


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def module_storage(request, tmp_path_factory):
    """One storage of each kind for a whole module's hypothesis runs (a database per example would be too slow);
    each example keeps to units of its own."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    if request.param == "sqlite":
        s = SqliteStorage(str(tmp_path_factory.mktemp(name) / "platform.sqlite"))
    else:
        s = open_storage(request.getfixturevalue("postgres").create_database(name))
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
