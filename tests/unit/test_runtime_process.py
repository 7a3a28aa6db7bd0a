"""The real `gaslatch run` process against a pty detector bus and the sim GPIO directory.

What an installer would check on the bench: a leak closes the valve line, a reset is refused
while gas is present and accepted after it cleared, and a power cut (SIGKILL) leaves the gas off
with the event store intact and numbering continuing.
"""

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.running_unit import RunningUnit
from gaslatch_tools.testing.waiting import wait_until


@pytest.fixture
def kitchen(tmp_path):
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    unit.set_input("reset_button", False)
    yield unit, bus
    unit.close()
    bus.close()


def test_valve_stays_closed_at_start_then_a_leak_closes_it_again_after_a_reset(kitchen):
    unit, bus = kitchen
    unit.start()
    assert unit.line("valve") == "0", "valve closed until the local reset"
    unit.wait_detectors_normal()
    assert "type=reset " in unit.press_reset()
    wait_until(lambda: unit.line("valve") == "1", 10, what="valve line energised after the reset")
    bus.set_gas(1, 30)
    wait_until(lambda: unit.line("valve") == "0", 5, what="valve line de-energised by the leak")
    assert unit.line("sounder") == "1" and unit.line("fan") == "1"
    refused = unit.request("reset")[0]
    assert not refused["ok"] and "d1: high alarm" in refused["error"]


def test_reset_over_the_socket_needs_the_button_on_site(kitchen):
    unit, bus = kitchen
    unit.start()
    unit.wait_detectors_normal()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(15)
        sock.connect(unit.socket_path)
        sock.sendall(b'{"id": 7, "cmd": "reset", "args": {}}\n')
        reader = sock.makefile("r")
        first = json.loads(reader.readline())
        assert first["state"] == "waiting_for_button" and first["window_s"] == 60
        assert unit.line("valve") == "0", "asking over the socket alone opens nothing"
        unit.press_reset()
        second = json.loads(reader.readline())
    assert second["state"] == "accepted"
    wait_until(lambda: unit.line("valve") == "1", 10, what="valve open after the button")


