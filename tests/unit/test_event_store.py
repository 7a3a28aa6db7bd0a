"""The event store on real SQLite files: numbering, integrity, batching, retention, queries, failures,
and `gaslatch events` reading the file without writing it."""

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch.unit.event_store import (APPLICATION_ID, MAX_PENDING_RECORDS, EventReader, EventStore, StoreError,
                                       UnavailableStore, event_id, parse_since, retention_rank)
from tests.unit.unit_command import run_unit_command
from gaslatch.translation import CHINESE, in_language
from gaslatch_tools.testing.language import reading
from gaslatch_tools.testing.waiting import returns, wait_until

WAIT_S = 10


class FakeWall:
    """The injected wall clock: a settable UTC time and sync flag."""

    def __init__(self, now="2026-11-24T21:50:41.123Z", synced=True):
        self.now = now
        self.synced = synced

    def iso_utc(self):
        return self.now

    def is_synced(self):
        return self.synced


def rec(seq, type_=E.OUTPUT, severity=E.SEVERITY_INFO, source="valve", state="on", value=None, reason="", t_ms=None):
    return {"seq": seq, "t_ms": seq * 100 if t_ms is None else t_ms, "type": type_, "severity": severity,
            "source": source, "state": state, "value": value, "reason": reason}


def alarm(seq):
    return rec(seq, E.DETECTOR, E.SEVERITY_ALARM, "d1", "high_alarm", 2550, "gas: d1 high alarm")


def open_store(path, max_events=1000, wall=None, **kw):
    wall = wall or FakeWall()
    return EventStore(str(path), max_events, unit="unit-1", wall_ts=wall.iso_utc, clock_synced=wall.is_synced, **kw)


@pytest.fixture
def wall():
    return FakeWall()


@pytest.fixture
def store(tmp_path, wall):
    s = open_store(tmp_path / "events.db", wall=wall)
    yield s
    s.close()


def store_problem_in_chinese(health):
    """The store's line of `gaslatch status` under zh for this health."""
    from gaslatch.unit.status_text import unit_health_lines
    with reading("zh"):
        return "\n".join(unit_health_lines({"store": health}))


def health_when(store, predicate, what):
    """store.health() once predicate(health) holds (waited for with a deadline)."""
    return wait_until(lambda: health if predicate(health := store.health()) else None, WAIT_S, what=what)


def stored(path):
    """Rows as the file has them, read with plain sqlite3 behind the store's back."""
    with sqlite3.connect(str(path)) as db:
        return [tuple(r) for r in db.execute("SELECT seq, type, severity, delivered FROM events ORDER BY seq")]


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# ---- numbering and integrity ----

