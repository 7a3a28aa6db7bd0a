"""PostgreSQL storage specifics against a real server: schema creation, lost connections, URLs and passwords.

The receiver's behaviour on PostgreSQL is tested in test_receiver.py, beside SQLite.
"""

import psycopg
import pytest
from click.testing import CliRunner

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.testing.ports import free_port
from gaslatch_tools.platform.cli import platform
from gaslatch_tools.platform.storage import Batch, Event, Gap, StorageError, open_storage
from gaslatch_tools.platform.delivery import StoreKey
from gaslatch_tools.platform.storage_pg import PgStorage, redacted

# Fixtures: postgres (a real server for the session), postgres_url, platform_db (each storage kind).


def event(seq, id_=None, unit="kitchen-1"):
    return Event("site-1", unit, id_ or "id-%d" % seq, seq, "2026-11-24T21:50:41.123Z", seq * 100, True, E.DETECTOR,
                 E.SEVERITY_INFO, "det1", "normal", "null", "")


def insert(storage, *events, at="2026-11-24T21:50:42.000Z"):
    """The stored flag of each event, stored in one batch."""
    return storage.store(Batch(events=[(e, at) for e in events]), at).stored


def test_a_postgresql_url_selects_the_postgresql_storage(postgres_url):
    storage = open_storage(postgres_url)
    try:
        assert isinstance(storage, PgStorage)
    finally:
        storage.close()


def test_opening_the_same_database_again_keeps_its_tables_and_rows(postgres_url):
    first = PgStorage(postgres_url)
    assert insert(first, event(1)) == [True]
    first.close()
    second = PgStorage(postgres_url)
    try:
        assert insert(second, event(1), event(3), event(3, id_="other"), event(3)) == [False, True, True, False]
        assert second.gaps() == [Gap("site-1", "kitchen-1", 2, 2)]
    finally:
        second.close()


def test_a_role_without_create_rights_runs_the_receiver_once_the_tables_exist(postgres, postgres_url):
    PgStorage(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as owner:
        owner.execute("CREATE ROLE receiver LOGIN PASSWORD 'receiver-pw'")
        owner.execute("GRANT SELECT, INSERT, UPDATE ON events, unit_state, unit_status, unit_delivery, lost_ranges "
                      "TO receiver")
    url = postgres_url.replace("%s:%s@" % ("gaslatch", postgres.password), "receiver:receiver-pw@")
    storage = PgStorage(url)
    try:
        assert insert(storage, event(1, id_=W.event_id("ab12", 1))) == [True]
        assert storage.through(StoreKey("site-1", "kitchen-1", "ab12")) == 1
        for status in ("online", "offline"):
            storage.store(Batch(statuses={("site-1", "kitchen-1"): (status, "2026-11-24T21:50:43.000Z")}), "")
        assert storage.status("site-1", "kitchen-1") == "offline"
    finally:
        storage.close()
        with psycopg.connect(postgres_url, autocommit=True) as owner:
            owner.execute("DROP OWNED BY receiver")
            owner.execute("DROP ROLE receiver")


def test_a_lost_connection_is_reopened_and_the_insert_goes_through(postgres, postgres_url):
    storage = PgStorage(postgres_url)
    try:
        insert(storage, event(1))
        backend_pid = storage._conn.info.backend_pid
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,)).fetchone() == (True,)
        assert insert(storage, event(2)) == [True]
        assert storage._conn.info.backend_pid != backend_pid
        assert [row[3] for row in storage.iter_events()] == [1, 2]
    finally:
        storage.close()


def test_an_unreachable_database_is_named_without_its_password():
    url = "postgresql://gaslatch:s3cret-pw@127.0.0.1:%d/fleet" % free_port()
    with pytest.raises(StorageError) as err:
        PgStorage(url)
    assert "127.0.0.1" in str(err.value) and "fleet" in str(err.value)
    assert "s3cret-pw" not in str(err.value)
    result = CliRunner().invoke(platform, ["--db", url, "--csv", "-"])
    assert result.exit_code == 1
    assert "cannot connect to PostgreSQL" in result.output and "s3cret-pw" not in result.output


def test_a_wrong_password_is_refused_and_reported(postgres):
    url = postgres.url().replace(postgres.password, "wrong")
    with pytest.raises(StorageError) as err:
        PgStorage(url)
    assert "password authentication failed" in str(err.value)


def test_redacted_urls_hide_only_the_password():
    shown = redacted("postgresql://ops:pw123@db.city.example:5433/fleet?sslmode=require")
    assert "pw123" not in shown
    assert all(part in shown for part in ("ops", "db.city.example", "5433", "fleet", "sslmode=require"))


class CommitsAnotherFirst(PgStorage):
    """A receiver's storage that lets `other` run (another receiver's whole batch, on its own connection) once,
    between its walk of the delivery points and the upsert of them: the moment two receivers' batches of one
    store cross on PostgreSQL."""

    def __init__(self, url, other):
        PgStorage.__init__(self, url)
        self.other = other

    def _execute(self, conn, sql, params=()):
        if sql.lstrip().startswith("INSERT INTO unit_delivery") and self.other is not None:
            other, self.other = self.other, None
            other()
        return PgStorage._execute(self, conn, sql, params)


def test_a_store_whose_point_another_receiver_moved_meanwhile_is_walked_on_to_its_own_events(postgres_url):
    # Two receivers share one unit's events (MQTT $share): this one stores 151..200 while the other stores 1..150.
    # Neither walk sees the other's uncommitted rows. The other commits its point 150 first; this one must not
    # take 150 as the end (nobody walked 151..200, and no hole is left to look at again): the unit would wait for
    # an ack through 200 until it re-sent them all.
    store = "c3c3c3c3c3c3c3c3"
    events = [event(seq, W.event_id(store, seq)) for seq in range(1, 201)]
    key = StoreKey("site-1", "kitchen-1", store)
    other = PgStorage(postgres_url)
    mine = CommitsAnotherFirst(postgres_url, lambda: other.store(Batch(events=[(e, "t") for e in events[:150]]), "t"))
    try:
        committed = mine.store(Batch(events=[(e, "t") for e in events[150:]]), "t")
        assert mine.other is None, "the other receiver's batch ran between the walk and the upsert"
        assert [(d.key, d.through, d.moved, d.hole) for d in committed.deliveries] == [(key, 200, True, None)]
        assert other.through(key) == 200
    finally:
        mine.close()
        other.close()
