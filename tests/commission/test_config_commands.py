"""config init, validate and push: from the scan's record to a configuration the controller accepts, installed
on the bench's real `gaslatch run`, which restarts and comes back with the valve closed until RESET."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.unit.unit_config import load_unit_config
from gaslatch_tools.commission.config_build import InitError, build_config, config_name
from gaslatch_tools.commission.record import Record
from gaslatch_tools.commission.schedule_text import DAYS, ScheduleError, format_schedule, parse_schedule
from tests.commission.bench_kitchen import Kitchen, last_json, open_terminals
from gaslatch_tools.testing.waiting import wait_until

DOCS_EXAMPLE_WITH_FIVE_PROBLEMS = {
    "unit": {"site": "JS-NJ-GL-000123", "name": "Golden Lotus main kitchen"},
    "buses": {"rs485a": {"port": "/dev/ttyUSB0", "baud": "9600"}},
    "detectors": {
        "hood1": {"kind": "modbus", "bus": "rs485a", "address": 1, "profile": "cn-generic", "hihg_alarm_pct_lel": 20},
        "hood2": {"kind": "modbus", "bus": "rs485b", "address": 2, "profile": "cn-generic", "high_alarm_pct_lel": 60},
    },
    "valve": {"type": "motorised"},
}


@pytest.fixture
def kitchen(short_dir):
    made = Kitchen(short_dir)
    yield made
    made.close()


@pytest.fixture
def terminals():
    yield from open_terminals()


def scanned_record(path: str, port: str) -> Record:
    """A record as scan leaves it (the bus and each detector's address, line setting and profile), with a
    location and the detectors' own set points as an installer may have added them."""
    record = Record(path)
    record.data["site"] = {"id": "JS-NJ-GL-000123", "name": "Golden Lotus"}
    record.data["unit"] = {"name": "Golden Lotus main kitchen"}
    record.data["bus"] = {"port": port, "baud": 9600, "parity": "N", "stop_bits": 1}
    line = {"baud": 9600, "parity": "N", "stop_bits": 1, "profile": "cn-generic"}
    record.detector("hood1").update(address=1, low_alarm_pct_lel=8, high_alarm_pct_lel=20,
                                    location="ceiling above wok ranges 1-2", **line)
    record.detector("hood2").update(address=2, low_alarm_pct_lel=30, high_alarm_pct_lel=60, **line)
    record.save()
    return record


# ---- config init ----

def test_config_init_writes_a_config_the_controller_accepts_with_every_scanned_detector(short_dir, terminals):
    record = scanned_record(os.path.join(short_dir, "record.json"), "/dev/ttyUSB1")
    out = os.path.join(short_dir, "gaslatch.json")
    term = terminals("--record", record.path, "config", "init", "--out", out, "--port",
                     "/dev/serial/by-id/usb-FTDI-if00", cwd=short_dir)
    term.expect("Attended hours")
    term.type("mon-fri 09:00-23:00; sat,sun 08:00-01:00")
    assert term.wait() == 0
    assert "valid configuration with 2 detectors" in term.text
    cfg, _profiles = load_unit_config(out)  # the controller's own loader accepts it
    assert cfg["unit"] == {"site": "JS-NJ-GL-000123", "name": "Golden Lotus main kitchen"}
    assert cfg["buses"]["rs485a"]["port"] == "/dev/serial/by-id/usb-FTDI-if00"
    assert cfg["buses"]["rs485a"]["baud"] == 9600
    hood1, hood2 = cfg["detectors"]["hood1"], cfg["detectors"]["hood2"]
    assert (hood1["address"], hood1["profile"], hood1["bus"]) == (1, "cn-generic", "rs485a")
    assert (hood1["low_alarm_pct_lel"], hood1["high_alarm_pct_lel"]) == (8, 20)  # the detector's own set points
    assert (hood2["low_alarm_pct_lel"], hood2["high_alarm_pct_lel"]) == (10, 25)  # 30 / 60 are not allowed
    assert hood1["zone"] == hood2["zone"] == "kitchen" and hood1["poll_interval_ms"] == 500
    assert cfg["schedule"] == {"enabled": True, "attended": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "23:00"},
        {"days": ["sat", "sun"], "from": "08:00", "to": "01:00"}]}
    assert cfg["valve"]["startup"] == "manual_reset" and cfg["gpio"]["backend"] == "gpiod"
    assert "hood2's own set points (30 / 60 %LEL)" in term.text
    data = Record.load(record.path).data
    assert data["schedule"]["text"] == "mon-fri 09:00-23:00; sat,sun 08:00-01:00"
    assert data["log"][-1]["command"] == "config init"


