"""The MicroPython gate: the reference kitchen scenario gives the same event trace, byte for byte,
under CPython and under the real MicroPython 1.27, so the core behaves identically on a board.

The scenario is host_tools/gaslatch_tools/kitchen_sim.py, uploaded unchanged into MicroPython's /lib.
"""

import json
from pathlib import Path

import pytest

from gaslatch_tools import kitchen_sim
from gaslatch_tools.micropython_runner import run_micropython

GATE_SCRIPT = (
    "import sys\n"
    "from gaslatch_tools.kitchen_sim import encoded_trace, run_reference_scenario\n"
    "print('%s %d.%d' % ((sys.implementation.name,) + tuple(sys.implementation.version[:2])))\n"
    "sim = run_reference_scenario()\n"
    "print(encoded_trace(sim.events))\n"
    "print('\\n'.join(sim.replies), end='')\n"
)
EXPECTED_INTERPRETER = "micropython 1.27"
ALARM_STATES = ("low_alarm", "high_alarm")


def kitchen_sim_files() -> dict[str, str]:
    """kitchen_sim.py and an empty package marker, keyed by their path in MicroPython's filesystem."""
    source = Path(kitchen_sim.__file__).read_text(encoding="utf-8")
    return {"/lib/gaslatch_tools/__init__.py": "", "/lib/gaslatch_tools/kitchen_sim.py": source}


def first_difference(expected: str, actual: str) -> str:
    """Where two traces first part, written for the person who has to find the cause."""
    expected_lines = expected.split("\n")
    actual_lines = actual.split("\n")
    for index in range(max(len(expected_lines), len(actual_lines))):
        want = expected_lines[index] if index < len(expected_lines) else "<no line: CPython trace ended>"
        got = actual_lines[index] if index < len(actual_lines) else "<no line: MicroPython trace ended>"
        if want != got:
            return "traces differ first at line %d of %d (CPython) / %d (MicroPython):\n" \
                "  CPython:     %s\n  MicroPython: %s" % (index + 1, len(expected_lines), len(actual_lines), want, got)
    return "traces are identical"


@pytest.fixture(scope="module")
def cpython_sim() -> kitchen_sim.KitchenSim:
    return kitchen_sim.run_reference_scenario()


@pytest.fixture(scope="module")
def cpython_trace(cpython_sim) -> str:
    return kitchen_sim.encoded_trace(cpython_sim.events)


@pytest.fixture(scope="module")
def records(cpython_trace) -> list[dict]:
    return [json.loads(line) for line in cpython_trace.split("\n")]


def test_reference_trace_is_identical_byte_for_byte_on_micropython_and_cpython(cpython_sim, cpython_trace):
    """The event trace, then one line per command reply and settled reset: the command table, the reset
    window and the output tests run in the core, so MicroPython must answer them the same way."""
    out = run_micropython(GATE_SCRIPT, extra_files=kitchen_sim_files())
    interpreter, _, micropython_trace = out.partition("\n")
    cpython_trace = cpython_trace + "\n" + "\n".join(cpython_sim.replies)

    assert interpreter == EXPECTED_INTERPRETER
    if micropython_trace != cpython_trace:
        pytest.fail(first_difference(cpython_trace, micropython_trace))
    assert micropython_trace.encode("utf-8") == cpython_trace.encode("utf-8")


def test_first_difference_names_the_line_and_both_versions():
    message = first_difference("a\nb\nc", "a\nB")

    assert "line 2 of 3 (CPython) / 2 (MicroPython)" in message
    assert "CPython:     b" in message
    assert "MicroPython: B" in message
    assert "trace ended" in first_difference("a\nb", "a")
    assert first_difference("a\nb", "a\nb") == "traces are identical"


def test_reference_trace_is_numbered_without_gaps(records):
    assert [record["seq"] for record in records] == list(range(1, len(records) + 1))


def test_reference_trace_has_a_trip_caused_by_gas(records):
    gas_trips = [r for r in records if r["type"] == "trip" and r["reason"].startswith("gas: d1")]

    assert gas_trips, "no trip with a 'gas: d1 ...' reason in the reference trace"


def test_reference_trace_has_a_reset_refused_while_gas_is_present(records):
    d1_state = None
    refused_in_alarm = []
    for record in records:
        if record["type"] == "detector" and record["source"] == "d1":
            d1_state = record["state"]
        elif record["type"] == "reset_refused" and d1_state in ALARM_STATES:
            refused_in_alarm.append(record)

    assert refused_in_alarm, "no reset_refused while d1 was in alarm"
    assert any("d1: high alarm" in r["reason"] or "d1: low alarm" in r["reason"] for r in refused_in_alarm)


