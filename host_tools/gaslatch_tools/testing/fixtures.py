"""The kit's pytest fixtures: a real mosquitto per test, a real PostgreSQL server per session and a database per test,
a mail server and an HTTP sink per test for the notifier.

tests/conftest.py loads this module as a plugin. A missing mosquitto or PostgreSQL fails the tests, never skips them.
"""

import itertools

import pytest

from gaslatch_tools.testing.broker import Broker
from gaslatch_tools.testing.language import reading
from gaslatch_tools.testing.notice_sinks import HttpSink, SmtpSink
from gaslatch_tools.testing.postgres import PostgresServer

_database_numbers = itertools.count(1)


@pytest.fixture
def chinese():
    """The process reads Chinese for one test (as with --lang zh), then English again (tests/conftest.py)."""
    with reading("zh"):
        yield


@pytest.fixture
def broker(tmp_path):
    """mosquitto with the deploy configuration on a free loopback port, anonymous clients allowed."""
    b = Broker(str(tmp_path)).start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server (gaslatch_tools.testing.postgres.PostgresServer), fsync off."""
    with PostgresServer(durable=False) as server:
        yield server


@pytest.fixture
def postgres_url(postgres):
    """URL of an empty database of its own for this test."""
    return postgres.create_database("test_%d" % next(_database_numbers))


@pytest.fixture(params=("sqlite", "postgres"))
def platform_db(request, tmp_path):
    """A platform database of each kind, as `gaslatch platform --db` takes it: a SQLite path, a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "platform.sqlite")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def smtp_sink():
    """A mail server on loopback taking every message (notice_sinks.SmtpSink)."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def http_sink():
    """An HTTP sink on loopback standing in for an IM robot or an SMS gateway (notice_sinks.HttpSink)."""
    sink = HttpSink().start()
    yield sink
    sink.stop()
