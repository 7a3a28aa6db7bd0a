"""`gaslatch events`: list and filter the unit's recorded events for operators, fitters and inspectors.

It opens the store read-only, so it is safe to run while the unit is recording, by any user in the
gaslatch group.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from gaslatch.core.config_schema import DEFAULT_STORE_PATH
from gaslatch.unit.command_error import EXIT_OK, CommandError
from gaslatch.unit.event_store import EventReader, StoreError

DEFAULT_CONFIG_PATH = "/etc/gaslatch/config.json"
JSON_KEYS = ("id", "seq", "t_ms", "wall_ts", "clock_synced", "type", "severity", "source", "state", "value",
             "reason", "delivered")
_LINE = "%-7s %-25s %-8s %-13s %-12s %-11s %6s %-4s %s"
_UNSYNCED_NOTE = ("? the unit's clock was not synchronised when these were recorded: their times may be wrong; "
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
        _echo(_LINE % ("SEQ", "TIME (UTC)", "SEVERITY", "TYPE", "SOURCE", "STATE", "VALUE", "SENT", "REASON"))
        unsynced = False
        for record in rows:
            unsynced = unsynced or not record["clock_synced"]
            _echo(_LINE % (record["seq"], record["wall_ts"] + ("" if record["clock_synced"] else "?"),
                           record["severity"], record["type"], record["source"], record["state"],
                           "-" if record["value"] is None else record["value"],
                           "yes" if record["delivered"] else "no", record["reason"]))
        if unsynced:
            _echo(_UNSYNCED_NOTE)
    except StoreError as err:
        raise CommandError(str(err)) from None
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
        raise CommandError("cannot read the configuration %s: %s; give the store with --store PATH"
                           % (path, err.strerror)) from None
    except ValueError as err:
        raise CommandError("the configuration %s is not valid JSON (%s); give the store with --store PATH"
                           % (path, err)) from None
    store = doc.get("store") if isinstance(doc, dict) else None
    value = store.get("path") if isinstance(store, dict) else None
    return value if isinstance(value, str) and value else DEFAULT_STORE_PATH


def _echo(line: str) -> None:
    """One line; a closed pipe (gaslatch events | head) ends the listing quietly."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