def test_reference_trace_has_a_reset_accepted_after_the_gas_trip(records):
    gas_trip_seq = min(r["seq"] for r in records if r["type"] == "trip" and r["reason"].startswith("gas:"))
    accepted = [r for r in records if r["type"] == "reset" and r["state"] == "armed" and r["seq"] > gas_trip_seq]

    assert accepted, "no accepted reset after the gas trip"
    assert accepted[0]["reason"].startswith("local reset accepted")


def test_reference_trace_has_a_detector_that_lost_communication(records):
    comm_lost = [r for r in records if r["type"] == "detector" and r["state"] == "comm_lost"]

    assert [r["source"] for r in comm_lost] == ["d2"]
    assert comm_lost[0]["severity"] == "fault"


def test_reference_commands_went_through_the_table(cpython_sim, records):
    assert cpython_sim.replies == [
        "13000 test_output ok sounder pulsed for 500 ms",
        "44000 reset ok waiting_for_button",
        "45000 inhibit refused inhibit: minutes expected a whole number, found 5.5 (arguments: detector, minutes)",
        "47000 reset settled 1 accepted",
        "127000 close_valve ok valve will close on the next scan",
        "128000 daily_check ok daily check recorded for 2026-12-07",
    ]
    assert any(r["type"] == "trip" and r["reason"].endswith("command: close valve from sim") for r in records)
    assert any(r["type"] == "command" and r["state"] == "test_output" and r["value"] == 500 for r in records)


def test_reference_trace_has_lifecycle_reminders_and_a_missed_then_late_daily_check(records):
    """The calendar code (civil_date, lifecycle, daily_check) runs the same on a board: the reminders of the
    first scan and the check missed at due_by, then confirmed."""
    assert [(r["source"], r["state"], r["value"]) for r in records if r["type"] == "maintenance_due"] == [
        ("d1:calibration", "soon", "2026-12-08"), ("valve:end_of_life", "due", "2026-12-07")]
    assert [(r["state"], r["t_ms"]) for r in records if r["type"] == "daily_check"] == [
        ("missed", 60000), ("done", 128000)]


def test_reference_trace_has_a_trip_for_the_schedule(records):
    schedule_trips = [r for r in records if r["type"] == "trip" and r["reason"].startswith("schedule:")]

    assert schedule_trips, "no trip with a 'schedule: ...' reason in the reference trace"
    assert any(r["type"] == "schedule" and r["state"] == "unattended" and r["seq"] < schedule_trips[0]["seq"]
               for r in records)


AIRFLOW_SCRIPT = (
    "from gaslatch.core.airflow import Airflow\n"
    "fan = {'proving_grace_s': 5, 'loss_confirm_s': 3, 'rundown_s': 20}\n"
    "a = Airflow(fan, True)\n"
    "steps = [(0, True, False), (19900, True, False), (20000, True, False), (20100, False, False),\n"
    "         (20200, True, False), (21000, False, False), (22000, True, False), (23000, False, False),\n"
    "         (26000, False, False), (27000, True, False), (28000, None, True)]\n"
    "for t, made, needed in steps:\n"
    "    a.step(t, made, needed)\n"
    "    print(t, a.state, a.interlock_active, a.holds_fan_off, a.blocker())\n"
)


