"""A batch's delivery walks, run for every store it touched at once, agree with each store walked alone from what
is stored: on SQLite and PostgreSQL, across the window of RUN_CHUNK seqs the walks first read, with a unit's
second store (a replaced SD card) and its lost ranges."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform import delivery as D
from gaslatch_tools.platform.delivery import StoreKey
from gaslatch_tools.platform.storage import RUN_CHUNK, Batch, Event, Gone

SITE = "site-1"
AT = "2026-12-07T02:00:01.000Z"
STORES = ("a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2")
_examples = itertools.count()


def event(unit: str, store: str, seq: int) -> Event:
    return Event(SITE, unit, W.event_id(store, seq), seq, "2026-12-07T02:00:00.000Z", seq, True, E.DETECTOR,
                 E.SEVERITY_INFO, "d1", "normal", "120", "")


def runs(seqs: set[int], after: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for seq in sorted(s for s in seqs if s > after):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


# Seqs near 1 and on both sides of the first window's end (RUN_CHUNK above a point of 0 or a few).
seqs = st.one_of(st.integers(1, 12), st.integers(RUN_CHUNK - 3, RUN_CHUNK + 12),
                 st.integers(2 * RUN_CHUNK, 2 * RUN_CHUNK + 3))
messages = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(STORES), seqs, st.integers(0, 5)), min_size=1,
                    max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(messages, min_size=1, max_size=4))
def test_every_store_in_a_batch_is_acknowledged_as_far_as_walking_it_alone_goes(module_storage, batches):
    prefix = "u%d-" % next(_examples)
    stored: dict[StoreKey, set[int]] = {}
    lost: dict[StoreKey, list[tuple[int, int]]] = {}
    through: dict[StoreKey, int] = {}
    for messages_ in batches:
        batch = Batch()
        for unit_no, store, seq, gone_length in messages_:
            unit = prefix + str(unit_no)
            if gone_length:  # the unit reports seq .. seq + gone_length - 1 gone instead of sending them
                batch.gones.append((Gone(SITE, unit, store, seq, seq + gone_length - 1, "retention"), AT))
            else:
                batch.events.append((event(unit, store, seq), AT))
        committed = module_storage.store(batch, AT)
        units_before = {(k.site, k.unit) for k in through}
        new_keys = set()
        for e, _ in batch.events:
            key = StoreKey(e.site, e.unit, STORES[0] if e.id.startswith(STORES[0]) else STORES[1])
            stored.setdefault(key, set()).add(e.seq)
            new_keys.add(key)
        for g, _ in batch.gones:
            key = StoreKey(g.site, g.unit, g.store)
            lost.setdefault(key, []).append((g.first, g.last))
            new_keys.add(key)
        assert sorted(d.key for d in committed.deliveries) == sorted(new_keys)
        seen_units = set(units_before)
        for d in committed.deliveries:  # in key order, as stored
            start = through.get(d.key, 0)
            expected, hole = D.walk(start, runs(stored.get(d.key, set()), start), lost.get(d.key, []))
            assert (d.through, d.moved) == (expected, expected > start), d.key
            assert (d.hole is None) == (hole is None), d.key
            if hole is not None:
                assert d.hole[0] == hole[0], d.key
            assert d.replaced == (d.key not in through and (d.key.site, d.key.unit) in seen_units), d.key
            seen_units.add((d.key.site, d.key.unit))
            through[d.key] = max(start, expected)
            assert module_storage.through(d.key) == through[d.key]


def test_a_run_longer_than_the_first_window_is_acknowledged_to_its_end_and_a_hole_beyond_it_is_found(module_storage):
    unit = "long-run"
    missing = 2 * RUN_CHUNK + 100
    batch = Batch(events=[(event(unit, STORES[0], seq), AT) for seq in range(1, missing + 400) if seq != missing])
    (delivery,) = module_storage.store(batch, AT).deliveries
    assert delivery.through == missing - 1
    assert delivery.hole[0] == missing
