"""The real `gaslatch run` under the bench: ready by its own sd_notify READY=1, power cuts by SIGKILL at a
chosen or drawn instant, restarts with the event record continuing, and the emulated kitchen around it."""

import json
import random
import signal
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.unit.event_store import EventReader, StoreError
from gaslatch.unit.unit_config import load_unit_config
from gaslatch_tools.bench.kitchen_io import POWER, KitchenIO
from gaslatch_tools.testing.controller_process import ControllerError, ControllerProcess, random_instant
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.kitchen_config import kitchen_config
from gaslatch_tools.testing.waiting import wait_until

EVENT_TIMEOUT_S = 10


@pytest.fixture
def bus(tmp_path):
    detectors = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    yield detectors
    detectors.close()


def write_config(tmp_path, bus_link, **sections):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(kitchen_config(str(tmp_path), [bus_link], **sections)))
    return str(path)


def stored(store_path):
    try:
        return EventReader(store_path).query()
    except StoreError:
        return []  # not created yet


def count_stored(store_path, type_):
    return sum(1 for record in stored(store_path) if record["type"] == type_)


def wait_detectors_normal(unit):
    def normal(name):
        return any(" type=detector " in line and " source=%s " % name in line and " state=normal " in line
                   for line in unit.journal_lines(-1))
    wait_until(lambda: normal("d1") and normal("d2"), EVENT_TIMEOUT_S, what="both detectors normal")


def test_a_real_controller_is_ready_by_sd_notify_survives_a_power_cut_and_its_record_continues(tmp_path, bus):
    config = write_config(tmp_path, bus.link)
    store = str(tmp_path / "events.db")
    with ControllerProcess(config, str(tmp_path / "journal.log")) as unit:
        unit.start()
        assert unit.wait_ready() > 0
        first_pid = unit.pid
        assert "READY=1" in [note.message for note in unit.notifications(first_pid)]
        wait_until(lambda: any("first scan complete: ready" in line for line in unit.journal_lines(0)),
                   EVENT_TIMEOUT_S, what="the journal line of the first scan")  # written by the log thread
        wait_until(lambda: count_stored(store, "startup") == 1, EVENT_TIMEOUT_S, what="the startup event stored")

        at_s = time.monotonic() + 0.2
        instant = unit.power_cut(at_s=at_s)
        assert instant >= at_s and unit.returncode == -signal.SIGKILL and not unit.running
        assert not any("stopped:" in line for line in unit.journal_lines(0)), "a power cut runs no shutdown"
        before = stored(store)

        assert unit.restart() > 0
        assert unit.pid != first_pid and unit.runs == 2
        assert "READY=1" in [note.message for note in unit.notifications(unit.pid)]
        wait_until(lambda: count_stored(store, "startup") == 2, EVENT_TIMEOUT_S, what="the second startup stored")
        assert unit.stop() == 0
        assert "STOPPING=1" in [note.message for note in unit.notifications(unit.pid)]
        assert any("stopped: signal SIGTERM" in line for line in unit.journal_lines(1))
        assert not any("stopped:" in line for line in unit.journal_lines(0))

    records = stored(store)
    seqs = [record["seq"] for record in records]
    assert records[:len(before)] == before, "nothing committed before the power cut is lost"
    assert seqs == list(range(1, len(seqs) + 1)), "numbering continues across the power cut"
    after = [record["type"] for record in records[len(before):]]
    assert "startup" in after and after[-1] == "shutdown"


# What the kitchen unit must never load: the host tools and their libraries (commissioning, bench, reports,
# platform). A broken report module must not stop the gas controller, nor fill a Pi Zero's memory.
HOST_ONLY_MODULES = ("gaslatch_tools", "click", "rich", "reportlab", "matplotlib", "PIL", "psycopg", "jsonschema",
                     "yaml", "pymodbus", "minimalmodbus")


def imported_modules(importtime_lines: list[str]) -> set[str]:
    """Every module named in `python -X importtime` lines ("import time: self | cumulative | name")."""
    names = set()
    for line in importtime_lines:
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def test_the_running_unit_loads_none_of_the_host_tools_or_their_libraries(tmp_path, bus):
    config = write_config(tmp_path, bus.link)
    with ControllerProcess(config, str(tmp_path / "journal.log"), {"PYTHONPROFILEIMPORTTIME": "1"}) as unit:
        unit.start()
        unit.wait_ready()
        wait_detectors_normal(unit)  # the scan loop, buses, store and socket have all done real work
        assert unit.stop() == 0
        loaded = imported_modules(unit.stderr_lines(-1))
    assert {"gaslatch.unit.runtime", "gaslatch.unit.serial_bus", "gaslatch.unit.gpio_sim"} <= loaded
    host = sorted(name for name in loaded if name.split(".")[0] in HOST_ONLY_MODULES)
    assert host == [], "the unit process imported host-side modules: %s" % ", ".join(host)


