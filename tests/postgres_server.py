"""A real PostgreSQL server on loopback for tests: one per test session, a fresh database per test.

Installed by scripts/test.sh (apt-get install postgresql); a missing server fails the tests, never skips them.
"""

import itertools

import pytest

from gaslatch_tools.pg_server import PostgresServer

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server (gaslatch_tools.pg_server.PostgresServer), fsync off."""
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
