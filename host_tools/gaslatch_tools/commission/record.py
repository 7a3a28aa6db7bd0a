"""The commissioning record: what the installer found, set and measured on site, in one JSON file.

Every `gaslatch commission` command adds to it; `commission report` turns it into the document the
inspector and the owner sign. Written atomically, so a crash mid-visit never loses what was recorded.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
from typing import Any

from gaslatch.translation import N_, _
from gaslatch.unit.atomic_file import write_atomically
from gaslatch_tools.commission.command_outcome import CommandStop

RECORD_FORMAT = 1
DEFAULT_PATH = "commissioning.json"
FILE_MODE = 0o640

# Limits the tests are judged against (docs/commissioning.md); LIMIT_SOURCES says where each comes from.
LIMITS_S = {
    "time_to_alarm": 30.0,  # a detector alarms within 30 s of test gas
    "recovery": 60.0,  # back to normal within 60 s of removing the gas
    "linkage": 3.0,  # valve, fan and sounder act within 3 s of the alarm
    "open_line_fault": 100.0,  # a broken detector line shows as a fault within 100 s
}
# The standards each limit is cited from in the printed report and in docs/commissioning.md.
LIMIT_SOURCES = {
    "time_to_alarm": "GB 50166, GB 16808",
    "recovery": "GB 50166, GB 16808",
    "linkage": "GB 16808, CJJ/T 146",
    "open_line_fault": "GB 16808, GB 50166",
}

EMPTY = {
    "format": RECORD_FORMAT,
    "site": {},  # name, address, owner
    "unit": {},  # name, serial, software version
    "installer": {},  # name, company, licence
    "bus": {},  # port, baud, parity, stop_bits, scan results and health
    "detectors": {},  # name -> address, profile, model, location, gas, set points, calibrations, bump_tests
    "valve_tests": [],
    "interlock_tests": [],
    "schedule": None,
    "config": None,  # path, sha256, pushed_at
    "log": [],  # (utc, command, summary) of every command run, in order
}


# What to do when the record cannot be read, or written back.
LOAD_HINT = N_("check it is the record the commission commands wrote; give another file with --record, or move a "
             "damaged one aside to start a new record")
SAVE_HINT = N_("check the folder exists, is writable and has free space, then run the command again")


class RecordError(CommandStop):
    """The record file cannot be read or written: the message names the file, the hint says what to do (exit 2)."""

    def __init__(self, message: str, hint: str):
        super().__init__("record", message, hint)


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Record:
    """A commissioning record in memory; save() writes it back atomically.

    loaded_sha256: the sha256 of the file as load() read it (None for a new record), for the report.
    """

    def __init__(self, path: str, data: dict | None = None, loaded_sha256: str | None = None):
        self.path = path
        self.data = copy.deepcopy(EMPTY) if data is None else data
        self.loaded_sha256 = loaded_sha256

    @classmethod
    def load(cls, path: str = DEFAULT_PATH) -> "Record":
        """The record at path, or a new empty one if the file does not exist yet; RecordError if it is unusable."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
            data = json.loads(raw.decode("utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as err:
            raise RecordError(_("cannot read the commissioning record %(path)s: %(error)s")
                              % {"path": path, "error": err}, _(LOAD_HINT)) from None
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise RecordError(_("%(path)s is not a gaslatch commissioning record (format %(format)d)")
                              % {"path": path, "format": RECORD_FORMAT}, _(LOAD_HINT))
        for key, value in EMPTY.items():
            data.setdefault(key, copy.deepcopy(value))
        return cls(path, data, hashlib.sha256(raw).hexdigest())

    def save(self) -> None:
        text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            write_atomically(self.path, text.encode("utf-8"), FILE_MODE)
        except OSError as err:
            raise RecordError(_("cannot write the commissioning record %(path)s: %(error)s")
                              % {"path": self.path, "error": err}, _(SAVE_HINT)) from None

    def detector(self, name: str) -> dict:
        """The detector's entry, created empty when new."""
        return self.data["detectors"].setdefault(name, {"calibrations": [], "bump_tests": []})

    def note(self, command: str, summary: str) -> None:
        """One line of the visit's log: which command ran and what it concluded."""
        self.data["log"].append({"utc": utc_now(), "command": command, "summary": summary})

    def add(self, section: str, entry: dict[str, Any]) -> None:
        """Appends entry (stamped with utc) to a list section: valve_tests, interlock_tests."""
        entry = dict(entry)
        entry.setdefault("utc", utc_now())
        self.data[section].append(entry)
