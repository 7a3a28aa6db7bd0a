"""`gaslatch events`: list and filter the unit's recorded events for operators, fitters and inspectors.

It opens the store read-only, so it is safe to run while the unit is recording, by any user in the
gaslatch group. A person reads each event's headline (gaslatch/event_text.py) and the reason the controller
recorded (gaslatch/recorded_text.py) in their own language; --json gives the stored codes and fields as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from gaslatch.core.config_schema import DEFAULT_STORE_PATH
from gaslatch.event_text import headline
from gaslatch.recorded_text import translate
from gaslatch.translation import N_, _, named
from gaslatch.unit.command_error import EXIT_OK, CommandError
from gaslatch.unit.event_store import EventReader, StoreError
from gaslatch.unit.text_table import pad

DEFAULT_CONFIG_PATH = "/etc/gaslatch/config.json"
JSON_KEYS = ("id", "seq", "t_ms", "wall_ts", "clock_synced", "type", "severity", "source", "state", "value",
             "reason", "delivered")
# (heading, width in terminal cells) of each column but the last, the reason, which takes what it needs.
_COLUMNS = ((N_("SEQ"), 7), (N_("TIME (UTC)"), 25), (N_("SEVERITY"), 8), (N_("EVENT"), 44), (N_("SENT"), 4))
_REASON = N_("REASON")
_SEVERITIES = {"alarm": N_("alarm"), "fault": N_("fault"), "warning": N_("warning"), "info": N_("info")}
_UNSYNCED_NOTE = N_("? the unit's clock was not synchronised when these were recorded: their times may be wrong; "
                    "seq gives the true order.")


def events(args: argparse.Namespace) -> int:
    """List the events recorded on this unit, oldest first (read-only)."""
    path = args.store_path or _store_path_from_config(args.config_path)
    try:
        reader = EventReader(path)
        rows = reader.iter_query(args.since, args.types or None, args.limit)
        if args.as_json:
            for record in rows:
                _echo(json.dumps({key: record[key] for key in JSON_KEYS}, separators=(",", ":")))
            return EXIT_OK
        _echo(_line([_(heading) for heading, _width in _COLUMNS] + [_(_REASON)]))
        unsynced = False
        for record in rows:
            unsynced = unsynced or not record["clock_synced"]
            severity = record["severity"]
            _echo(_line([str(record["seq"]), record["wall_ts"] + ("" if record["clock_synced"] else "?"),
                         named(_SEVERITIES, severity), headline(record),
                         _("yes") if record["delivered"] else _("no"), translate(record["reason"])]))
        if unsynced:
            _echo(_(_UNSYNCED_NOTE))
    except StoreError as err:
        raise CommandError(err.told(_)) from None
    return EXIT_OK


def _store_path_from_config(config_path: str | None) -> str:
    """store.path of the configuration; the default store when no configuration is given or installed.

    Only that key is read, so events can be listed even while the rest of the file has problems.
    """
    path = config_path or DEFAULT_CONFIG_PATH
    if config_path is None and not os.path.exists(path):
        return DEFAULT_STORE_PATH
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as err:
        raise CommandError(_("cannot read the configuration %(path)s: %(error)s; give the store with --store PATH")
                           % {"path": path, "error": err.strerror}) from None
    except ValueError as err:
        raise CommandError(_("the configuration %(path)s is not valid JSON (%(error)s); give the store with --store "
                             "PATH") % {"path": path, "error": err}) from None
    store = doc.get("store") if isinstance(doc, dict) else None
    value = store.get("path") if isinstance(store, dict) else None
    return value if isinstance(value, str) and value else DEFAULT_STORE_PATH


def _line(values: list[str]) -> str:
    """One line of the listing: each column filled to its width in terminal cells (a Chinese character takes
    two), a longer value pushing the rest along rather than being cut."""
    return " ".join([pad(value, width) for value, (_heading, width) in zip(values, _COLUMNS)] + values[-1:]).rstrip()


def _echo(line: str) -> None:
    """One line; a closed pipe (gaslatch events | head) ends the listing quietly."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
