"""The ids of accepted platform commands survive a restart: saved whole and atomically, read back bounded."""

import json
import os

import pytest

from gaslatch.core import uplink_wire as W
from gaslatch.unit.replay_ids import MAX_FILE_BYTES, ReplayFileError, load_seen, replay_file_for, save_seen


def test_saved_ids_are_read_back_after_a_restart(tmp_path):
    path = replay_file_for(str(tmp_path / "events.db"))
    seen = {"c%d" % i: 1795560000 + i for i in range(W.MAX_SEEN_IDS)}
    save_seen(path, seen)
    assert load_seen(path) == seen
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not os.path.exists(path + ".tmp")


def test_the_largest_file_the_unit_writes_fits_the_read_limit(tmp_path):
    path = str(tmp_path / "seen.json")
    save_seen(path, {"\U0001f525" * (W.MAX_ID_CHARS - 3) + "%03d" % i: -2 ** 63 for i in range(W.MAX_SEEN_IDS)})
    assert os.path.getsize(path) <= MAX_FILE_BYTES


def test_no_file_yet_means_no_id_seen(tmp_path):
    assert load_seen(str(tmp_path / "none.json")) == {}


def test_a_file_cut_short_before_the_rename_leaves_the_saved_ids_intact(tmp_path):
    path = str(tmp_path / "seen.json")
    save_seen(path, {"c1": 1})
    with open(path + ".tmp", "wb") as f:  # a power cut while the next save was writing
        f.write(b'{"seen": {"c1": 1, "c2"')
    assert load_seen(path) == {"c1": 1}


@pytest.mark.parametrize("content", [
    b"", b"not json", b'{"seen": []}', b'{"seen": {"c1": "1"}}', b'{"seen": {"c1": true}}',
    json.dumps({"seen": {"x" * (W.MAX_ID_CHARS + 1): 1}}).encode(),
    json.dumps({"seen": {"c%d" % i: 1 for i in range(W.MAX_SEEN_IDS + 1)}}).encode(),
    b" " * (MAX_FILE_BYTES + 1),
])
def test_a_file_the_unit_did_not_write_is_refused_with_what_happens_next(tmp_path, content):
    path = tmp_path / "seen.json"
    path.write_bytes(content)
    with pytest.raises(ReplayFileError, match="unreadable .*refused as possible replays for 60 s"):
        load_seen(str(path))


def test_a_save_that_cannot_write_says_which_file(tmp_path):
    with pytest.raises(ReplayFileError, match="cannot save .*missing"):
        save_seen(str(tmp_path / "missing" / "seen.json"), {"c1": 1})