def test_a_new_store_starts_at_seq_one_with_files_only_the_unit_and_its_group_can_read(tmp_path):
    path = tmp_path / "var" / "lib" / "gaslatch" / "events.db"
    s = open_store(path)
    try:
        assert s.next_seq() == 1 and s.recorded_seq() == 0
        s.append([rec(1)])
        assert s.flush(WAIT_S)
        for name in ("events.db", "events.db-wal", "events.db-shm", "events.db.lock"):
            assert stat.S_IMODE(os.stat(path.parent / name).st_mode) == 0o640, name
        for directory in (tmp_path / "var", tmp_path / "var" / "lib", path.parent):
            assert stat.S_IMODE(os.stat(directory).st_mode) == 0o750, directory
        with sqlite3.connect(str(path)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        s.close()


def test_numbering_continues_after_reopen_and_ids_stay_the_same(tmp_path):
    path = tmp_path / "events.db"
    s = open_store(path)
    log = E.EventLog(first_seq=s.next_seq())
    for i in range(5):
        log.emit(i * 100, E.OUTPUT, E.SEVERITY_INFO, "fan", "on")
    s.append(log.drain())
    assert s.flush(WAIT_S) and s.recorded_seq() == 5
    ids = [r["id"] for r in s.query()]
    assert s.close()

    s = open_store(path)
    try:
        assert s.next_seq() == 6 and s.recorded_seq() == 5
        assert [r["id"] for r in s.query()] == ids
        log = E.EventLog(first_seq=s.next_seq())
        log.emit(0, E.STARTUP, E.SEVERITY_WARNING, "controller", "latched", None, "power on")
        s.append(log.drain())
        assert s.flush(WAIT_S)
        rows = s.query()
        assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
        assert len({r["id"] for r in rows}) == 6
        assert rows[-1]["id"] == event_id(s.store_key, 6) == "%s-000000000006" % s.store_key
    finally:
        s.close()


def test_numbering_continues_even_when_retention_dropped_the_newest_event(tmp_path):
    path = tmp_path / "events.db"
    s = open_store(path, max_events=2)
    s.append([alarm(1), alarm(2), rec(3)])  # the info event is the only one that may go
    assert s.flush(WAIT_S)
    assert [r["seq"] for r in s.query()] == [1, 2]
    s.close()
    s = open_store(path, max_events=2)
    try:
        assert s.next_seq() == 4, "seq 3 was recorded once; it is never handed out again"
    finally:
        s.close()


def test_every_stored_field_equals_what_was_appended(store, wall):
    records = [
        rec(1, E.DETECTOR, E.SEVERITY_ALARM, "灶台1", "high_alarm", 2550, "gas: 灶台1 high alarm \"quoted\" \\ \u00e9"),
        rec(2, E.INHIBIT, E.SEVERITY_WARNING, "d2", "started", 30, "bump test", t_ms=-5),
        rec(3, value="text value"),
    ]
    wall.now, wall.synced = "2026-11-24T21:50:41.123Z", False
    store.append(records[:2])
    wall.now, wall.synced = "2026-11-24T21:50:42.000Z", True
    store.append(records[2:])
    assert store.flush(WAIT_S)
    rows = store.query()
    for original, row in zip(records, rows):
        assert {key: row[key] for key in E.FIELDS} == original
    assert [(r["wall_ts"], r["clock_synced"], r["delivered"]) for r in rows] == [
        ("2026-11-24T21:50:41.123Z", False, False), ("2026-11-24T21:50:41.123Z", False, False),
        ("2026-11-24T21:50:42.000Z", True, False)]


def test_a_broken_wall_clock_still_records_the_event_marked_unsynchronised(tmp_path):
    def broken():
        raise OSError("no clock")

    s = EventStore(str(tmp_path / "events.db"), 100, wall_ts=broken, clock_synced=lambda: True)
    try:
        s.append([rec(1)])
        assert s.flush(WAIT_S)
        row = s.query()[0]
        assert row["clock_synced"] is False and parse_since(row["wall_ts"])[0] == "wall_ts"
    finally:
        s.close()


# ---- the scan never waits; failures are reported, not raised ----

def test_append_returns_at_once_while_the_disk_is_busy_and_the_backlog_commits_in_batches(tmp_path):
    path = tmp_path / "events.db"
    # The store's writer waits up to an hour for the file: an append() that waited for a commit would not return
    # while the blocker holds it. (A 50 ms bound on each call's wall time instead is broken by any GC pause or
    # preemption of the test on a loaded machine.)
    s = open_store(path, busy_timeout_ms=3_600_000)
    blocker = sqlite3.connect(str(path), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the file: no commit can happen
        returns(lambda: [s.append([rec(seq)]) for seq in range(1, 201)], WAIT_S * 3, "append() waited for the disk")
        assert s.recorded_seq() == 0, "nothing counts as recorded before it is committed"
        blocker.execute("COMMIT")
        blocker.close()
        assert s.flush(WAIT_S)
        assert s.recorded_seq() == 200
        assert [row[0] for row in stored(path)] == list(range(1, 201))
        assert s.health()["transactions"] <= 3, "200 appends queued behind a busy disk commit as a few batches"
    finally:
        blocker.close()  # again if an assertion came first: the writer is waiting for it
        s.close()


def test_a_write_failure_shows_in_health_is_retried_and_never_raises_into_append(tmp_path):
    path = tmp_path / "events.db"
    s = open_store(path, busy_timeout_ms=50)
    try:
        blocker = sqlite3.connect(str(path), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        s.append([alarm(1)])
        failing = health_when(s, lambda h: not h["ok"], "health to report the failure")
        assert "locked" in failing["error"] and failing["pending"] == 1
        assert "无法写入：database is locked（另有进程正在写入该文件：请停止它）" in store_problem_in_chinese(failing)
        assert not s.flush(0.1)
        s.append([rec(2)])
        blocker.execute("COMMIT")
        blocker.close()
        wait_until(lambda: s.recorded_seq() == 2, WAIT_S, what="the retry to commit both")
        health = s.health()
        assert health["ok"] and health["error"] is None and health["pending"] == 0
    finally:
        s.close()


def test_bad_records_are_reported_not_raised_and_do_not_block_the_good_ones(store):
    store.append([rec(1)])
    store.append([{"seq": "two"}])
    store.append(["not a record"])
    store.append([rec(1)])  # out of order: 1 is already taken
    store.append([rec(2)])
    assert store.flush(WAIT_S)
    health = store.health()
    assert not health["ok"] and health["rejected"] == 3
    assert "seq 1 is not above the last recorded seq 1" in health["last_rejection"]
    assert [r["seq"] for r in store.query()] == [1, 2]


def test_a_row_sqlite_cannot_take_is_stored_in_a_safe_form_and_the_rest_of_its_batch_commits(store):
    store.append([rec(1, reason="refused: \ud800 and a NUL \x00"), rec(2, value=2 ** 70), rec(3, t_ms=2 ** 64),
                  rec(4, source="\udcff" * 3, value="\x00"), rec(5)])
    assert store.flush(WAIT_S)
    rows = {r["seq"]: r for r in store.query()}
    assert sorted(rows) == [1, 2, 3, 4, 5] and store.recorded_seq() == 5
    assert rows[1]["reason"] == "refused: \\ud800 and a NUL \\x00"
    assert rows[2]["value"] == str(2 ** 70) and "stored in a safe form" in rows[2]["reason"]
    assert rows[3]["t_ms"] == 0 and "stored in a safe form" in rows[3]["reason"]
    assert rows[4]["source"] == "\\udcff" * 3 and rows[4]["value"] == "\\x00"
    assert store.health()["error"] is None


def test_a_seq_beyond_64_bits_is_rejected_not_retried_forever(store):
    store.append([rec(1), rec(2 ** 63), rec(2)])
    assert store.flush(WAIT_S)
    assert [r["seq"] for r in store.query()] == [1, 2]
    assert "beyond 2^63-1" in store.health()["last_rejection"]


def test_a_full_backlog_counts_lost_events_instead_of_blocking(tmp_path):
    path = tmp_path / "events.db"
    s = open_store(path, busy_timeout_ms=60000)
    try:
        blocker = sqlite3.connect(str(path), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        s.append([rec(seq) for seq in range(1, MAX_PENDING_RECORDS + 1)])
        s.append([rec(MAX_PENDING_RECORDS + 1)])
        health = s.health()
        assert health["lost"] == 1 and not health["ok"]
        blocker.execute("COMMIT")
        blocker.close()
        assert s.flush(WAIT_S * 3) and s.recorded_seq() == MAX_PENDING_RECORDS
    finally:
        s.close()


def test_appends_after_close_are_counted_as_lost(tmp_path):
    s = open_store(tmp_path / "events.db")
    assert s.close()
    s.append([rec(1)])
    assert s.health()["lost"] == 1 and s.health()["closed"]
    with pytest.raises(StoreError):
        s.ack(1)


def test_an_unavailable_store_lets_the_unit_run_and_says_why(tmp_path):
    err = StoreError(str(tmp_path / "events.db"), "cannot be read: file is not a database", "move it aside")
    s = UnavailableStore(err)
    assert s.next_seq() == 1
    s.append([rec(1)])
    assert s.health() == {"ok": False, "error": str(err), "path": err.path, "recorded_seq": 0, "lost": 1,
                          "closed": False}
    assert not s.flush(1.0) and s.query() == [] and s.close()


# ---- retention ----

def test_retention_drops_delivered_info_first_then_other_delivered_then_undelivered(tmp_path):
    s = open_store(tmp_path / "events.db", max_events=6)
    try:
        s.append([rec(1), alarm(2), rec(3, E.INHIBIT, E.SEVERITY_WARNING), rec(4), alarm(5),
                  rec(6, E.RESET, E.SEVERITY_INFO, "controller", "armed")])
        assert s.ack(3) == 3
        s.append([rec(7)])  # 1 goes: delivered info
        s.append([rec(8)])  # 3 goes: delivered warning
        s.append([rec(9)])  # 2 goes: delivered alarm
        s.append([rec(10)])  # 4 goes: oldest undelivered info
        s.append([alarm(11), alarm(12)])  # 7 and 8 go
        assert s.flush(WAIT_S)
        assert [r["seq"] for r in s.query()] == [5, 6, 9, 10, 11, 12]
        health = s.health()
        assert (health["dropped"], health["dropped_undelivered"], health["over_capacity"]) == (6, 3, 0)
    finally:
        s.close()


def test_retention_never_drops_an_undelivered_alarm_and_reports_the_growth(tmp_path):
    path = tmp_path / "events.db"
    s = open_store(path, max_events=3)
    try:
        s.append([alarm(1), rec(2, E.TRIP, E.SEVERITY_ALARM, "controller", "latched"),
                  rec(3, E.RESET_REFUSED, E.SEVERITY_WARNING, "reset_button", "refused"),
                  rec(4, E.VALVE_FAULT, E.SEVERITY_FAULT), rec(5, E.RESET, E.SEVERITY_INFO), rec(6)])
        assert s.flush(WAIT_S)
        assert [r["seq"] for r in s.query()] == [1, 2, 3, 4, 5]
        health = s.health()
        assert health["over_capacity"] == 2 and health["rows"] == 5 and health["dropped_undelivered"] == 1
        assert s.ack(5) == 5
        assert [r["seq"] for r in s.query()] == [3, 4, 5], "once delivered, the oldest go back to the limit"
        assert s.health()["over_capacity"] == 0
    finally:
        s.close()


KINDS = {
    "info": (E.OUTPUT, E.SEVERITY_INFO),
    "warning": (E.INHIBIT, E.SEVERITY_WARNING),
    "alarm": (E.DETECTOR, E.SEVERITY_ALARM),
    "fault": (E.VALVE_FAULT, E.SEVERITY_FAULT),
    "trip": (E.TRIP, E.SEVERITY_ALARM),
    "reset": (E.RESET, E.SEVERITY_INFO),
    "refused": (E.RESET_REFUSED, E.SEVERITY_WARNING),
}
SAFETY_KINDS = ("alarm", "fault", "trip", "reset", "refused")
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=6)),
    st.tuples(st.just("ack"), st.integers(min_value=0, max_value=8)),  # how far back from the newest
), min_size=1, max_size=12)