def test_config_init_refuses_a_detector_scan_could_not_identify(short_dir, terminals):
    record = scanned_record(os.path.join(short_dir, "record.json"), "/dev/ttyUSB0")
    record.detector("hood3").update({"address": 7, "profile": "unknown"})  # what scan writes when it cannot tell
    record.save()
    term = terminals("--record", record.path, "--json", "config", "init", "--out",
                     os.path.join(short_dir, "x.json"), "--schedule", "off", cwd=short_dir)
    assert term.wait() == 2
    result = last_json(term.text)
    assert result["error"] == "record" and "hood3 (address 7): scan could not identify its model" in result["message"]
    assert not os.path.exists(os.path.join(short_dir, "x.json"))


def test_detectors_at_two_speeds_on_one_port_cannot_share_a_bus():
    record = {"bus": {"port": "/dev/ttyUSB0", "baud": 9600},
              "detectors": {"a": {"address": 1, "profile": "cn-generic"},
                            "b": {"address": 2, "profile": "cn-generic", "baud": 19200}}}
    with pytest.raises(InitError, match="set-baud them to one rate"):
        build_config(record, None, None, "kitchen", None, "site", "unit")


def test_record_names_become_config_names_and_stay_distinct():
    record = {"bus": {"port": "/dev/ttyUSB0"},
              "detectors": {"Hood 1": {"address": 1, "profile": "cn-generic"},
                            "hood-1": {"address": 2, "profile": "cn-generic"}}}
    doc, notes = build_config(record, None, None, "kitchen", None, "site", "unit")
    assert sorted(doc["detectors"]) == ["hood-1", "hood-1-2"]
    assert any("Hood 1 is called hood-1" in note for note in notes)
    assert doc["schedule"] == {"enabled": False} and any("人走阀关" in note for note in notes)


@given(st.text(max_size=40))
def test_any_detector_name_becomes_a_valid_config_name(name):
    from gaslatch.core.config import _matches_name

    assert _matches_name(config_name(name))


# ---- the schedule text ----

_PERIOD = st.fixed_dictionaries({
    "days": st.lists(st.sampled_from(DAYS), min_size=1, unique=True).map(lambda ds: [d for d in DAYS if d in ds]),
    "from": st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: "%02d:%02d" % t),
    "to": st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: "%02d:%02d" % t),
}).filter(lambda p: p["from"] != p["to"])


@given(st.lists(_PERIOD, min_size=1, max_size=4))
def test_attended_hours_read_back_as_written(periods):
    assert parse_schedule(format_schedule(periods)) == periods


@given(st.text(max_size=60))
def test_any_schedule_text_reads_or_says_what_form_it_needs(text):
    try:
        periods = parse_schedule(text)
    except ScheduleError as err:
        assert "e.g." in str(err) or "same time" in str(err) or "days are" in str(err)
    else:
        assert periods is None or all(p["days"] and p["from"] != p["to"] for p in periods)


def test_day_ranges_wrap_over_the_weekend():
    assert parse_schedule("fri-mon 10:00-02:00") == [{"days": ["mon", "fri", "sat", "sun"], "from": "10:00",
                                                      "to": "02:00"}]
    assert parse_schedule("daily 06:00-23:00")[0]["days"] == list(DAYS)
    assert parse_schedule("OFF") is None


# ---- config validate ----

def test_config_validate_lists_every_problem_with_its_path_and_hint(short_dir, terminals):
    bad = os.path.join(short_dir, "bad.json")
    with open(bad, "w", encoding="utf-8") as handle:
        json.dump(DOCS_EXAMPLE_WITH_FIVE_PROBLEMS, handle)
    term = terminals("config", "validate", bad, cwd=short_dir)
    assert term.wait() == 1
    assert "configuration has 5 problems" in term.text
    for path in ("$.buses.rs485a.baud", "$.detectors.hood1.hihg_alarm_pct_lel", "$.detectors.hood2.high_alarm_pct_lel",
                 "$.detectors.hood2.bus", "$.valve.feedback"):
        assert path in term.text
    assert 'did you mean "high_alarm_pct_lel"?' in term.text
    term = terminals("--json", "config", "validate", bad, cwd=short_dir)
    assert term.wait() == 1
    result = last_json(term.text)
    assert not result["ok"] and len(result["problems"]) == 5 and all(p["hint"] for p in result["problems"])


