"""District metrics: the pure parts on hand-built rows with exact numbers, then a small fleet stored through the
receiver's own path (handle(), with its clock injected) and summed up per district, by the function and the CLI.
"""

from __future__ import annotations

import datetime
import time

import pytest
import yaml
from click.testing import CliRunner

from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import metrics as M
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.cli import platform
from gaslatch_tools.platform.receiver import PlatformReceiver
from gaslatch_tools.platform.storage import open_storage
from tests.platform.test_unit_offline import RULES

H, MIN, S = 3600000, 60000, 1000


def test_p90_is_the_nearest_rank_and_mean_the_plain_mean():
    assert M.p90(list(range(1, 11))) == 9
    assert M.p90(list(range(1, 12))) == 10
    assert M.p90([7.0]) == 7.0
    assert (M.p90([]), M.mean([])) == (None, None)
    assert M.mean([60, 180]) == 120


def test_unattended_hours_and_the_valve_closed_within_them_are_cut_to_the_window():
    changes = [M.Change(-5 * H, "schedule", "unattended"), M.Change(-1 * H, "latch", True),  # before the window
               M.Change(2 * H, "latch", False),  # reopened while unattended: 2 h closed so far
               M.Change(3 * H, "schedule", "attended"),
               M.Change(10 * H, "schedule", "unattended"), M.Change(11 * H, "latch", True),
               M.Change(30 * H, "schedule", "attended")]  # after the window's end
    assert M.unattended_closed_ms(changes, 0, 24 * H) == (3 * H + 14 * H, 2 * H + 13 * H)


def test_a_unit_without_schedule_events_has_no_unattended_hours():
    assert M.unattended_closed_ms([M.Change(0, "latch", True)], 0, 24 * H) == (0, 0)
    assert M.unattended_closed_ms([M.Change(0, "schedule", "clock_unknown")], 0, 24 * H) == (0, 0)


def test_times_to_close_follow_the_hook_given():
    rows = [M.WarningTimes(1, "a", "trip", 1, 1000, 61000, 301000, "x"),
            M.WarningTimes(2, "a", "detector_fault", 2, 1000, None, None, None)]
    assert M.durations_s(rows, M.cleared_ms) == [300.0]
    assert M.durations_s(rows, lambda w: {2: 9000}.get(w.id)) == [8.0]  # e.g. a work order's closing time


# --- a small fleet, end to end ---

A, B, CC, D = "noodle-bar-7", "hotpot-2", "bakery-1", "tea-shop-9"
CONTACTS_DOC = {
    "version": 1,
    "people": {"li": {"name": "李店主", "channels": {"robot": "json://robot.invalid/li"}},
               "wang": {"name": "王安全员", "channels": {"robot": "json://robot.invalid/wang"}}},
    "districts": {"gulou": {"name": "鼓楼街道", "officers": ["wang"]}, "xuanwu": {"name": "玄武街道", "officers": ["wang"]}},
    "sites": {A: {"district": "gulou", "owners": ["li"]}, B: {"district": "gulou", "owners": ["li"]},
              CC: {"district": "xuanwu", "owners": ["li"]}},
    "duty_centre": ["wang"], "administrators": ["wang"]}


