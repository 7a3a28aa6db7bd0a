"""What `gaslatch status --json` prints matches docs/unit-status.schema.json.

The documents come from a real `gaslatch run` on a pty detector bus with its uplink on a real broker: at
start, armed with a detector inhibited, during a leak with the sounder silenced, and with a detector silent.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from gaslatch.core import constants as C
from gaslatch.core import daily_check as DC
from gaslatch.core import lifecycle as LC
from gaslatch.core import detector_state as D
from gaslatch.core import safety as S
from gaslatch.core import schedule as SCH
from gaslatch.core.config_schema import NAME_PATTERN
from tests.unit.test_runtime_process import kitchen  # noqa: F401,F811 -- the fixture: a unit, its pty detector bus
from gaslatch_tools.testing.waiting import wait_until

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "unit-status.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
DEFS = SCHEMA["$defs"]
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
PHASE_TIMEOUT_S = 20  # a silent detector needs 8 failed polls of its last 16 (about 9 s) for a degraded link

# Each breaks one promise of the schema: (where the schema must refuse it, how).
BROKEN = {
    "an answer without the status": ("$", lambda reply: reply.pop("status")),
    "reset_blockers missing": ("$.status", lambda reply: reply["status"].pop("reset_blockers")),
    "a detector state no one knows": (
        "$.status.detectors.d1.state", lambda reply: reply["status"]["detectors"]["d1"].update(state="gas")),
    "a detector without its link figures": (
        "$.status.detectors.d2", lambda reply: reply["status"]["detectors"]["d2"].pop("link")),
    "a distrust no one knows": (
        "$.status.detectors.d1.distrust", lambda reply: reply["status"]["detectors"]["d1"].update(distrust="flaky")),
    "a field no one documented": ("$.status", lambda reply: reply["status"].update(valve_open=True)),
    "a store without its seq": ("$.status.store", lambda reply: reply["status"]["store"].pop("recorded_seq")),
}


def assert_valid(document: dict, what: str) -> None:
    error = best_match(VALIDATOR.iter_errors(document))
    assert error is None, "%s breaks %s at %s: %s" % (what, SCHEMA_PATH.name, error.json_path, error.message)


def status_when(unit, ready, what: str) -> dict:
    """The unit's whole reply to status, once ready(its status) holds."""
    def reply():
        answer = unit.request("status")[0]
        return answer if ready(answer["status"]) else None
    return wait_until(reply, PHASE_TIMEOUT_S, what=what)


def undescribed(node, path: str = "#") -> list[str]:
    """Every property that tells the reader nothing, by itself or through its $ref."""
    missing = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            missing += undescribed(item, "%s/%d" % (path, index))
    if not isinstance(node, dict):
        return missing
    for name, prop in node.get("properties", {}).items():
        target = DEFS[prop["$ref"].rsplit("/", 1)[1]] if "$ref" in prop and "description" not in prop else prop
        if "description" not in target:
            missing.append("%s/properties/%s" % (path, name))
    for key, sub in node.items():
        if key != "if":  # a condition, not a field
            missing += undescribed(sub, "%s/%s" % (path, key))
    return missing


def test_the_schema_is_draft_2020_12_names_what_the_core_uses_and_describes_every_field():
    Draft202012Validator.check_schema(SCHEMA)
    status, detector = DEFS["status"]["properties"], DEFS["detector"]["properties"]

    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["title"] and SCHEMA["description"]
    assert undescribed(SCHEMA) == []
    assert detector["state"]["enum"] == list(D.STATES)
    assert detector["distrust"]["enum"] == ["", D.UNSTABLE, D.LINK_DEGRADED]
    assert detector["device_status"]["enum"] == list(C.STATUSES) + [None]
    link = detector["link"]["properties"]
    assert link["polls"]["maximum"] == link["failed"]["maximum"] == C.LINK_WINDOW_POLLS
    assert sorted(status["outputs"]["properties"]) == sorted(S.OUTPUTS)
    assert sorted(status["interlocks"]["required"]) == sorted(
        [S.INTERLOCK_ESTOP, S.INTERLOCK_FIRE, S.INTERLOCK_VENTILATION])
    assert status["schedule"]["enum"] == [SCH.ATTENDED, SCH.UNATTENDED, SCH.CLOCK_UNKNOWN, None]
    assert DEFS["name"]["pattern"] == NAME_PATTERN
    reminder = status["maintenance"]["items"]["properties"]
    assert reminder["stage"]["enum"] == list(LC.STAGES) + [LC.UNKNOWN, None]
    assert reminder["task"]["enum"] == list(LC.TASKS)
    assert status["daily_check"]["properties"]["today"]["enum"] == [
        DC.OFF, DC.CLOCK_UNKNOWN, DC.DONE, DC.NOT_TODAY, DC.PENDING, DC.MISSED]