def test_a_controller_that_cannot_start_is_reported_at_once_with_its_exit_code_and_stderr(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{")
    with ControllerProcess(str(config), str(tmp_path / "journal.log")) as unit:
        started = time.monotonic()
        unit.start()
        with pytest.raises(ControllerError, match="exited with code 2 before it was ready: .*will not start"):
            unit.wait_ready(timeout_s=30)
        assert time.monotonic() - started < 15, "the exit is noticed without waiting for the timeout"
        assert unit.returncode == 2 and unit.notifications() == []
        with pytest.raises(ControllerError, match="no gaslatch run to cut"):
            unit.power_cut()


def test_the_emulated_kitchen_answers_a_real_controller_through_reset_fire_and_a_power_cut(tmp_path, bus):
    config = write_config(tmp_path, bus.link,
                          valve={"type": "hold", "feedback": "both", "travel_s": 1},
                          interlocks={"fire_input": True},
                          lines={"valve": {"pin": 17}, "reset_button": {"pin": 5}, "fan": {"pin": 19},
                                 "sounder": {"pin": 13}, "beacon": {"pin": 26}, "fault_relay": {"pin": 6},
                                 "fire_input": {"pin": 21, "active": "low"},
                                 "valve_feedback_closed": {"pin": 22}, "valve_feedback_open": {"pin": 23}})
    cfg, _ = load_unit_config(config)
    kitchen = KitchenIO.from_config(cfg, valve_travel_s=0.3)
    with kitchen, ControllerProcess(config, str(tmp_path / "journal.log")) as unit:
        unit.start()
        unit.wait_ready()
        wait_detectors_normal(unit)
        kitchen.press("reset_button", hold_s=0.3)
        wait_until(lambda: kitchen.snapshot()["valve_feedback_open"], EVENT_TIMEOUT_S,
                   what="the valve open after the reset button")

        kitchen.set_input("fire_input", True)
        wait_until(lambda: kitchen.snapshot()["valve_feedback_closed"], EVENT_TIMEOUT_S,
                   what="the fire contact to close the valve")
        assert kitchen.snapshot()["valve"] is False
        kitchen.set_input("fire_input", False)
        wait_until(lambda: any(" type=interlock " in line and " state=clear " in line
                               for line in unit.journal_lines()), EVENT_TIMEOUT_S, what="the fire input clear")
        kitchen.press("reset_button", hold_s=0.3)
        wait_until(lambda: kitchen.snapshot()["valve_feedback_open"], EVENT_TIMEOUT_S, what="the valve open again")

        unit.power_cut()
        kitchen.power(False)
        wait_until(lambda: kitchen.snapshot()["valve_feedback_closed"], EVENT_TIMEOUT_S,
                   what="the hold valve closing with the power gone")
        assert kitchen.snapshot()["valve"] is False, "the pins lost the dead controller's levels with the power"
        unit.restart()
        kitchen.power(True)
        kitchen.step()
        assert kitchen.snapshot()["valve"] is False, "the restarted controller claimed the valve de-energised"
        assert kitchen.snapshot()["valve_feedback_closed"] is True, "after a restart the gas stays off"

    trace = kitchen.trace()
    power_off = next(change for change in trace if change.line == POWER and change.level is False)
    closed_again = [change for change in trace if change.line == "valve_feedback_closed" and change.level]
    assert closed_again[-1].t_s - power_off.t_s == pytest.approx(0.3, abs=0.1)
    assert kitchen.error_count == 0


@given(st.integers(0, 2**32), st.floats(0, 1e6), st.floats(0.001, 1e4))
def test_a_drawn_power_cut_instant_is_inside_its_window_and_the_same_for_the_same_seed(seed, start_s, width_s):
    instant = random_instant(seed, start_s, start_s + width_s)
    assert start_s <= instant <= start_s + width_s
    assert random_instant(random.Random(seed), start_s, start_s + width_s) == instant


def test_a_seeded_generator_draws_a_repeatable_sequence_of_instants_and_an_empty_window_is_refused():
    first, second = random.Random(7), random.Random(7)
    assert [random_instant(first, 0, 10) for _ in range(5)] == [random_instant(second, 0, 10) for _ in range(5)]
    with pytest.raises(ValueError, match="must end after it starts"):
        random_instant(1, 5.0, 5.0)