class Fleet:
    def __init__(self, storage, now_ms: int):
        self.storage = storage
        self.now_ms = self.at_ms = now_ms
        self.seqs: dict[tuple[str, str], int] = {}
        self.receiver = PlatformReceiver(storage, now=self.iso)

    def iso(self) -> str:
        t = datetime.datetime.fromtimestamp(self.at_ms / 1000, datetime.timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (self.at_ms % 1000)

    def event(self, at_ms, site, unit, type_, state, source="controller", severity="info"):
        self.at_ms = at_ms
        seq = self.seqs[site, unit] = self.seqs.get((site, unit), 0) + 1
        row = {"id": "a1b2c3d4e5f60708-%012d" % seq, "seq": seq, "t_ms": seq, "wall_ts": self.iso(),
               "clock_synced": True, "type": type_, "severity": severity, "source": source, "state": state,
               "value": None, "reason": ""}
        assert self.receiver.handle(W.topics(site, unit)["event"], W.encode_event(row)) == "stored"

    def status(self, at_ms, site, unit, text):
        self.at_ms = at_ms
        self.receiver.handle(W.topics(site, unit)["status"], text.encode())

    def connect(self, at_ms, site, unit="k1"):
        self.status(at_ms, site, unit, "online")
        self.receiver.handle(W.topics(site, unit)["state"], b'{"latched":false}')

    def ack(self, at_ms, rule, site):
        (w,) = [w for w in WS.warnings(self.storage) if w.rule == rule and w.site == site]
        WS.acknowledge(self.storage, w.id, "wang", "", at_ms)


def build_fleet(storage, now: int) -> None:
    """gulou: A (k1 online, k2 silent 20 min), B (offline); xuanwu: C (10 h unattended, 9 of them latched);
    unlisted: D. Warnings: A's trip acknowledged in 60 s and cleared in 300 s, A's detector fault acknowledged in
    180 s, B's unit_offline; C's trip cleared after 9 h 1 min."""
    f = Fleet(storage, now)
    start = now - 24 * H
    f.event(start - 2 * H, CC, "k1", "schedule", "attended", "schedule")
    f.event(start + 10 * H, CC, "k1", "schedule", "unattended", "schedule")
    f.event(start + 11 * H, CC, "k1", "trip", "latched", severity="alarm")
    f.event(start + 20 * H, CC, "k1", "schedule", "attended", "schedule")
    f.event(start + 20 * H + MIN, CC, "k1", "reset", "armed", "button")
    f.connect(now - 2 * H, B)
    f.status(now - H, B, "k1", "offline")
    f.connect(now - 30 * MIN, A)
    f.event(now - 30 * MIN, A, "k1", "trip", "latched", severity="alarm")
    f.ack(now - 30 * MIN + 60 * S, "trip", A)
    f.event(now - 30 * MIN + 300 * S, A, "k1", "reset", "armed", "button")
    f.event(now - 20 * MIN, A, "k1", "detector", "fault", "d1", "fault")
    f.connect(now - 20 * MIN, A, "k2")
    f.ack(now - 20 * MIN + 180 * S, "detector_fault", A)
    f.connect(now - 60 * S, A)
    f.connect(now - 10 * S, CC)
    f.connect(now - 5 * S, D)


@pytest.fixture
def fleet_db(platform_db):
    storage = open_storage(platform_db)
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(RULES))
    now = int(time.time() * 1000)
    build_fleet(storage, now)
    yield storage, now, platform_db
    storage.close()


def test_detectors_past_end_of_life_are_counted_from_the_units_latest_reminders(platform_db):
    """Each detector's latest end-of-life reminder counts: due counts, a reminder back to ok (the detector replaced
    and its new date pushed) does not, nor a calibration or the valve; an owner sees only their district's."""
    storage = open_storage(platform_db)
    WS.prepare(storage)
    now = int(time.time() * 1000)
    f = Fleet(storage, now)
    f.event(now - 4 * H, A, "k1", "maintenance_due", "soon", "d1:end_of_life")
    f.event(now - 3 * H, A, "k1", "maintenance_due", "due", "d1:end_of_life", "warning")
    f.event(now - 3 * H, A, "k1", "maintenance_due", "due", "d1:calibration", "warning")
    f.event(now - 3 * H, A, "k2", "maintenance_due", "due", "d2:end_of_life", "warning")
    f.event(now - 2 * H, A, "k2", "maintenance_due", "ok", "d2:end_of_life")
    f.event(now - 3 * H, B, "k1", "maintenance_due", "due", "hood:end_of_life", "warning")
    f.event(now - 3 * H, CC, "k1", "maintenance_due", "due", "valve:end_of_life", "warning")
    try:
        gulou, xuanwu = M.district_metrics(storage, C.build(CONTACTS_DOC), None, now, 24 * H)[:2]
        assert (gulou.past_end_of_life, xuanwu.past_end_of_life) == (2, 0)
        (only_a,) = M.district_metrics(storage, C.build(CONTACTS_DOC), frozenset([A]), now, 24 * H)
        assert only_a.past_end_of_life == 1
    finally:
        storage.close()


