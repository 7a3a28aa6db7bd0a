"""The audit log keeps any action's record readable: hostile names and notes as safe text, the detail always whole
JSON within its bound, rows only added."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch_tools.platform import audit
from gaslatch_tools.platform.storage import SqliteStorage

ANY_TEXT = st.text(st.characters(codec=None), max_size=3000)
VALUES = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT | st.lists(st.integers(), max_size=5)


@settings(max_examples=200, deadline=None)
@given(actor=ANY_TEXT, action=ANY_TEXT, detail=st.dictionaries(ANY_TEXT, VALUES, max_size=30))
def test_any_actor_action_and_detail_are_recorded_as_whole_json_within_the_bound(tmp_path_factory, actor, action,
                                                                                 detail):
    storage = SqliteStorage(str(tmp_path_factory.mktemp("audit") / "a.sqlite"))
    try:
        audit.prepare(storage)
        storage.write(lambda x: audit.record(x, 1, actor, action, "t", site="s", detail=detail, origin="test"))
        (row,) = audit.rows(storage)
        kept = json.loads(row.detail)
        assert len(row.detail) <= audit.MAX_DETAIL_CHARS and len(kept) <= audit.MAX_DETAIL_KEYS
        assert len(row.actor) <= 100 and "\x00" not in row.actor and "\x00" not in row.detail
        row.actor.encode("utf-8")  # never a lone surrogate: any database and any page can hold it
        row.detail.encode("utf-8")
    finally:
        storage.close()


def test_rows_are_filtered_by_site_for_a_scoped_reader(tmp_path):
    storage = SqliteStorage(str(tmp_path / "a.sqlite"))
    audit.prepare(storage)
    for site in ("a", "b", None):
        storage.write(lambda x, site=site: audit.record(x, 1, "u", "act", "t", site=site))
    assert [r.site for r in audit.rows(storage, frozenset({"a"}))] == ["a"]
    assert audit.rows(storage, frozenset()) == []
    assert len(audit.rows(storage)) == 3
    storage.close()
