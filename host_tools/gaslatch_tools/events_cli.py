"""`gaslatch events`: list and filter the unit's recorded events for operators, fitters and inspectors.

It opens the store read-only, so it is safe to run while the unit is recording, by any user in the
gaslatch group.
"""

import json
import os
import sys

import click

from gaslatch.core import events as E
from gaslatch.core.config_schema import DEFAULT_STORE_PATH
from gaslatch.unit.event_store import EventReader, StoreError, parse_since

DEFAULT_CONFIG_PATH = "/etc/gaslatch/config.json"
JSON_KEYS = ("id", "seq", "t_ms", "wall_ts", "clock_synced", "type", "severity", "source", "state", "value",
             "reason", "delivered")
_LINE = "%-7s %-25s %-8s %-13s %-12s %-11s %6s %-4s %s"
_UNSYNCED_NOTE = ("? the unit's clock was not synchronised when these were recorded: their times may be wrong; "
                  "seq gives the true order.")


def _check_since(ctx, param, value):
    if value is None:
        return None
    try:
        parse_since(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    return value


@click.command()
@click.option("--since", callback=_check_since, metavar="SEQ|TIME",
              help="From this sequence number on (e.g. 1200), or recorded at or after this UTC time "
                   "(2026-11-24T21:00:00Z, 2026-11-24).")
@click.option("--type", "types", multiple=True, type=click.Choice(E.EVENT_TYPES),
              help="Only events of this type; repeat for several (--type trip --type reset).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="At most N events: the newest N, or the first N from --since.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with every stored field.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False),
              help="The store file [default: store.path from --config, else %s]." % DEFAULT_STORE_PATH)
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Configuration to take store.path from [default: %s when it exists]." % DEFAULT_CONFIG_PATH)
def events(since, types, limit, as_json, store_path, config_path) -> None:
    """List the events recorded on this unit, oldest first (read-only).

    TIME is when the unit stored the event, by its own clock: a time marked ? was recorded before the
    clock was synchronised and may be wrong. SENT tells whether the monitoring platform has it.
    """
    path = store_path or _store_path_from_config(config_path)
    try:
        reader = EventReader(path)
        rows = reader.iter_query(since, list(types) or None, limit)
        if as_json:
            for record in rows:
                _echo(json.dumps({key: record[key] for key in JSON_KEYS}, separators=(",", ":")))
            return
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
        raise click.ClickException(str(err)) from None


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
        raise click.ClickException("cannot read the configuration %s: %s; give the store with --store PATH"
                                   % (path, err.strerror)) from None
    except ValueError as err:
        raise click.ClickException("the configuration %s is not valid JSON (%s); give the store with --store PATH"
                                   % (path, err)) from None
    store = doc.get("store") if isinstance(doc, dict) else None
    value = store.get("path") if isinstance(store, dict) else None
    return value if isinstance(value, str) and value else DEFAULT_STORE_PATH


def _echo(line: str) -> None:
    """One line; a closed pipe (gaslatch events | head) ends the listing quietly."""
    try:
        click.echo(line)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