# ---- config push, on the bench's running controller ----

class Supervisor:
    """Restart=always for the bench's controller: a run that ends is started again, as systemd would."""

    def __init__(self, kitchen: Kitchen):
        self.kitchen = kitchen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            if not self.kitchen.controller.running:
                self.kitchen.controller.restart()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)


def test_config_push_installs_atomically_and_the_unit_restarts_latched_counting_the_version_up(kitchen, short_dir,
                                                                                              terminals):
    kitchen.arm()
    record = scanned_record(os.path.join(short_dir, "record.json"), "/dev/ttyUSB1")
    new = os.path.join(short_dir, "new.json")
    term = terminals("--record", record.path, "config", "init", "--out", new, "--base", kitchen.config_path,
                     "--port", kitchen.document["buses"]["bus1"]["port"], "--schedule", "off", cwd=short_dir)
    assert term.wait() == 0
    with open(kitchen.config_path, "rb") as handle:
        old = handle.read()
    supervisor = Supervisor(kitchen)
    try:
        term = terminals("--record", record.path, "config", "push", new, "--target", kitchen.config_path,
                         "--restart-command", "kill -TERM %d" % kitchen.controller.pid, cwd=short_dir)
        term.expect("Install %s as %s" % (new, kitchen.config_path))
        term.type("y")
        assert term.wait() == 0
        assert "the valve stays closed until someone presses RESET" in term.text
    finally:
        supervisor.close()
    assert kitchen.controller.runs == 2
    with open(new, "rb") as handle:
        source = json.load(handle)
    with open(kitchen.config_path, "rb") as handle:
        pushed = handle.read()
    assert json.loads(pushed) == dict(source, config_version=1), "the file as given, its version counted up"
    with open(kitchen.config_path + ".previous", "rb") as handle:
        assert handle.read() == old
    assert stat.S_IMODE(os.stat(kitchen.config_path).st_mode) == 0o640
    assert not [name for name in os.listdir(short_dir) if name.endswith(".tmp")]
    status = kitchen.status()
    assert status["latched"] and status["trip_reason"].startswith("power on")
    assert sorted(status["detectors"]) == ["hood1", "hood2"]
    wait_until(lambda: all(d["state"] == "normal" for d in kitchen.status()["detectors"].values()), 10, 0.05,
               "the pushed configuration's detectors read normal")
    wait_until(lambda: kitchen.io.valve.position == 0.0, 5, 0.02, "the valve closed after the restart")
    data = Record.load(record.path).data
    assert data["config"]["sha256"] == hashlib.sha256(pushed).hexdigest()
    assert data["config"]["path"] == os.path.abspath(kitchen.config_path) and data["config"]["latched_after_restart"]
    identity = data["config"]["identity"]
    assert status["config"] == {"identity": identity, "short": identity[:12], "version": 1}
    assert data["config"]["version"] == data["config"]["unit_version"] == 1
    assert data["config"]["unit_identity"] == identity

    # Every push counts the version up, the same content keeps its identity.
    for version in (2, 3):
        supervisor = Supervisor(kitchen)
        try:
            term = terminals("--json", "--record", record.path, "config", "push", new, "--target",
                             kitchen.config_path, "--restart-command", "kill -TERM %d" % kitchen.controller.pid,
                             "--yes", cwd=short_dir)
            assert term.wait() == 0, term.text
        finally:
            supervisor.close()
        assert (last_json(term.text)["identity"], last_json(term.text)["version"]) == (identity, version)
        assert kitchen.status()["config"]["version"] == version


def test_config_push_refuses_an_invalid_file_and_touches_nothing(short_dir, terminals):
    bad = os.path.join(short_dir, "bad.json")
    with open(bad, "w", encoding="utf-8") as handle:
        json.dump(DOCS_EXAMPLE_WITH_FIVE_PROBLEMS, handle)
    target = os.path.join(short_dir, "config.json")
    with open(target, "w", encoding="utf-8") as handle:
        handle.write("{}\n")
    marker = os.path.join(short_dir, "restarted")
    term = terminals("--record", os.path.join(short_dir, "r.json"), "config", "push", bad, "--target", target,
                     "--restart-command", "touch %s" % marker, "--yes", cwd=short_dir)
    assert term.wait() == 1
    assert "nothing was installed" in term.text and "configuration has 5 problems" in term.text
    with open(target, encoding="utf-8") as handle:
        assert handle.read() == "{}\n"
    assert not os.path.exists(marker) and not os.path.exists(target + ".previous")
