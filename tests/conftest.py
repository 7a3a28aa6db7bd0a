"""Shared test settings: hypothesis profiles sized for CI and for nightly runs, and shared fixtures."""

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from gaslatch.translation import ENGLISH, language_from

# The `broker` fixture: a real mosquitto on loopback, for the uplink tests; `postgres`, `platform_db`:
# a throwaway PostgreSQL server, for the platform receiver's tests.
pytest_plugins = ["gaslatch_tools.testing.fixtures"]

# Messages follow the locale (gaslatch/translation.py): the tests read them in English on a machine set to
# Chinese too; the tests of the Chinese text ask for it themselves (--lang zh, or LANG=zh_CN.UTF-8 on their pty).
if language_from(None, os.environ) != ENGLISH:
    os.environ["LC_ALL"] = "C.UTF-8"

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("nightly", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session, exitstatus):
    """A skipped test is a failure here: in CI a missing broker, node or MicroPython must not pass."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line("FAILED: %d test(s) skipped; skips are not allowed" % len(skipped), red=True)
        session.exitstatus = 1


@pytest.fixture
def short_dir():
    """A short directory under /tmp: a UNIX socket path (sun_path) holds 107 bytes, pytest's tmp_path can be longer."""
    directory = tempfile.mkdtemp(prefix="gl-", dir="/tmp")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