@given(max_events=st.integers(min_value=1, max_value=6), operations=OPERATIONS)
def test_retention_keeps_every_undelivered_safety_event_over_random_appends_and_acks(max_events, operations):
    with tempfile.TemporaryDirectory() as directory:
        s = open_store(os.path.join(directory, "events.db"), max_events=max_events)
        model = {}  # seq -> [kind, delivered]
        safety_undelivered = set()
        seq = 0
        try:
            for op, arg in operations:
                if op == "append":
                    batch = []
                    for kind in arg:
                        seq += 1
                        batch.append(rec(seq, *KINDS[kind]))
                        model[seq] = [kind, False]
                        if kind in SAFETY_KINDS:
                            safety_undelivered.add(seq)
                    s.append(batch)
                else:
                    up_to = seq - arg
                    for number, row in model.items():
                        if number <= up_to:
                            row[1] = True
                    safety_undelivered = {n for n in safety_undelivered if n > up_to}
                    s.ack(up_to)
                _model_retention(model, max_events)
                assert s.flush(WAIT_S)
                rows = {r["seq"]: r for r in s.query()}
                assert safety_undelivered <= set(rows), "an undelivered safety event was dropped"
                kept_beyond = len(rows) > max_events
                assert not kept_beyond or all(n in safety_undelivered for n in rows)
                assert sorted(rows) == sorted(model)
                assert all(rows[n]["delivered"] == model[n][1] for n in rows)
        finally:
            # a deadline a loaded machine keeps: the writer's last commit and fsync may take longer than the 5 s a
            # unit's stop allows (a CI run beside other work once left it writing while the directory went)
            closed = s.close(timeout_s=60)
        assert closed, "the store's writer finished"