def test_power_cut_keeps_the_gas_off_and_the_record_continues(kitchen):
    unit, bus = kitchen
    unit.start()
    unit.wait_detectors_normal()
    unit.press_reset()
    wait_until(lambda: unit.line("valve") == "1", 10, what="valve open")
    bus.set_gas(1, 30)
    wait_until(lambda: unit.line("valve") == "0", 5, what="trip")
    bus.set_gas(1, 0)
    wait_until(lambda: unit.request("status")[0]["status"]["detectors"]["d1"]["state"] == "normal", 25,
               what="gas cleared")
    unit.press_reset()
    wait_until(lambda: unit.line("valve") == "1", 10, what="valve open again")
    unit.stop(signal.SIGKILL)  # the power cut
    with sqlite3.connect(unit.store_path) as db:
        seqs_before = [row[0] for row in db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs_before == list(range(1, len(seqs_before) + 1))
    assert unit.line("valve") == "1", "(a real valve would close with the power; the file keeps the last level)"
    unit.start()
    assert unit.line("valve") == "0", "after a restart the gas stays off until the local reset"
    unit.stop()
    with sqlite3.connect(unit.store_path) as db:
        rows = list(db.execute("SELECT seq, type FROM events ORDER BY seq"))
    seqs = [seq for seq, _ in rows]
    assert seqs[:len(seqs_before)] == seqs_before, "nothing recorded is lost"
    assert seqs == list(range(1, len(seqs) + 1)), "numbering continues across the restart"
    types_after = [t for seq, t in rows if seq > seqs_before[-1]]
    assert types_after[0] in ("bus", "startup") and "startup" in types_after[:3] and types_after[-1] == "shutdown"


def test_a_restart_or_a_power_cut_repeats_no_reminder_and_forgets_no_daily_check(kitchen):
    """The reminders and the day's check are read back from the store at start: after a power cut and a clean
    restart the store holds each reminder's stage once and the one confirmation, and status still says done."""
    unit, _ = kitchen
    unit.edit_config(lambda doc: (doc["detectors"]["d1"].update(installed="2020-01-15"),
                                  doc["valve"].update(installed="2016-01-01") if "valve" in doc
                                  else doc.update(valve={"installed": "2016-01-01"}),
                                  doc.update(daily_check={"enabled": True, "due_by": "23:59"})))
    unit.start()
    wait_until(lambda: len(unit.events("maintenance_due")) == 3, 10, what="three reminders")
    assert unit.request("daily_check", {"items": ["stove", "hose", "valve", "detector_lamps"]})[0]["ok"]
    wait_until(lambda: unit.request("status")[0]["status"]["store"]["recorded_seq"] >= seq_of(unit.events(
        "daily_check")), 5, what="the daily check committed to the store")  # the power cut comes after
    unit.stop(signal.SIGKILL)
    unit.start()
    unit.stop()
    unit.start()
    status = unit.request("status")[0]["status"]
    assert status["daily_check"]["today"] == "done"
    assert status["daily_check"]["done_by"] != ""  # who confirmed it is read back too (attack16)
    unit.stop()
    with sqlite3.connect(unit.store_path) as db:
        rows = list(db.execute("SELECT type, source, state FROM events WHERE type IN ('maintenance_due', "
                               "'daily_check') ORDER BY seq"))
    assert sorted(rows[:3]) == [("maintenance_due", "d1:calibration", "due"), ("maintenance_due", "d1:end_of_life", "due"),
                                ("maintenance_due", "valve:end_of_life", "due")]
    assert len(rows) == 4 and rows[3][0] == "daily_check" and rows[3][2] == "done", rows


def seq_of(journal_lines: list[str]) -> int:
    """The seq of the last event line in the journal (1e9 when there is none)."""
    return int(journal_lines[-1].split(" seq=")[1].split()[0]) if journal_lines else 10 ** 9


def test_invalid_config_is_refused_with_every_problem_and_no_traceback(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"unit": {"site": "s", "name": "u"}, "detectors": {
        "d1": {"kind": "modbus", "bus": "nobus", "address": 1, "profile": "cn-generic", "hihg_alarm_pct_lel": 20}}}))
    proc = subprocess.run([sys.executable, "-m", "gaslatch.unit", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "$.detectors.d1.hihg_alarm_pct_lel" in proc.stderr and "high_alarm_pct_lel" in proc.stderr
    assert "$.detectors.d1.bus" in proc.stderr


def test_check_config_reports_unwired_lines(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"unit": {"site": "s", "name": "u"}, "interlocks": {"fire_input": True},
                                "detectors": {"c1": {"kind": "contact", "line": "det_alarm"}}}))
    proc = subprocess.run([sys.executable, "-m", "gaslatch.unit", "check-config", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    for line in ("valve", "reset_button", "fire_input", "det_alarm"):
        assert "line %s is not wired" % line in proc.stderr


def test_a_broken_event_store_does_not_stop_the_safety_loop(tmp_path):
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    doc = json.loads(unit.config_path.read_text())
    (tmp_path / "events.db").write_bytes(b"this is not a database" * 100)
    unit.config_path.write_text(json.dumps(doc))
    unit.set_input("reset_button", False)
    try:
        unit.start()
        # The journal is written by the unit's log thread: READY=1 does not mean the line is in the file yet.
        wait_until(lambda: any("event store unavailable" in line for line in unit.lines), 10,
                   what="the journal to say the store is unavailable")
        status = unit.request("status")[0]["status"]
        assert status["store"]["ok"] is False
        wait_until(lambda: unit.request("status")[0]["status"]["detectors"]["d2"]["state"] == "normal", 10,
                   what="detectors normal")
        unit.press_reset()
        bus.set_gas(1, 30)
        wait_until(lambda: unit.line("valve") == "0", 5, what="the leak still closes the valve")
    finally:
        unit.close()
        bus.close()


TIMEOUT_STOP_S = 10  # deploy/gaslatch.service TimeoutStopSec


def test_a_stop_with_a_failing_store_ends_inside_timeout_stop_sec(tmp_path):
    stop_with_the_store_locked(tmp_path)


def stop_with_the_store_locked(tmp_path, broker=None):
    """Start a unit (reporting to `broker` if given), lock its store so every commit fails, SIGTERM it: the
    stop must end inside TimeoutStopSec with the outputs safe."""
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    if broker is not None:
        unit.enable_uplink(broker, b"unit-1 test key, not a real secret")
    unit.set_input("reset_button", False)
    blocker = None
    try:
        unit.start()
        unit.wait_detectors_normal()
        blocker = sqlite3.connect(unit.store_path, isolation_level=None, timeout=10)
        blocker.execute("BEGIN IMMEDIATE")  # every commit of the unit now fails and is retried
        bus.set_gas(1, 30)
        wait_until(lambda: unit.request("status")[0]["status"]["store"]["pending"] > 0, 10,
                   what="events waiting for the locked store")
        started = time.monotonic()
        unit.proc.send_signal(signal.SIGTERM)
        unit.proc.wait(TIMEOUT_STOP_S + 5)
        took_s = time.monotonic() - started
        # The contract is systemd's: it kills at TimeoutStopSec. The unit's own budget (runtime.STOP_BUDGET_S, 7 s)
        # leaves the rest for the signal, the journal's close and the exit, which a loaded machine stretches.
        assert took_s < TIMEOUT_STOP_S, "stop took %.1f s with the store failing" % took_s
        assert any("stopped: signal SIGTERM" in line for line in unit.lines)
        assert unit.line("valve") == "0"
    finally:
        if blocker is not None:
            blocker.close()
        unit.close()
        bus.close()


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe garbage", b'{"unit": {"site": "s", "name": "u"}, "detectors": {}}'])
def test_truncated_or_garbage_config_is_refused_cleanly(tmp_path, content):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "gaslatch.unit", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "will not start" in proc.stderr


def test_missing_serial_port_is_a_comm_fault_with_the_os_error_not_a_crash(tmp_path):
    unit = RunningUnit(tmp_path, str(tmp_path / "no-such-adapter"))
    unit.set_input("reset_button", False)
    try:
        unit.start()
        lost = wait_until(lambda: unit.events("bus"), 5, what="bus event")
        assert "state=lost" in lost[0] and "No such file or directory" in lost[0]
        wait_until(lambda: [line for line in unit.events("detector") if "state=comm_lost" in line], 15,
                   what="detectors comm lost")
        assert unit.proc.poll() is None
        assert unit.line("valve") == "0" and unit.line("fault_relay") == "0"
    finally:
        unit.close()


def test_a_second_controller_on_the_same_unit_is_refused_and_changes_no_output(kitchen):
    unit, bus = kitchen
    unit.start()
    unit.wait_detectors_normal()
    unit.press_reset()
    wait_until(lambda: unit.line("valve") == "1", 10, what="valve open")
    second = subprocess.run([sys.executable, "-m", "gaslatch.unit", "run", "--config", str(unit.config_path)],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 1 and "another gaslatch run already controls this unit" in second.stderr
    assert unit.line("valve") == "1" and unit.proc.poll() is None


def test_output_tests_are_recorded_and_the_valve_test_only_closes(kitchen):
    unit, bus = kitchen
    unit.start()
    unit.wait_detectors_normal()
    unit.press_reset()
    wait_until(lambda: unit.line("valve") == "1", 10, what="valve open")
    assert unit.request("test_output", {"line": "sounder", "ms": 300})[0]["ok"]
    wait_until(lambda: [line for line in unit.events("command") if "state=test_output" in line], 3,
               what="the output test recorded")
    assert unit.request("test_output", {"line": "valve", "ms": 300})[0]["ok"]
    wait_until(lambda: unit.line("valve") == "0", 10, what="the valve test closes the valve")
    wait_until(lambda: unit.line("sounder") == "0", 10, what="the sounder test ends by itself")
    assert unit.line("valve") == "0", "the valve stays closed until the local reset"


def test_a_stop_leaves_every_output_de_energised_with_no_sounder_blip(kitchen):
    """systemd restarts the unit now and then: the valve closed and the fault relay dropped, like a power
    cut, but no sounder or beacon blip on the way out. The lines are watched for the whole stop."""
    unit, bus = kitchen
    unit.start()
    unit.wait_detectors_normal()
    unit.press_reset()
    wait_until(lambda: unit.line("valve") == "1" and unit.line("fault_relay") == "1", 10, what="valve open, healthy")
    seen = {"sounder": set(), "beacon": set(), "fan": set()}
    stopped = threading.Event()

    def watch():
        while not stopped.is_set():
            for name, levels in seen.items():
                levels.add(unit.line(name))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    unit.stop(signal.SIGTERM)
    stopped.set()
    watcher.join(5)
    assert unit.proc.returncode == 0
    assert [unit.line(name) for name in ("valve", "fault_relay", "fan", "sounder", "beacon")] == ["0"] * 5
    assert seen == {"sounder": {"0"}, "beacon": {"0"}, "fan": {"0"}}, "an output blipped on during the stop"
    assert "outputs safe, valve closed" in unit.events("shutdown")[-1]


def test_junk_and_idle_clients_on_the_control_socket_record_nothing_and_lock_no_one_out(kitchen):
    unit, _bus = kitchen
    unit.start()
    unit.wait_detectors_normal()
    recorded = unit.request("status")[0]["status"]["store"]["recorded_seq"]
    idle = []
    try:
        for _ in range(10):  # more than MAX_CLIENTS, holding their slots and saying nothing
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(unit.socket_path)
            idle.append(sock)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as junk:
            junk.settimeout(5)
            junk.connect(unit.socket_path)
            junk.sendall(b"".join(b"junk %d\n" % i for i in range(3000)))
            replies = b""
            while replies.count(b"\n") < 3000:
                chunk = junk.recv(65536)
                assert chunk, "the control socket hung up on a junk sender"
                replies += chunk
        assert all(b'"ok":false' in line for line in replies.splitlines())
        status = unit.request("status", timeout_s=2)[0]
        assert status["ok"] is True
        assert status["status"]["store"]["recorded_seq"] == recorded, "junk on the socket was recorded"
    finally:
        for sock in idle:
            sock.close()
