"""The HIL scenarios share the rule of the other tests: a skipped scenario fails the run. The run ends with the
tightest timed expectations of every scenario (limit less the time measured, from each summary.json's slack_s):
how close the run came to failing one, which a pass alone does not say."""

from tests.conftest import pytest_sessionfinish  # noqa: F401  (pytest calls it by name)

TIMED = "timed_expectations"  # the user property each scenario's test records them in
TIGHTEST_SHOWN = 10
_timed: list[dict] = []


def pytest_runtest_logreport(report):
    """Collects the timed expectations a test recorded (in the controlling process too under pytest-xdist)."""
    if report.when == "call":
        for key, value in report.user_properties:
            if key == TIMED:
                _timed.extend(value)


def pytest_terminal_summary(terminalreporter):
    if not _timed:
        return
    rows = sorted(_timed, key=lambda e: e["slack_s"])
    terminalreporter.section("tightest timed expectations: slack = limit - measured (%d timed, smallest %.3f s)"
                             % (len(rows), rows[0]["slack_s"]))
    for e in rows[:TIGHTEST_SHOWN]:
        terminalreporter.write_line("%7.3f s  %s: %s (measured %.3f s, limit %g s)" % (
            e["slack_s"], e["scenario"], e["name"], e["measured_s"], e["limit_s"]))