def _model_retention(model, max_events):
    """The documented order, written independently: rank, then oldest first; undelivered safety kept."""
    def rank(item):
        number, (kind, delivered) = item
        return (retention_rank(KINDS[kind][1], KINDS[kind][0], delivered), number)

    candidates = sorted((item for item in model.items() if rank(item)[0] != 9), key=rank)
    for number, _ in candidates[:max(0, len(model) - max_events)]:
        del model[number]


def test_retention_ranks_follow_the_issue():
    assert retention_rank(E.SEVERITY_ALARM, E.DETECTOR, False) == 9
    assert retention_rank(E.SEVERITY_INFO, E.RESET, False) == 9
    assert retention_rank(E.SEVERITY_WARNING, E.RESET_REFUSED, False) == 9
    assert retention_rank(E.SEVERITY_INFO, E.OUTPUT, True) < retention_rank(E.SEVERITY_WARNING, E.INHIBIT, True) \
        < retention_rank(E.SEVERITY_ALARM, E.TRIP, True) < retention_rank(E.SEVERITY_INFO, E.OUTPUT, False) \
        < retention_rank(E.SEVERITY_WARNING, E.COMMAND, False)


# ---- reading ----

def test_unacked_returns_undelivered_events_in_seq_order(store):
    store.append([rec(n) for n in range(1, 8)])
    assert store.flush(WAIT_S)
    assert store.ack(3) == 3 and store.ack(3) == 0
    assert [r["seq"] for r in store.unacked(10)] == [4, 5, 6, 7]
    assert [r["seq"] for r in store.unacked(2)] == [4, 5]
    assert [r["seq"] for r in store.unacked(10, after_seq=5)] == [6, 7]