def test_the_airflow_proving_runs_the_same_on_micropython():
    """The no-air check, the bridged switch, start-up proving, a short loss and a confirmed one."""
    import subprocess
    import sys

    cpython = subprocess.run([sys.executable, "-c", AIRFLOW_SCRIPT], capture_output=True, text=True, check=True,
                             env={"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "firmware")}).stdout
    micropython = run_micropython(AIRFLOW_SCRIPT)
    assert micropython == cpython
    states = [line.split()[1] for line in cpython.splitlines()]
    assert states == ["checking", "checking", "bridged", "starting", "proven", "losing", "proven", "losing",
                      "failed", "proven", "losing"]


PROVING_SCRIPT = (
    "from gaslatch.core.config import load_config\n"
    "from gaslatch.core.controller import Controller\n"
    "from gaslatch.core.detector_profile import load_profile\n"
    "from gaslatch.core import events as E\n"
    "profile = load_profile('contact-dry')\n"
    "doc = {'unit': {'site': 's', 'name': 'u'}, 'detectors': {'d1': {'kind': 'contact', 'line': 'gas1'}},\n"
    "       'valve': {'travel_s': 2}, 'proving': {'mode': 'switch', 'check_s': 3, 'fill_s': 2, 'watch_s': 5}}\n"
    "c = Controller(load_config(doc, {'contact-dry': profile.kind}), {'contact-dry': profile}, 0)\n"
    "pressure, leak, closed_at = False, False, None\n"
    "inputs = {'gas1': False, 'reset_button': False, 'gas_pressure': False}\n"
    "presses = (12000, 45000, 75000)\n"
    "for t in range(0, 110000, 100):\n"
    "    inputs['reset_button'] = t in presses\n"
    "    inputs['gas1'] = 30000 <= t < 31000\n"
    "    leak = t >= 60000\n"
    "    inputs['gas_pressure'] = pressure\n"
    "    r = c.step(t, None, inputs)\n"
    "    if r.outputs['valve']:\n"
    "        pressure, closed_at = True, None\n"
    "    else:\n"
    "        closed_at = t if closed_at is None else closed_at\n"
    "        if (leak and t - closed_at >= 2000) or t - closed_at >= 20000:\n"
    "            pressure = False\n"
    "    for e in r.events:\n"
    "        if e['type'] in ('reset', 'proving', 'trip'):\n"
    "            print(E.encode(e))\n"
)


def test_the_pressure_proving_runs_the_same_on_micropython():
    """A proving that passes, a gas trip, a reset refused while the trapped gas is still in the pipe (check), and a
    leak found in the watch: the same records, byte for byte."""
    import subprocess
    import sys

    cpython = subprocess.run([sys.executable, "-c", PROVING_SCRIPT], capture_output=True, text=True, check=True,
                             env={"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "firmware")}).stdout
    micropython = run_micropython(PROVING_SCRIPT)
    assert micropython == cpython, first_difference(cpython, micropython)
    records = [json.loads(line) for line in cpython.splitlines()]
    states = [(r["type"], r["state"]) for r in records]
    assert states[:3] == [("reset", "proving"), ("proving", "started"), ("proving", "passed")]
    assert ("trip", "latched") in states
    failures = [r["reason"] for r in records if r["type"] == "proving" and r["state"] == "failed"]
    assert len(failures) == 2 and "check phase" in failures[0] and "watch phase" in failures[1], failures
def test_reference_trace_has_co2_rising_through_its_warning_and_isolation_levels(records):
    c1 = [r for r in records if r["type"] == "detector" and r["source"] == "c1"]
    trips = [r for r in records if r["type"] == "trip" and "co2: c1" in r["reason"]]

    assert [r["state"] for r in c1 if r["state"] in ALARM_STATES] == ["low_alarm", "high_alarm"]
    assert all(r["value"] is None and "%LEL" not in r["reason"] for r in c1)
    assert "ppm" in [r for r in c1 if r["state"] == "high_alarm"][0]["reason"]
    assert trips and trips[0]["reason"] == "co2: c1 at the CO2 isolation level (IGEM/UP/19)"


PROBLEMS_SCRIPT = (
    "from gaslatch.core.config import validate, format_problems\n"
    "doc = {'unit': {'site': 's', 'name': 'u'}, 'scan': {'period_ms': '100'}, 'valv': {},\n"
    "       'buses': {'rs': {'port': '/dev/ttyUSB0'}},\n"
    "       'detectors': {'d1': {'kind': 'modbus', 'bus': 'rs', 'address': 1, 'profile': 'p',\n"
    "                            'low_alarm_pct_lel': 20, 'high_alarm_pct_lel': 15, 'measurand': [1]},\n"
    "                     'd2': {'kind': 'modbus', 'bus': 'rs', 'address': 1, 'profile': 'p'}}}\n"
    "problems = validate(doc, {'p': 'modbus'})\n"
    "print(format_problems(problems))\n"
    "other = {'unknown key %(key)s': 'UNKNOWN %(key)s', 'did you mean %(guess)s?': 'MEANT %(guess)s?',\n"
    "         'expected %(expected)s, found %(found)s': 'WANT %(expected)s GOT %(found)s', 'a whole number': 'INT'}\n"
    "for p in problems:\n"
    "    print(p.message_text.render(lambda t: other.get(t, t)), '|', p.hint_text.render(lambda t: other.get(t, t)))\n"
)


def test_a_configs_problems_are_the_same_templates_and_sentences_on_micropython():
    """The core keeps each problem as an English template and its values (core/text.py): MicroPython fills them
    in (named placeholders) exactly as CPython does, in English and through another language's lookup."""
    import subprocess
    import sys

    cpython = subprocess.run([sys.executable, "-c", PROBLEMS_SCRIPT], capture_output=True, text=True, check=True,
                             env={"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "firmware")}).stdout
    micropython = run_micropython(PROBLEMS_SCRIPT)
    assert micropython == cpython
    assert 'configuration has 4 problems; the controller will not start:' in cpython
    assert 'UNKNOWN "valv" | MEANT "valve"?' in cpython
    assert 'WANT INT GOT text "100"' in cpython
