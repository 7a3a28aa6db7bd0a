"""What the panel shows an installer or inspector of the commissioning record installed on the unit.

Pure: the record (any JSON, or None when there is none) and the controller's status in, a plain dict out. The one
question an inspector asks first is whether the unit runs the configuration that was commissioned and signed:
the identity and version the record says were pushed, against the ones the controller reports now.
"""

from __future__ import annotations

from typing import Any

from gaslatch.core.events import safe_text
from gaslatch.panel.words import pair
from gaslatch.translation import N_

MATCH, DIFFERS, UNKNOWN = "match", "differs", "unknown"
BUMP_TESTS = N_("bump tests")
TESTS = (("valve_tests", N_("valve tests")), ("interlock_tests", N_("interlock tests")))


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _shown(value: Any) -> str:
    """A record's text as a page may show it (the record is a file anyone with the installer's laptop wrote):
    controls, bidi marks and lone surrogates escaped, as events.safe_text does for every event."""
    return safe_text(str(value)) if value not in (None, "") else ""


def _passed(entries: Any) -> tuple[int, int]:
    """(passed, all) of a list of test entries."""
    listed = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    return sum(1 for e in listed if e.get("passed") is True), len(listed)


def _version(value: Any) -> int | str | None:
    """The push counter as shown: a number as it is, anything else as text."""
    return value if value is None or (isinstance(value, int) and not isinstance(value, bool)) else _shown(value)


def commissioning_view(record: Any, status: dict | None) -> dict:
    record = _dict(record)
    pushed = _dict(record.get("config"))
    running = _dict(_dict(status).get("config"))
    if not pushed.get("identity") or not running.get("identity"):
        verdict = UNKNOWN
    elif pushed.get("identity") == running.get("identity") and pushed.get("version") == running.get("version"):
        verdict = MATCH
    else:
        verdict = DIFFERS
    bumps = [0, 0]
    for entry in _dict(record.get("detectors")).values():
        done, total = _passed(_dict(entry).get("bump_tests"))
        bumps = [bumps[0] + done, bumps[1] + total]
    tests = [(pair(BUMP_TESTS), tuple(bumps))] + [(pair(words), _passed(record.get(key))) for key, words in TESTS]
    return {
        "verdict": verdict,
        "pushed": {"identity": _shown(pushed.get("identity")), "version": _version(pushed.get("version")),
                   "at": _shown(pushed.get("pushed_at"))},
        "running": {"identity": _shown(running.get("identity")), "version": _version(running.get("version"))},
        "site": _shown(_dict(record.get("site")).get("name")),
        "installer": " ".join(_shown(_dict(record.get("installer")).get(k)) for k in ("name", "company")).strip(),
        "tests": tests,
    }
