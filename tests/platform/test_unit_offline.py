"""The unit_offline warning (设备离线): opened at once by a unit's Last Will, by the heartbeat check when a unit is
silent past the limit, one per unit however it flaps, and cleared once the unit is back (online, reporting, and up
for back_after_min). Messages go through the receiver's own path (handle()) with its clock injected, the check
through the notifier's step on the same clock: no sleeps. Storage-dependent tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import liveness as L
from gaslatch_tools.platform import notifier as N
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.receiver import PlatformReceiver
from gaslatch_tools.platform.storage import SqliteStorage, open_storage
from gaslatch_tools.testing.platform_process import platform_process
from gaslatch_tools.testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
RULES_PATH = ROOT / "deploy" / "platform" / "warning-rules.yaml"
RULES = R.load(str(RULES_PATH))
SITE, UNIT = "noodle-bar-7", "kitchen-1"
TOPICS = W.topics(SITE, UNIT)
STORE = "a1b2c3d4e5f60708"
T0_MS = 1_796_000_000_000  # 2026-11-30, the clock every test starts from
S, MIN = 1000, 60000
LIMIT_MS, BACK_MS = RULES.silent_after_ms, RULES.back_after_ms
CONTACTS = C.build({
    "version": 1, "people": {"li": {"name": "李店主", "channels": {"robot": "json://robot.invalid/li"}},
                             "duty": {"name": "值班中心", "channels": {"robot": "json://robot.invalid/duty"}}},
    "districts": {"gulou": {"officers": ["duty"]}}, "sites": {SITE: {"district": "gulou", "owners": ["li"]}},
    "duty_centre": ["duty"], "administrators": ["duty"]})


def test_the_shipped_heartbeat_is_three_state_report_periods_and_one_to_come_back():
    from gaslatch.core.config_schema import UPLINK  # the unit's defaults: state republished every state_s
    state_s = UPLINK["properties"]["state_s"]["default"]
    assert (LIMIT_MS, BACK_MS) == (3 * state_s * S, state_s * S)
    assert RULES.rules_for("status") == ("unit_offline",) and RULES.by_name["unit_offline"].grade == 2


class Kitchen:
    """One unit's messages through a receiver, and a notifier stepping the liveness check, on one clock."""

    def __init__(self, storage):
        self.storage = storage
        self.now_ms = T0_MS
        self.seq = 0
        self.sent: list[str] = []
        self.receiver = PlatformReceiver(storage, now=self.iso)
        self.notifier = N.Notifier(storage, RULES, CONTACTS, instance="n1", clock=lambda: self.now_ms / 1000,
                                   send=lambda url, title, body: self.sent.append(title))

    def iso(self) -> str:
        t = datetime.datetime.fromtimestamp(self.now_ms / 1000, datetime.timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (self.now_ms % 1000)

    def wait(self, ms: int) -> None:
        self.now_ms += ms

    def status(self, text: str, unit: str = UNIT) -> None:
        assert self.receiver.handle(W.topics(SITE, unit)["status"], text.encode()) == "status"

    def state(self, unit: str = UNIT) -> None:
        assert self.receiver.handle(W.topics(SITE, unit)["state"], b'{"latched":false}') == "state"

    def event(self, unit: str = UNIT) -> None:
        self.seq += 1
        row = {"id": "%s-%012d" % (STORE, self.seq), "seq": self.seq, "t_ms": self.seq, "clock_synced": True,
               "wall_ts": self.iso(), "type": "schedule", "severity": "info", "source": "schedule",
               "state": "attended", "value": None, "reason": ""}
        assert self.receiver.handle(W.topics(SITE, unit)["event"], W.encode_event(row)) == "stored"

    def step(self, after_ms: int = 0) -> None:
        self.wait(after_ms)
        self.notifier.step()

    def connect(self, unit: str = UNIT) -> None:
        """What a unit sends on every connection: its status online, then its retained state."""
        self.status("online", unit)
        self.state(unit)

    def offline(self, active_only: bool = True) -> list[WS.WarningRow]:
        return [w for w in WS.warnings(self.storage, active_only) if w.rule == "unit_offline"]


@pytest.fixture
def kitchen(platform_db):
    storage = open_storage(platform_db)
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(RULES))
    yield Kitchen(storage)
    storage.close()


def test_a_last_will_opens_a_grade_2_unit_offline_warning_told_within_one_step(kitchen):
    kitchen.connect()
    kitchen.step(10 * S)
    assert kitchen.offline() == []
    kitchen.status("offline")  # the broker publishes the unit's Last Will
    (w,) = kitchen.offline()
    assert (w.grade, w.state, w.site, w.unit, w.count) == (2, "open", SITE, UNIT, 1)
    kitchen.step()
    assert len(kitchen.sent) == 2 and all("控制器离线" in t and "二级预警" in t for t in kitchen.sent)