def test_query_filters_by_seq_time_and_type(store, wall):
    for n, (now, type_) in enumerate([("2026-11-24T08:00:00.000Z", E.STARTUP), ("2026-11-24T12:00:00.000Z", E.TRIP),
                                      ("2026-11-24T12:00:00.500Z", E.OUTPUT), ("2026-11-25T09:30:00.000Z", E.RESET)],
                                     start=1):
        wall.now = now
        store.append([rec(n, type_)])
    assert store.flush(WAIT_S)
    seqs = lambda **kw: [r["seq"] for r in store.query(**kw)]  # noqa: E731
    assert seqs() == [1, 2, 3, 4]
    assert seqs(since=3) == [3, 4] and seqs(since="3") == [3, 4]
    assert seqs(since="2026-11-24T12:00:00Z") == [2, 3, 4]
    assert seqs(since="2026-11-24T12:00:00.001+00:00") == [3, 4]
    assert seqs(since="2026-11-24T13:00:00+02:00") == [2, 3, 4]
    assert seqs(since="2026-11-25") == [4]
    assert seqs(types=[E.TRIP, E.RESET]) == [2, 4] and seqs(types=E.TRIP) == [2]
    assert seqs(limit=2) == [3, 4], "without since, the newest"
    assert seqs(since=1, limit=2) == [1, 2], "with since, the first from there"
    assert seqs(types=[E.OUTPUT, E.STARTUP], limit=1) == [3]
    with pytest.raises(ValueError, match="neither a sequence number nor a UTC time"):
        store.query(since="yesterday")