def test_district_metrics_of_a_small_fleet_are_exact(fleet_db):
    storage, now, _ = fleet_db
    gulou, xuanwu, unlisted = M.district_metrics(storage, C.build(CONTACTS_DOC), None, now, 24 * H)
    assert (gulou.district, gulou.name, gulou.sites, gulou.units, gulou.online) == ("gulou", "鼓楼街道", 2, 3, 1)
    assert gulou.online_rate == pytest.approx(1 / 3)
    assert gulou.open_by_grade == {1: 0, 2: 2, 3: 0}  # A's detector fault, B offline
    assert (gulou.acks, gulou.ack_mean_s, gulou.ack_p90_s) == (2, 120.0, 180.0)
    assert (gulou.closes, gulou.close_mean_s, gulou.close_p90_s) == (1, 300.0, 300.0)
    assert (gulou.unattended_h, gulou.compliance, gulou.compliance_note) == (0.0, None, M.NO_UNATTENDED)
    assert (gulou.past_end_of_life, xuanwu.past_end_of_life) == (0, 0)  # no unit has reminded of any
    assert (xuanwu.units, xuanwu.online, xuanwu.open_by_grade) == (1, 1, {1: 0, 2: 0, 3: 0})
    assert (xuanwu.acks, xuanwu.ack_mean_s, xuanwu.closes, xuanwu.close_mean_s) == (0, None, 1, 9 * 3600.0 + 60)
    assert (xuanwu.unattended_h, xuanwu.compliance) == (10.0, 0.9)
    assert (unlisted.district, unlisted.units, unlisted.online) == (M.UNLISTED, 1, 1)


def test_district_metrics_count_only_the_sites_the_actor_sees(fleet_db):
    storage, now, _ = fleet_db
    (gulou,) = M.district_metrics(storage, C.build(CONTACTS_DOC), frozenset({A}), now, 24 * H)
    assert (gulou.sites, gulou.units, gulou.online, gulou.open_by_grade[2], gulou.acks) == (1, 2, 1, 1, 2)
    assert M.district_metrics(storage, C.build(CONTACTS_DOC), frozenset(), now, 24 * H) == []


def test_without_contacts_every_site_is_one_group(fleet_db):
    storage, now, _ = fleet_db
    (everything,) = M.district_metrics(storage, None, None, now, 24 * H)
    assert (everything.district, everything.sites, everything.units, everything.online) == (M.ALL, 4, 5, 3)


def test_gaslatch_platform_metrics_prints_the_districts(fleet_db, tmp_path):
    _, _, db = fleet_db
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(yaml.safe_dump(CONTACTS_DOC, allow_unicode=True), encoding="utf-8")
    contacts.chmod(0o600)
    result = CliRunner().invoke(platform, ["metrics", "--db", db, "--contacts", str(contacts), "--window-days", "1"])
    assert result.exit_code == 0, result.output
    for text in ("district metrics", "鼓楼街道", "玄武街道", "not in the contacts", "33.3 %", "90.0 %", "0/2/0",
                 "2.0 min / 3.0 min (2)"):
        assert text in result.output, text


def test_a_detector_replaced_after_the_units_store_was_renewed_is_no_longer_counted_past_its_life(platform_db):
    # Found by attack16: the latest reminder of each detector was taken in seq order, but a unit whose store was
    # renewed (a damaged store moved aside: docs/operations.md) numbers from 1 again, so the new store's ok (seq 2)
    # sorted before the old store's due (seq 40) and the replaced detector was counted past its life for ever.
    storage = open_storage(platform_db)
    WS.prepare(storage)
    now = int(time.time() * 1000)
    f = Fleet(storage, now)
    f.seqs[A, "k1"] = 39
    f.event(now - 5 * H, A, "k1", "maintenance_due", "due", "d1:end_of_life", "warning")  # old store, seq 40
    f.at_ms = now - 2 * H
    for seq, state in ((1, "due"), (2, "ok")):  # the renewed store: due read back as nothing, then the new date
        row = {"id": "ffeeddccbbaa9988-%012d" % seq, "seq": seq, "t_ms": seq, "wall_ts": f.iso(),
               "clock_synced": True,
               "type": "maintenance_due", "severity": "warning" if state == "due" else "info",
               "source": "d1:end_of_life", "state": state, "value": None, "reason": ""}
        assert f.receiver.handle(W.topics(A, "k1")["event"], W.encode_event(row)) == "stored"
    # Another unit, one store: its ok (seq 9) arrived before a gap filled late (due, seq 7): ok is still the latest.
    f.at_ms = now - H
    for seq, state in ((9, "ok"), (7, "due")):
        row = {"id": "0102030405060708-%012d" % seq, "seq": seq, "t_ms": seq, "wall_ts": f.iso(),
               "clock_synced": True,
               "type": "maintenance_due", "severity": "warning" if state == "due" else "info",
               "source": "d2:end_of_life", "state": state, "value": None, "reason": ""}
        assert f.receiver.handle(W.topics(A, "k2")["event"], W.encode_event(row)) == "stored"
        f.at_ms += 1000
    try:
        gulou = M.district_metrics(storage, C.build(CONTACTS_DOC), None, now, 24 * H)[0]
        assert gulou.past_end_of_life == 0
    finally:
        storage.close()
