"""The ids of signed platform commands already accepted, kept on disk so a restart forgets none of them.

A command captured on the wire stays valid for uplink_wire.COMMAND_WINDOW_S; if the unit forgot its
ids at every restart, a power cut inside that window would let the capture be replayed. The file is
small (at most MAX_SEEN_IDS ids), written whole and atomically (temp file, fsync, rename, fsync of the
directory) before the command is handed to the scan.
"""

from __future__ import annotations

import json

from gaslatch.core import uplink_wire as W
from gaslatch.unit.atomic_file import write_atomically

# The largest file save() writes: MAX_SEEN_IDS ids of MAX_ID_CHARS characters, each at worst 12 bytes
# JSON-escaped (a surrogate pair), with quotes, a time of up to 20 digits and punctuation. A bigger one
# was not written by the unit and is not read. Ids are usually short: a typical file is a few KiB.
MAX_FILE_BYTES = W.MAX_SEEN_IDS * (W.MAX_ID_CHARS * 12 + 24) + 16


class ReplayFileError(Exception):
    """The file of seen ids cannot be read or written: which file and what to do."""


def replay_file_for(store_path: str) -> str:
    """The seen-ids file beside the event store (the directory the service may write)."""
    return store_path + ".seen-commands.json"


def load_seen(path: str) -> dict:
    """{id: ts_s} as saved; {} when there is no file yet. ReplayFileError for a file that is not ours."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ReplayFileError("cannot read the ids of accepted commands %s: %s" % (path, err.strerror)) from None
    try:
        if len(data) > MAX_FILE_BYTES:
            raise ValueError("longer than %d bytes" % MAX_FILE_BYTES)
        seen = json.loads(data.decode("utf-8"))["seen"]
        if not (isinstance(seen, dict) and len(seen) <= W.MAX_SEEN_IDS and all(
                isinstance(k, str) and len(k) <= W.MAX_ID_CHARS and isinstance(v, int) and not isinstance(v, bool)
                for k, v in seen.items())):
            raise ValueError("not a map of at most %d command ids to times" % W.MAX_SEEN_IDS)
    except (ValueError, UnicodeError, KeyError, TypeError) as err:
        raise ReplayFileError("the ids of accepted commands %s are unreadable (%s): commands are refused as "
                              "possible replays for %d s, then the file is rewritten" % (path, err,
                                                                                          W.COMMAND_WINDOW_S)) from None
    return seen


def save_seen(path: str, seen: dict) -> None:
    """Replace the file with `seen`, atomically and durably; ReplayFileError (with the OS error) if it fails."""
    data = json.dumps({"seen": seen}, sort_keys=True, separators=(",", ":")).encode("utf-8")
    try:
        write_atomically(path, data, 0o600)
    except OSError as err:
        raise ReplayFileError("cannot save the ids of accepted commands %s: %s" % (path, err.strerror)) from None