@given(st.datetimes(timezones=st.timezones()))
def test_since_times_in_any_offset_become_the_stored_utc_form(moment):
    column, bound = parse_since(moment.isoformat())
    utc = moment.astimezone(__import__("datetime").timezone.utc)
    assert column == "wall_ts"
    assert bound == utc.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (utc.microsecond // 1000)


@given(st.text(max_size=40))
def test_since_parser_accepts_or_says_why_for_any_text(text):
    try:
        column, bound = parse_since(text)
    except ValueError as err:
        assert "neither a sequence number nor a UTC time" in str(err)
    else:
        assert (column, type(bound)) in (("seq", int), ("wall_ts", str))


# ---- opening: schema, foreign and damaged files ----

def _make_store(path, records=3):
    s = open_store(path, max_events=records)
    s.append([rec(n) for n in range(1, records + 1)])
    assert s.flush(WAIT_S)
    s.close()


def test_a_store_from_a_newer_gaslatch_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "events.db"
    _make_store(path)
    with sqlite3.connect(str(path)) as db:
        db.execute("PRAGMA user_version = 2")
    before = digest(path)
    with pytest.raises(StoreError) as err:
        open_store(path)
    assert str(path) in str(err.value) and "newer gaslatch" in str(err.value) and "schema 2" in str(err.value)
    assert digest(path) == before
    with pytest.raises(StoreError, match="newer gaslatch"):
        EventReader(str(path))


def test_a_foreign_sqlite_file_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(str(path)) as db:
        db.execute("CREATE TABLE recipes (name TEXT)")
    before = digest(path)
    with pytest.raises(StoreError, match="not a gaslatch event store"):
        open_store(path)
    assert digest(path) == before


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_file_is_a_store_error_naming_the_file_and_what_to_do(tmp_path, damage):
    path = tmp_path / "events.db"
    if damage == "garbage":
        path.write_bytes(b"this is not sqlite at all\n" * 400)
    else:
        _make_store(path, records=20000)
        os.truncate(path, os.path.getsize(path) // 2 // 4096 * 4096)
    with pytest.raises(StoreError) as err:
        open_store(path)
    message = str(err.value)
    assert str(path) in message and "move it aside" in message and "Traceback" not in message
    with pytest.raises(StoreError, match="move it aside"):
        EventReader(str(path)).query()


def test_damage_inside_the_file_shows_in_health_after_the_startup_check(tmp_path):
    path = tmp_path / "events.db"
    _make_store(path, records=20000)
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2 // 4096 * 4096)
        handle.write(b"\xa5" * 4096)
    s = open_store(path)
    try:
        health = health_when(s, lambda h: h["integrity"] != "checking", "the integrity check")
        assert health["integrity"].startswith("damaged") and not health["ok"]
        assert "事件存储故障：已损坏：" in store_problem_in_chinese(health), "gaslatch status says it in Chinese"
    finally:
        s.close()


def test_a_directory_at_the_store_path_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        open_store(tmp_path)


def _foreign_database(path):
    with sqlite3.connect(str(path)) as db:
        db.execute("CREATE TABLE recipes (name TEXT)")


def _newer_store(path):
    _make_store(path)
    with sqlite3.connect(str(path)) as db:
        db.execute("PRAGMA user_version = 99")


def _store_in_use(path):
    return open_store(path)  # held open by this "other process" while the unit opens it


def _garbage(path):
    path.write_bytes(b"\x00garbage" * 1000)


def _missing_tables(path):
    _make_store(path)
    with sqlite3.connect(str(path)) as db:
        db.execute("DROP TABLE events")


def _file_as_directory(path):
    path.parent.write_text("a file where the store's directory should be")


@pytest.mark.parametrize("make, store_path, english", [
    (_foreign_database, "events.db", "is an SQLite database but not a gaslatch event store"),
    (_newer_store, "events.db", "was written by a newer gaslatch"),
    (_store_in_use, "events.db", "another gaslatch process is writing this store"),
    (_garbage, "events.db", "cannot be read: "),
    (_missing_tables, "events.db", "is missing its tables"),
    (_file_as_directory, "not-a-dir/events.db", "cannot open its lock file"),
    (lambda path: path.mkdir(), "events.db", "is a directory"),
])
def test_a_store_the_unit_cannot_open_is_explained_in_chinese_by_status(tmp_path, make, store_path, english):
    # The unit runs on without its store (UnavailableStore) and `gaslatch status` says why and what to do: each
    # real failure, provoked on a real file, read under zh, with its English kept for the journal and --json.
    path = tmp_path / store_path
    held = make(path)
    try:
        with pytest.raises(StoreError) as caught:
            open_store(path)
    finally:
        if held is not None:
            held.close()
    err = caught.value
    health = UnavailableStore(err).health()
    assert english in health["error"] and health["error"] == str(err)
    said = store_problem_in_chinese(health)
    chinese = in_language(CHINESE).gettext
    problem, hint = err.values["problem"].told(chinese), err.values["hint"].told(chinese)
    assert "事件库 %s：%s" % (path, problem) in said, said
    assert hint in said and hint != err.hint, said
    assert english not in said and err.hint not in said, said


# Any text, lone surrogates and NUL included, the joiners the phrasebook splits at, a template, and one too long.
HOSTILE = st.text(st.characters(codec=None, exclude_categories=()), max_size=60) | st.sampled_from(
    ["; ", ": ", "\x00", "\ud800", "%(x)s", "/srv/x: y", "x" * 5000])


@given(HOSTILE, HOSTILE)
def test_status_reads_any_store_path_and_error_without_failing(path, error):
    # A path or an OS error with "; ", ": ", NUL, lone surrogates or a template's %(x)s: status shows the line,
    # in Chinese where the record can be read as the store's sentence, as recorded where it cannot.
    from gaslatch.unit import store_health as H
    err = StoreError(path, *H.NO_FILE, error=error)
    said = store_problem_in_chinese(UnavailableStore(err).health())
    assert said.startswith("事件存储故障：")
    if not {";", ":", "%"} & set(path + error) and path.isprintable() and error.isprintable() and path and error \
            and len(path + error) < 1000:
        assert "无法创建文件" in said and "该目录必须可由运行 gaslatch 的用户写入" in said, said


def test_a_second_writer_on_the_same_store_is_refused(store):
    with pytest.raises(StoreError, match="another gaslatch process is writing this store"):
        open_store(store.path)


# ---- gaslatch events ----

def events_command(*args: str):
    return run_unit_command("events", *args)


def _filled_store(path, wall):
    s = open_store(path, wall=wall)
    wall.synced = False
    s.append([rec(1, E.STARTUP, E.SEVERITY_WARNING, "controller", "latched", None, "power on")])
    wall.now, wall.synced = "2026-11-24T21:50:41.123Z", True
    s.append([alarm(2), rec(3, E.TRIP, E.SEVERITY_ALARM, "controller", "latched", None, "gas: d1 high alarm")])
    wall.now = "2026-11-24T22:10:00.000Z"
    s.append([rec(4, E.RESET, E.SEVERITY_INFO, "reset_button", "armed", None, "local reset")])
    assert s.flush(WAIT_S)
    s.ack(2)
    return s


def test_events_lists_and_filters_the_store_without_writing_it(tmp_path, wall):
    path = tmp_path / "events.db"
    s = _filled_store(path, wall)
    s.close()
    before = digest(path)
    result = events_command("--store", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "(UTC)", "SEVERITY", "EVENT", "SENT", "REASON"]
    assert lines[1].split()[:4] == ["1", "2026-11-24T21:50:41.123Z?", "warning", "controller"]
    assert lines[2].split() == ["2", "2026-11-24T21:50:41.123Z", "alarm", "detector", "d1:", "high", "alarm",
                                "(25.50", "%LEL)", "yes", "gas:", "d1", "high", "alarm"]
    assert lines[-1].startswith("? the unit's clock was not synchronised")

    result = events_command("--store", str(path), "--json", "--type", "trip", "--type", "reset")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["seq"], r["type"], r["delivered"]) for r in rows] == [(3, "trip", False), (4, "reset", False)]
    assert list(rows[0]) == ["id", "seq", "t_ms", "wall_ts", "clock_synced", "type", "severity", "source", "state",
                             "value", "reason", "delivered"]
    assert rows[1]["wall_ts"] == "2026-11-24T22:10:00.000Z" and rows[1]["id"].endswith("-000000000004")

    result = events_command("--store", str(path), "--json", "--since", "2026-11-24T22:00Z")
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [4]
    result = events_command("--store", str(path), "--json", "--since", "2", "--limit", "2")
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [2, 3]
    result = events_command("--store", str(path), "--json", "--limit", "1")
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [4]
    assert digest(path) == before, "the listing never writes the store"
    assert not os.path.exists(str(path) + "-wal") or os.path.getsize(str(path) + "-wal") == 0