def test_a_unit_flapping_50_times_keeps_one_warning_counting_each_drop_then_clears_once_it_stays(kitchen):
    kitchen.connect()
    for _ in range(50):
        kitchen.step(20 * S)
        kitchen.status("offline")
        kitchen.step(20 * S)
        kitchen.connect()  # each reconnection reports at once, but the link drops again within back_after_min
    (w,) = kitchen.offline()
    assert (w.count, w.state) == (50, "open")
    kitchen.step(BACK_MS - 1)
    assert [x.id for x in kitchen.offline()] == [w.id]
    kitchen.step(L.CHECK_EVERY_MS)  # the notifier's next check
    assert kitchen.offline() == []
    assert [(x.id, x.cleared_by) for x in kitchen.offline(False)] == [(w.id, "back:%d" % kitchen.now_ms)]


def test_a_silent_unit_is_warned_of_only_past_the_limit_and_once(kitchen):
    kitchen.connect()
    kitchen.step(LIMIT_MS)
    assert kitchen.offline() == []  # exactly the limit: not yet
    kitchen.step(L.CHECK_EVERY_MS)
    (w,) = kitchen.offline()
    assert (w.state, w.count) == ("open", 1)
    assert "no state report and no event for 15 min" in w.summary
    for _ in range(10):
        kitchen.step(L.CHECK_EVERY_MS)
    assert [(x.id, x.count) for x in kitchen.offline()] == [(w.id, 1)]  # the same silence is not counted again


def test_events_alone_keep_a_unit_heard(kitchen):
    kitchen.connect()
    for _ in range(4):
        kitchen.wait(LIMIT_MS - S)
        kitchen.event()
        kitchen.step()
    assert kitchen.offline(False) == []


def test_a_silent_unit_that_reports_again_is_cleared_at_the_next_check(kitchen):
    kitchen.connect()
    kitchen.step(LIMIT_MS + L.CHECK_EVERY_MS)
    assert len(kitchen.offline()) == 1
    kitchen.state()  # the frozen unit resumed: its status never changed
    kitchen.step(L.CHECK_EVERY_MS)
    assert kitchen.offline() == []


def test_after_a_last_will_online_alone_does_not_clear_it_reporting_for_back_after_min_does(kitchen):
    kitchen.connect()
    kitchen.status("offline")
    kitchen.step(MIN)
    kitchen.status("online")  # connected, but nothing reported since
    kitchen.step(BACK_MS + L.CHECK_EVERY_MS)
    assert len(kitchen.offline()) == 1
    kitchen.state()
    kitchen.step(L.CHECK_EVERY_MS)
    (w,) = kitchen.offline(False)
    assert w.state == "cleared" and w.count == 1


def test_a_unit_never_seen_before_coming_online_raises_nothing(kitchen):
    kitchen.step()
    kitchen.status("online", "new-unit")
    kitchen.step(L.CHECK_EVERY_MS)
    kitchen.state("new-unit")
    for _ in range(5):
        kitchen.step(MIN)
    assert kitchen.offline(False) == [] and kitchen.sent == []


def test_an_acknowledged_offline_warning_still_clears_when_the_unit_is_back(kitchen):
    kitchen.connect()
    kitchen.status("offline")
    WS.acknowledge(kitchen.storage, kitchen.offline()[0].id, "wang", "calling the owner", kitchen.now_ms)
    kitchen.step(MIN)
    kitchen.connect()
    kitchen.step(BACK_MS)
    assert [w.state for w in kitchen.offline(False)] == ["cleared"]


def test_notifiers_checking_one_database_at_once_open_one_warning(platform_db):
    storages = [open_storage(platform_db) for _ in range(3)]
    for s in storages:
        WS.prepare(s)
    try:
        kitchen = Kitchen(storages[0])
        kitchen.connect()
        now = kitchen.now_ms + LIMIT_MS + S
        start = threading.Barrier(len(storages))
        results = []

        def check(storage):
            start.wait()
            for i in range(10):
                results.append(WS.check_liveness(storage, RULES, now + i))

        threads = [threading.Thread(target=check, args=(s,)) for s in storages]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(opened for opened, _ in results) == 1
        assert len(kitchen.offline()) == 1
    finally:
        for s in storages:
            s.close()


# --- the property: any interleaving of one unit's messages and the clock ---

OPS = st.lists(st.one_of(st.sampled_from(["online", "offline", "state", "event"]),
                         st.sampled_from([1, 30, 4 * 60, 5 * 60, 6 * 60, 14 * 60, 15 * 60, 16 * 60, 60 * 60])),
               max_size=40)


