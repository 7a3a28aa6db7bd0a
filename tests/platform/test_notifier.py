"""The notifier against real channels on loopback: a mail server (aiosmtpd) and an HTTP sink standing in for an IM
robot and an SMS gateway, through Apprise; events stored by the receiver's own path (handle()).

Storage-dependent behaviour runs on SQLite and on a real PostgreSQL server (the kit's platform_db fixture); the
sinks are the kit's smtp_sink and http_sink.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core import uplink_wire as W
from gaslatch_tools import data_file
from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import notifier as N
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.cli import platform
from gaslatch_tools.platform.receiver import PlatformReceiver, open_storage
from gaslatch_tools.testing.platform_process import platform_process
from gaslatch_tools.testing.waiting import wait_until
from tests.platform.conftest import RULES  # the shipped rules, as the storage fixture hooks them

ROOT = Path(__file__).resolve().parents[2]
# The stepped tests jump the clock by hours with the unit saying nothing: a day's heartbeat keeps its unit_offline
# warning (tests/platform/test_unit_offline.py) out of the notices they count.
_doc = data_file.parse((ROOT / "deploy" / "platform" / "warning-rules.yaml").read_text(encoding="utf-8"))
STEPPED_RULES = R.build({**_doc, "heartbeat": {"silent_after_min": 24 * 60}})
SITE, UNIT = "noodle-bar-7", "kitchen-1"
STORE = "a1b2c3d4e5f60708"


def contacts_for(smtp, http) -> C.Contacts:
    return C.build(contacts_doc(smtp, http))


def contacts_doc(smtp, http) -> dict:
    """The owner by mail and robot, the officer by SMS gateway (form post), the duty centre by mail, the
    administrator by robot."""
    return {
        "version": 1,
        "people": {
            "li": {"name": "李店主", "channels": {"mail": smtp.url("li@example.org"), "robot": http.url("li-robot")}},
            "wang": {"name": "王安全员", "channels": {"sms": http.url("wang-sms", "form")}},
            "duty": {"name": "值班中心", "channels": {"mail": smtp.url("duty@example.org")}},
            "admin": {"name": "管理员", "channels": {"robot": http.url("admin-robot")}}},
        "districts": {"gulou": {"name": "鼓楼街道", "officers": ["wang"]}},
        "sites": {SITE: {"district": "gulou", "owners": ["li"]}},
        "duty_centre": ["duty"],
        "administrators": ["admin"]}


def event(seq, type_="trip", state="latched", severity="alarm", source="controller", reason="gas: hood1 high alarm",
          value=None):
    return {"id": "%s-%012d" % (STORE, seq), "seq": seq, "t_ms": 1000 * seq, "wall_ts": "2026-12-07T02:00:00.000Z",
            "clock_synced": True, "type": type_, "severity": severity, "source": source, "state": state,
            "value": value, "reason": reason}


@pytest.fixture
def receiver(storage):
    return PlatformReceiver(storage)


def receive(receiver, row, site=SITE, unit=UNIT) -> str:
    return receiver.handle(W.topics(site, unit)["event"], W.encode_event(row))


class Clock:
    """The notifier's injected clock: starts at the real time (the receiver stamps warnings with it), then
    moves only when a test sets it."""

    def __init__(self):
        self.t0 = self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = self.t0 + seconds


def stepped(storage, smtp_sink, http_sink, send=N.apprise_send) -> tuple[N.Notifier, Clock]:
    """A notifier the test steps itself, on a Clock."""
    clock = Clock()
    return N.Notifier(storage, STEPPED_RULES, contacts_for(smtp_sink, http_sink), instance="n1", clock=clock,
                      send=send), clock


def test_a_trip_reaches_the_owner_and_the_officer_by_mail_and_http_at_the_first_try(storage, receiver, smtp_sink,
                                                                                      http_sink):
    """How soon is benchmarks/notify_latency.py's to measure (docs/benchmarks.md), not a wall-clock test's."""
    notifier = N.Notifier(storage, RULES, contacts_for(smtp_sink, http_sink), instance="n1")
    notifier.start()
    try:
        assert receive(receiver, event(1)) == "stored"
        wait_until(lambda: len(smtp_sink.received()) == 1 and len(http_sink.received()) == 2, 10,
                   what="the first notices at both sinks")
    finally:
        notifier.stop()
    (mail,) = smtp_sink.received()
    assert mail.to == ("li@example.org",)
    assert "一级预警" in mail.subject and "%s/%s" % (SITE, UNIT) in mail.subject
    assert "gas: hood1 high alarm" in mail.body and "gaslatch platform ack 1" in mail.body
    assert sorted(p.path for p in http_sink.received()) == ["/li-robot", "/wang-sms"]
    (warning,) = WS.warnings(storage)
    attempts = WS.attempts(storage)
    assert [(a[1], a[6]) for a in attempts] == [(1, "sent")] * 3, "each first notice handed over at its first try"
    assert all(a[2] >= warning.opened_ms for a in attempts)


def test_renotification_and_escalation_follow_the_grade_until_acknowledged(storage, receiver, smtp_sink, http_sink):
    receive(receiver, event(1))
    notifier, clock = stepped(storage, smtp_sink, http_sink)

    def at(minutes):
        clock.at(60 * minutes)
        notifier.step()
        return sorted((n.round, n.person) for n in WS.notices(storage) if n.state == "sent")

    assert at(0) == [(1, "li"), (1, "li"), (1, "wang")]  # grade 1: owner (mail, robot) and officer at once
    assert at(4.9) == at(0)
    assert at(5) == [(1, "li"), (1, "li"), (1, "wang"), (2, "li"), (2, "li"), (2, "wang")]  # every 5 min
    assert (3, "duty") in at(10)  # 10 min unacknowledged: the duty centre
    assert not any(p == "admin" for _, p in at(29.9))
    assert any(p == "admin" for _, p in at(30))  # 30 min: the administrator
    sent = at(30)
    WS.acknowledge(storage, 1, "wang", "on site", int(clock() * 1000))
    assert at(60) == sent  # acknowledged: nothing more
    assert len(smtp_sink.received()) == sum(1 for n in WS.notices(storage) if n.channel == "mail")
    assert len(http_sink.received()) == sum(1 for n in WS.notices(storage) if n.channel != "mail")
    (warning,) = WS.warnings(storage)
    assert (warning.state, warning.acked_by, warning.ack_note) == ("acknowledged", "wang", "on site")


def test_a_reset_clears_the_trip_and_stops_its_notices(storage, receiver, smtp_sink, http_sink):
    receive(receiver, event(1))
    notifier, clock = stepped(storage, smtp_sink, http_sink)
    notifier.step()
    receive(receiver, event(2, "reset", "armed", "info", "button", "reset accepted"))
    clock.at(3600)
    notifier.step()
    assert [n.round for n in WS.notices(storage)] == [1, 1, 1]
    assert WS.warnings(storage)[0].state == "cleared"


def test_a_channel_down_for_a_while_loses_nothing_and_sends_each_notice_once(storage, receiver, smtp_sink,
                                                                             http_sink):
    receive(receiver, event(1))
    notifier, clock = stepped(storage, smtp_sink, http_sink)
    http_sink.down = True
    notifier.step()
    assert len(smtp_sink.received()) == 1 and http_sink.received() == [] and http_sink.refused >= 2
    for seconds in (4, 5, 15, 35):  # retried after 5 s, 10 s, 20 s...: refused while down
        clock.at(seconds)
        notifier.step()
    assert http_sink.received() == []
    http_sink.down = False
    clock.at(75)
    notifier.step()
    assert sorted(p.path for p in http_sink.received()) == ["/li-robot", "/wang-sms"]
    assert len(smtp_sink.received()) == 1
    assert {n.state for n in WS.notices(storage)} == {"sent"}
    failed = [a for a in WS.attempts(storage) if a[6] == "failed"]
    assert len(failed) == 2 * 4 and all("503" in a[7] or "error" in a[7].lower() for a in failed), failed


def test_an_acknowledgement_cancels_the_notices_a_channel_down_still_owes(storage, receiver, smtp_sink, http_sink):
    receive(receiver, event(1))
    notifier, clock = stepped(storage, smtp_sink, http_sink)
    http_sink.down = True
    notifier.step()
    WS.acknowledge(storage, 1, "li", "", int(clock() * 1000))
    http_sink.down = False
    clock.at(3600)
    notifier.step()
    assert http_sink.received() == []
    assert sorted(n.state for n in WS.notices(storage)) == ["cancelled", "cancelled", "sent"]


UNITS = 30


def test_two_notifiers_on_one_database_send_each_notice_exactly_once(platform_db, storage, receiver, smtp_sink,
                                                                      http_sink):
    contacts = contacts_for(smtp_sink, http_sink)
    other = open_storage(platform_db)
    # Which notifier claims first, and how much it sends before the other's thread runs, is the scheduler's: each
    # one's sends wait (at most 30 s) until the other has begun sending, so both must claim their share of the
    # backlog while the first still holds its claimed notices, not only when the machine happens to interleave them.
    began = [threading.Event(), threading.Event()]

    def sending_after_the_other(mine, other_one):
        def send(url, title, body):
            began[mine].set()
            began[other_one].wait(30)
            return N.apprise_send(url, title, body)
        return send

    notifiers = [N.Notifier(storage, RULES, contacts, instance="n1", poll_s=0.01, send=sending_after_the_other(0, 1)),
                 N.Notifier(other, RULES, contacts, instance="n2", poll_s=0.01, send=sending_after_the_other(1, 0))]
    for i in range(UNITS):  # a backlog both notifiers go for at once
        receive(receiver, event(1), unit="kitchen-%d" % i)
    try:
        for n in notifiers:
            n.start()
        wait_until(lambda: len(smtp_sink.received()) == UNITS and len(http_sink.received()) == 2 * UNITS, 60,
                   what="every first notice")
        # Once every notice is recorded sent, none can be claimed again; stop() then waits for any send still
        # under way, so a duplicate would be in the sinks and the counts before the assertions read them.
        wait_until(lambda: {n.state for n in WS.notices(storage)} == {"sent"}, 30, what="every notice recorded sent")
    finally:
        for n in notifiers:
            n.stop()
        other.close()
    subjects = [m.subject for m in smtp_sink.received()]
    assert len(set(subjects)) == UNITS
    posts = [(p.path, p.title) for p in http_sink.received()]
    assert len(set(posts)) == len(posts) == 2 * UNITS
    assert sum(n.counts["sent"] for n in notifiers) == 3 * UNITS
    assert all(n.counts["sent"] > 0 for n in notifiers), "one notifier did all the work: %s" % (
        [n.counts for n in notifiers],)


def test_a_notice_tells_the_latest_event_s_headline_in_chinese_first_then_in_english(storage, receiver, smtp_sink,
                                                                                      http_sink):
    receive(receiver, event(1, "detector", "high_alarm", "alarm", "hood1", "hood1 25.00 %LEL", 2500))
    notifier, _clock = stepped(storage, smtp_sink, http_sink)
    notifier.step()
    (mail,) = smtp_sink.received()
    assert mail.subject.startswith("【一级预警】可燃气体高限报警：%s/%s" % (SITE, UNIT))
    assert "grade 1 warning: combustible gas high alarm" in mail.subject
    for body in [mail.body] + [p.body for p in http_sink.received()]:
        assert "最近事件：探测器 hood1：高限报警 (25.00 %LEL)" in body
        assert "Latest event: detector hood1: high alarm (25.00 %LEL)" in body
        assert "详情：hood1 25.00 %LEL" in body  # the detail as the unit recorded it
        assert body.index("一级预警：可燃气体高限报警") < body.index("站点：") < body.index("处置建议：立即通风") \
            < body.index("grade 1 warning: combustible gas high alarm") < body.index("What to do: Ventilate now")
        assert "确认：gaslatch platform ack 1 --user 用户名" in body


def hostile_payload(text: str) -> bytes:
    row = event(1, reason=text)
    doc = json.loads(W.encode_event(row))
    doc["reason"] = text
    doc["source"] = text[:900]
    return json.dumps(doc).encode("ascii")


def test_hostile_text_in_an_event_is_clipped_and_escaped_in_the_notice(storage, receiver, smtp_sink, http_sink):
    text = "\ud800\x00\x1b[31m\u202e" + "燃" * 3000
    assert receiver.handle(W.topics(SITE, UNIT)["event"], hostile_payload(text)) == "stored"
    notifier, _ = stepped(storage, smtp_sink, http_sink)
    notifier.step()
    (mail,) = smtp_sink.received()
    for body in [mail.body] + [p.body for p in http_sink.received()]:
        assert "\\ud800\\x00\\x1b[31m\\u202e" in body
        assert len(body) <= N.MAX_BODY_CHARS
        assert "\x00" not in body and "\x1b" not in body
    assert notifier.counts == {"sent": 3, "failed": 0, "errors": 0}


def test_a_channel_that_raises_never_stops_the_notifier(storage, receiver, smtp_sink, http_sink):
    calls = []

    def send(url, title, body):
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError("a plugin's bug")
        return N.apprise_send(url, title, body)

    receive(receiver, event(1))
    notifier, clock = stepped(storage, smtp_sink, http_sink, send)
    notifier.step()
    clock.at(5)
    notifier.step()
    assert {n.state for n in WS.notices(storage)} == {"sent"}
    assert len(smtp_sink.received()) + len(http_sink.received()) == 3
    assert "a plugin's bug" in [a for a in WS.attempts(storage) if a[6] == "failed"][0][7]


def long_advice_rules() -> R.Rules:
    doc = data_file.parse((ROOT / "deploy" / "platform" / "warning-rules.yaml").read_text(encoding="utf-8"))
    doc["rules"][0]["advice"] = {"zh": "通" * 500, "en": "v" * 500}
    return R.build(doc)


LONG_ADVICE = long_advice_rules()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=3000), min_size=5, max_size=5), st.integers(1, 3), st.integers(1, 99))
def test_any_text_makes_a_bounded_notice_any_channel_can_carry(texts, grade, count):
    site, unit, cause, summary, person = texts
    notice = WS.Claimed(7, 3, 2, 0, person, "mail", 0, site, unit, "trip", grade, cause, summary, count, 0, "open")
    contacts = C.build({"version": 1, "people": {"p": {"name": "P", "channels": {"m": "json://x"}}},
                        "districts": {}, "sites": {}, "duty_centre": ["p"], "administrators": ["p"]})
    title, body = N.render(notice, LONG_ADVICE, contacts)
    for text, limit in ((title, N.MAX_TITLE_CHARS), (body, N.MAX_BODY_CHARS)):
        text.encode("utf-8")
        assert len(text) <= limit
        assert not any(ord(ch) < 32 and ch != "\n" for ch in text)
    assert "\n" not in title


def test_the_cli_lists_the_open_warnings_and_records_an_acknowledgement(platform_db, storage, receiver):
    receive(receiver, event(1))
    receive(receiver, event(2, "detector", "fault", "fault", "hood1[/]", "no reply"))  # [/]: rich markup
    runner = CliRunner()
    listed = runner.invoke(platform, ["warnings", "--db", platform_db, "--open"])
    assert listed.exit_code == 0, listed.output
    assert "gas shut off (trip)" in listed.output and "hood1[/]" in listed.output  # rule titles, events' headlines
    assert "not acknowledged" in listed.output and "Grade 1" in listed.output
    acked = runner.invoke(platform, ["ack", "1", "--db", platform_db, "--user", "wang", "--note", "on my way"])
    assert acked.exit_code == 0, acked.output
    assert "warning 1 acknowledged by wang" in acked.output
    again = runner.invoke(platform, ["ack", "1", "--db", platform_db, "--user", "wang"])
    assert again.exit_code == 1 and "warning 1 is acknowledged: nothing to acknowledge" in again.output
    missing = runner.invoke(platform, ["ack", "99", "--db", platform_db, "--user", "wang"])
    assert missing.exit_code == 1 and "no warning 99" in missing.output


def test_gaslatch_platform_with_rules_and_contacts_tells_of_a_unit_gone_offline(broker, platform_db, tmp_path,
                                                                              smtp_sink, http_sink):
    unit = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="unit")
    unit.connect(broker.host, broker.port)
    unit.loop_start()
    unit.publish(W.topics(SITE, UNIT)["status"], b"offline", qos=1, retain=True).wait_for_publish(10)
    unit.disconnect()
    unit.loop_stop()
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(yaml.safe_dump(contacts_doc(smtp_sink, http_sink), allow_unicode=True),
                        encoding="utf-8")
    contacts.chmod(0o600)
    rules = str(ROOT / "deploy" / "platform" / "warning-rules.yaml")
    # A real process, stopped with Ctrl-C once the mail is in (not after a fixed run: how long its start, the
    # broker's retained status, the rule and Apprise's first use take is the machine's).
    with platform_process("--broker", "%s:%d" % (broker.host, broker.port), "--db", platform_db, "--client-id",
                          "cli-test", "--rules", rules, "--contacts", str(contacts), "--seconds", "120",
                          COLUMNS="160") as receiver:
        wait_until(lambda: smtp_sink.received(), 60, what="the offline notice by mail")
    assert receiver.returncode == 0, receiver.said
    assert [m.to for m in smtp_sink.received()] == [("li@example.org",)]
    assert "二级预警" in smtp_sink.received()[0].subject and "控制器离线" in smtp_sink.received()[0].subject
    listed = CliRunner().invoke(platform, ["warnings", "--db", platform_db])
    assert "unit offline" in listed.output and "unit_offline" not in listed.output  # the rule's title, not its code


def test_the_notifier_refuses_a_contacts_file_others_may_read(tmp_path):
    contacts = tmp_path / "contacts.yaml"
    contacts.write_bytes((ROOT / "deploy" / "platform" / "contacts.example.yaml").read_bytes())
    contacts.chmod(0o644)
    result = CliRunner().invoke(platform, ["notify", "--db", str(tmp_path / "p.sqlite"), "--rules",
                                           str(ROOT / "deploy" / "platform" / "warning-rules.yaml"),
                                           "--contacts", str(contacts), "--seconds", "0"])
    assert result.exit_code == 1 and "open to others: chmod 600" in result.output


def test_a_trip_on_a_real_unit_on_the_bench_reaches_the_owner_by_mail(tmp_path, broker, smtp_sink, http_sink,
                                                                      bench_unit):
    bus, unit = bench_unit
    doc = contacts_doc(smtp_sink, http_sink)
    doc["sites"] = {"bench": {"district": "gulou", "owners": ["li"]}}  # the bench unit's site
    storage = open_storage(str(tmp_path / "platform.sqlite"))
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(RULES))
    receiver = PlatformReceiver(storage, broker.host, broker.port, client_id="notify-bench")
    notifier = N.Notifier(storage, RULES, C.build(doc), instance="bench")
    receiver.start()
    notifier.start()
    try:
        bus.set_gas(1, 60.0)
        wait_until(lambda: [m for m in smtp_sink.received() if "bench/unit-1" in m.subject and "燃气已紧急切断" in
                            m.subject], 20, what="the owner's mail about the bench unit's trip")
    finally:
        notifier.stop()
        receiver.stop()
    trip = next(w for w in WS.warnings(storage) if w.rule == "trip")
    its_notices = {n.id for n in WS.notices(storage, trip.id)}
    firsts = [a for a in WS.attempts(storage) if a[0] in its_notices and a[6] == "sent" and a[4] == "li"]
    assert firsts and all(a[2] >= trip.opened_ms for a in firsts), "handed to the owner's channels after the trip"
    storage.close()