def test_events_sees_what_a_running_unit_has_recorded(tmp_path, wall):
    path = tmp_path / "events.db"
    s = _filled_store(path, wall)
    try:
        s.append([rec(5)])
        assert s.flush(WAIT_S)
        result = events_command("--store", str(path), "--json")
        assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [1, 2, 3, 4, 5]
    finally:
        s.close()


def test_events_reads_a_stopped_units_store_as_an_operator_who_may_not_write_there(wall):
    nogroup = 65534
    directory = tempfile.mkdtemp(prefix="gaslatch-store-")  # outside pytest's 0700 tree, as /var/lib/gaslatch
    try:
        path = os.path.join(directory, "events.db")
        _filled_store(path, wall).close()
        for name in (directory, path):  # the unit's layout: root-owned here, the operator only in its group
            os.chown(name, 0, nogroup)
        os.chmod(directory, 0o750)
        assert not os.path.exists(path + "-wal"), "a stopped unit leaves no write-ahead log"
        before = digest(path)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(nogroup)
                os.setuid(nogroup)
                result = events_command("--store", path, "--json")
                os.write(write_end, json.dumps([result.exit_code, result.output]).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            exit_code, output = json.loads(pipe.read())
        os.waitpid(pid, 0)
        assert exit_code == 0, output
        assert [json.loads(line)["seq"] for line in output.splitlines()] == [1, 2, 3, 4]
        assert digest(path) == before and not os.path.exists(path + "-wal")
    finally:
        shutil.rmtree(directory)


def test_events_takes_the_store_path_from_the_config(tmp_path, wall):
    path = tmp_path / "events.db"
    _filled_store(path, wall).close()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"unit": {"site": "s", "name": "n"}, "store": {"path": str(path)}}))
    result = events_command("--config", str(config), "--json", "--type", "startup")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [1]