def test_every_status_a_running_unit_reports_matches_the_schema_through_the_socket_and_the_cli(kitchen, broker):
    unit, bus = kitchen
    doc = json.loads(unit.config_path.read_text())
    doc["uplink"] = {"enabled": True, "host": broker.host, "port": broker.port, "tls": False}
    unit.config_path.write_text(json.dumps(doc))
    unit.start()
    replies = {"at start": status_when(unit, lambda s: s["latched"], "the status at start")}
    unit.wait_detectors_normal()
    assert "type=reset " in unit.press_reset()
    assert unit.request("inhibit", {"detector": "d2", "minutes": 1})[0]["ok"]
    replies["armed, d2 inhibited"] = status_when(
        unit, lambda s: not s["latched"] and s["inhibits"] and s["uplink"]["connected"],
        "armed with d2 inhibited and the uplink connected")
    assert unit.request("end_inhibit", {"detector": "d2"})[0]["ok"]
    bus.set_gas(1, 30)  # 30 %LEL: a high alarm
    status_when(unit, lambda s: s["latched"] and s["outputs"]["sounder"], "the trip and the sounder")
    assert unit.request("silence")[0]["ok"]
    replies["leak, silenced"] = status_when(
        unit, lambda s: s["detectors"]["d1"]["state"] == D.HIGH_ALARM and s["silenced_s"] is not None,
        "d1 high alarm with the sounder silenced")
    cli = subprocess.run(
        [sys.executable, "-m", "gaslatch_tools.cli", "status", "--json", "--socket", unit.socket_path],
        capture_output=True, text=True, timeout=30)
    bus.inject(2, "no_reply")
    replies["d2 silent"] = status_when(
        unit, lambda s: (s["detectors"]["d2"]["state"] == D.COMM_LOST
                         and s["detectors"]["d2"]["distrust"] == D.LINK_DEGRADED),
        "d2 comm lost on a degraded link")

    for phase, reply in replies.items():
        assert_valid(reply, "the status %s" % phase)
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert_valid(printed, "gaslatch status --json during the leak")
    assert printed["status"]["detectors"]["d1"]["state"] == D.HIGH_ALARM


def test_a_unit_whose_event_store_cannot_be_opened_reports_a_status_the_schema_accepts(kitchen):
    unit, _ = kitchen
    Path(unit.store_path).write_bytes(b"not an event store")
    unit.start()
    reply = unit.request("status")[0]

    assert_valid(reply, "the status without an event store")
    assert reply["status"]["store"]["ok"] is False and "rows" not in reply["status"]["store"]


def test_the_schema_refuses_a_status_with_a_field_missing_or_unknown_or_an_unknown_detector_state(kitchen):
    unit, _ = kitchen
    unit.start()
    reply = unit.request("status")[0]
    assert_valid(reply, "the status at start")

    refused_at = {}
    for what, (_, breaks) in BROKEN.items():
        broken = copy.deepcopy(reply)
        breaks(broken)
        refused_at[what] = [error.json_path for error in VALIDATOR.iter_errors(broken)]
    assert refused_at == {what: [where] for what, (where, _) in BROKEN.items()}
