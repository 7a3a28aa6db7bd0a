"""Telemetry on the platform: stored by the receiver from the real wire format, hostile payloads refused (and
nothing else stopped), pruned after 48 hours by the notifier's step, drawn around a warning for the console."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform import readings as RD
from gaslatch_tools.platform.receiver import PlatformReceiver
from gaslatch_tools.platform.storage import READINGS_KEEP_MS

TOPIC = W.topics("noodle-bar-7", "kitchen-1")["telemetry"]


def telemetry(values: dict, t_ms: int = 1000) -> bytes:
    return W.encode_telemetry({"ts": "2026-12-07T02:00:00.000Z", "t_ms": t_ms, "clock_synced": True,
                               "centi_pct_lel": values})


def rows(storage) -> list[tuple]:
    return storage.read(lambda x: x("SELECT site, unit, t_ms, centi_pct_lel FROM readings ORDER BY t_ms").fetchall())


def test_a_unit_s_telemetry_is_stored_and_drawn_around_a_warning(storage):
    receiver = PlatformReceiver(storage)
    assert receiver.handle(TOPIC, telemetry({"d1": 150, "d2": None}, 1000)) == "telemetry"
    assert receiver.handle(TOPIC, telemetry({"d1": 2600, "d2": 0}, 61000)) == "telemetry"
    assert [r[2:] for r in rows(storage)] == [(1000, '{"d1":150,"d2":null}'), (61000, '{"d1":2600,"d2":0}')]
    stored = RD.around(storage, "noodle-bar-7", "kitchen-1", storage.read(
        lambda x: x("SELECT MAX(received_ms) FROM readings").fetchone()[0]))
    assert [r.centi_pct_lel for r in stored] == [{"d1": 150, "d2": None}, {"d1": 2600, "d2": 0}]
    svg = RD.plot_svg(stored, stored[-1].received_ms, "noodle-bar-7/kitchen-1 $x$", None).decode()
    assert svg.startswith("<?xml") and "<script" not in svg and "d1" in svg


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=st.binary(max_size=300) | st.builds(
    lambda doc: json.dumps(doc).encode(),
    st.fixed_dictionaries({"ts": st.text(max_size=30), "t_ms": st.integers(-5, 2 ** 64),
                           "clock_synced": st.booleans() | st.none(),
                           "centi_pct_lel": st.dictionaries(st.text(max_size=40),
                                                            st.integers() | st.none() | st.text(max_size=3)
                                                            | st.floats(), max_size=5)})))
def test_any_telemetry_is_stored_when_valid_and_refused_otherwise_and_events_go_on(storage, payload):
    receiver = PlatformReceiver(storage)
    before = len(rows(storage))
    outcome = receiver.handle(TOPIC, payload)
    assert outcome in ("telemetry", "refused", "cleared")  # cleared: an empty payload, as for a retained topic
    assert len(rows(storage)) == before + (outcome == "telemetry")
    from tests.platform.test_notifier import event

    assert receiver.handle(W.topics("noodle-bar-7", "kitchen-1")["event"], W.encode_event(event(1))) in (
        "stored", "duplicate"), "a refused reading stops nothing"


def test_readings_older_than_two_days_are_pruned_by_the_notifier_s_step(storage):
    now = 10 * READINGS_KEEP_MS
    storage.write(lambda x: [x("INSERT INTO readings (site, unit, received_ms, t_ms, centi_pct_lel) "
                               "VALUES ('s', 'u', ?, 0, '{}')", (at,)) for at in (now - READINGS_KEEP_MS - 1,
                                                                                   now - READINGS_KEEP_MS + 1, now)])
    assert storage.write(lambda x: RD.prune_in(x, None, now)) == (0, 1)
    assert len(rows(storage)) == 2
    from gaslatch_tools.platform import notifier

    assert RD.prune_in in notifier.CHECKS