@pytest.mark.parametrize("args, message", [
    (["--store", "{tmp}/missing.db"], "no such file"),
    (["--store", "{tmp}/garbage.db"], "move it aside"),
    (["--config", "{tmp}/broken.json"], "is not valid JSON"),
    (["--store", "{tmp}/garbage.db", "--since", "last tuesday"], "neither a sequence number nor a UTC time"),
    (["--store", "{tmp}/garbage.db", "--type", "trips"], "invalid choice: 'trips'"),
])
def test_events_explains_a_bad_store_or_option_without_a_traceback(tmp_path, args, message):
    (tmp_path / "garbage.db").write_bytes(b"\x00garbage" * 1000)
    (tmp_path / "broken.json").write_text("{\"store\": ")
    result = events_command(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, chinese, english", [
    (["--store", "{tmp}/missing.db"], "事件库 {tmp}/missing.db：文件不存在；用 --store PATH 或 --config FILE 指定控制器的事件库",
     "event store {tmp}/missing.db: no such file; give the unit's store with --store PATH or --config FILE"),
    (["--store", "{tmp}/empty.db"], "事件库 {tmp}/empty.db：文件是空的，还不是事件库；",
     "event store {tmp}/empty.db: the file is empty, not an event store yet;"),
    (["--store", "{tmp}/garbage.db"], "无法读取：file is not a database；文件已损坏或不是 SQLite 数据库：停止 gaslatch",
     "cannot be read: file is not a database; the file is damaged or is not an SQLite database: stop gaslatch"),
    (["--store", "{tmp}"], "事件库 {tmp}：是一个目录；用 --store PATH 指定事件库文件（配置 store.path），而不是它所在的目录",
     "event store {tmp}: is a directory; give the store's file (config store.path), not its directory"),
    (["--config", "{tmp}/dir.json"], "事件库 {tmp}：是一个目录；", "event store {tmp}: is a directory;"),
    (["--store", "{tmp}/garbage.db", "--since", "yesterday"],
     "'yesterday' 既不是序号，也不是形如 2026-11-24T21:50:00Z 的 UTC 时间",
     "'yesterday' is neither a sequence number nor a UTC time like 2026-11-24T21:50:00Z"),
    (["--store", "{tmp}/garbage.db", "--limit", "-3"], "-3 不是大于等于 1 的整数", "-3 is not a whole number of at least 1"),
    (["--store", "{tmp}/garbage.db", "--limit", "0"], "0 不是大于等于 1 的整数", "0 is not a whole number of at least 1"),
])
def test_events_explains_a_bad_store_or_option_in_the_readers_language(tmp_path, args, chinese, english):
    (tmp_path / "garbage.db").write_bytes(b"\x00garbage" * 1000)
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "dir.json").write_text(json.dumps({"store": {"path": str(tmp_path)}}))
    argv = [a.format(tmp=tmp_path) for a in args]
    for lang, said in (("zh", chinese), ("en", english)):
        result = run_unit_command("--lang", lang, "events", *argv)
        assert result.exit_code in (1, 2) and "Traceback" not in result.output
        assert said.format(tmp=tmp_path) in result.output, result.output
    assert "9.22" not in result.output and "disk I/O" not in result.output


def test_a_huge_limit_lists_every_event(tmp_path, wall):
    _filled_store(str(tmp_path / "events.db"), wall)
    result = events_command("--store", str(tmp_path / "events.db"), "--json", "--limit", "9" * 40)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [1, 2, 3, 4]


def test_a_store_error_keeps_its_english_for_the_journal_whatever_the_reader_reads(tmp_path):
    from gaslatch.translation import CHINESE, in_language
    with pytest.raises(StoreError) as caught:
        open_store(tmp_path)
    assert str(caught.value) == ("event store %s: is a directory; set store.path to a file name, e.g. "
                                 "/var/lib/gaslatch/events.db" % tmp_path)
    assert caught.value.told(in_language(CHINESE).gettext) == (
        "事件库 %s：是一个目录；把 store.path 设为文件名，例如 /var/lib/gaslatch/events.db" % tmp_path)
    assert caught.value.told(lambda message: "%(nope)s") == str(caught.value), "a broken translation: the English"


@pytest.mark.parametrize("error, hint", [("database is locked", 0), ("database or disk is full", 1),
                                         ("attempt to write a readonly database", 2), ("disk I/O error", 1),
                                         ("unable to open database file", 3)])
def test_each_write_failure_says_what_to_do_and_reads_in_chinese(error, hint):
    from gaslatch import recorded_text as R
    from gaslatch.translation import CHINESE, in_language
    from gaslatch.unit.event_store import _write_hint
    said = R.STORE_WRITE_ERROR % {"error": error, "hint": _write_hint(sqlite3.OperationalError(error))}
    assert said == "cannot write: %s (%s)" % (error, R.STORE_WRITE_HINTS[hint])
    chinese = R.translate(said, in_language(CHINESE).gettext)
    assert chinese.startswith("无法写入：%s（" % error) and chinese.endswith("）"), chinese
    assert not set("abcdefghijklmnopqrstuvwxyz") & set(chinese.replace(error, "").replace("gaslatch", "")
                                                       .replace("events", "").replace("SD", "")), chinese