class Model:
    """docs/platform.md#unit-offline, written again: opened by offline at once and by the check when offline or
    silent; cleared by the check when online, reporting since it came online, up for back_after_min, not silent
    (with no status known: reporting and not silent)."""

    def __init__(self):
        self.status = self.status_ms = self.heard_ms = None
        self.open = False

    def message(self, kind: str, now_ms: int) -> None:
        if kind in ("online", "offline"):
            self.status, self.status_ms = kind, now_ms
            self.open = self.open or kind == "offline"
        else:
            self.heard_ms = now_ms

    def down(self, now_ms: int) -> bool:
        if self.status == "offline":
            return True
        signs = [t for t in (self.heard_ms, self.status_ms) if t is not None]
        return bool(signs) and now_ms - max(signs) > LIMIT_MS

    def back(self, now_ms: int) -> bool:
        if self.down(now_ms) or self.heard_ms is None:
            return False
        return self.status_ms is None or (self.heard_ms >= self.status_ms and now_ms - self.status_ms >= BACK_MS)

    def check(self, now_ms: int) -> None:
        self.open = self.down(now_ms) or (self.open and not self.back(now_ms))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPS)
def test_at_most_one_offline_warning_and_it_is_open_exactly_while_the_unit_is_down(tmp_path_factory, ops):
    storage = SqliteStorage(str(tmp_path_factory.mktemp("offline") / "p.sqlite"))
    try:
        WS.prepare(storage)
        storage.add_store_hook(WS.WarningHook(RULES))
        kitchen, model = Kitchen(storage), Model()
        for op in ops + [0]:
            if isinstance(op, str):
                kitchen.wait(7)  # every message at its own ms
                {"online": lambda: kitchen.status("online"), "offline": lambda: kitchen.status("offline"),
                 "state": kitchen.state, "event": kitchen.event}[op]()
                model.message(op, kitchen.now_ms)
            else:
                kitchen.wait(op * S)
                WS.check_liveness(storage, RULES, kitchen.now_ms)
                model.check(kitchen.now_ms)
            active = kitchen.offline()
            assert len(active) <= 1
            assert bool(active) == model.open, (op, model.__dict__)
        # At the end: a warning is open if the unit is offline or silent past the limit, none once it is back.
        if model.down(kitchen.now_ms):
            assert len(kitchen.offline()) == 1
        if model.back(kitchen.now_ms):
            assert kitchen.offline() == []
    finally:
        storage.close()


# --- a real broker: the unit's process is killed, the broker publishes its Will ---

UNIT_SCRIPT = """
import signal, sys
import paho.mqtt.client as mqtt
from gaslatch.core import uplink_wire as W
topics = W.topics(sys.argv[3], sys.argv[4])
c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="unit-under-test")
c.will_set(topics["status"], b"offline", qos=1, retain=True)
c.connect(sys.argv[1], int(sys.argv[2]), keepalive=30)
c.loop_start()
c.publish(topics["status"], b"online", qos=1, retain=True).wait_for_publish(10)
c.publish(topics["state"], b'{"latched":false}', qos=1, retain=True).wait_for_publish(10)
print("up", flush=True)
signal.pause()  # connected until the test kills it
"""


def test_a_unit_killed_with_sigkill_is_warned_of_by_gaslatch_platform_through_its_last_will(broker, tmp_path):
    db = str(tmp_path / "platform.sqlite")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with platform_process("--broker", "%s:%d" % (broker.host, broker.port), "--db", db, "--rules", str(RULES_PATH),
                          "--client-id", "platform-test", "--seconds", "60"):
        unit = subprocess.Popen([sys.executable, "-c", UNIT_SCRIPT, broker.host, str(broker.port), SITE, UNIT],
                                env=env, stdout=subprocess.PIPE)
        storage = None
        try:
            assert unit.stdout.readline().strip() == b"up"
            wait_until(lambda: os.path.exists(db), 20, what="the receiver's database")
            storage = SqliteStorage(db)
            wait_until(lambda: storage.status(SITE, UNIT) == "online", 20, what="the unit online at the receiver")
            WS.prepare(storage)
            assert WS.warnings(storage) == []
            unit.send_signal(signal.SIGKILL)
            unit.wait(10)
            (w,) = wait_until(lambda: [x for x in WS.warnings(storage) if x.rule == "unit_offline"], 20,
                              what="the unit_offline warning from the Last Will")
            assert (w.site, w.unit, w.grade, w.state) == (SITE, UNIT, 2, "open")
            assert storage.status(SITE, UNIT) == "offline"
        finally:
            if unit.poll() is None:
                unit.kill()
                unit.wait(10)
            if storage is not None:
                storage.close()
