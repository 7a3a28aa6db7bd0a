"""What every `gaslatch platform` command reads the same way: HOST:PORT options, the password file, the rules and
contacts files, the database; each problem a click error that says what to do."""

from __future__ import annotations

import click

from gaslatch.translation import N_, _
from gaslatch.unit.private_file import PrivateFileError, read_private
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.contacts import Contacts, ContactsError
from gaslatch_tools.platform.contacts import load as _contacts_from
from gaslatch_tools.platform.rules import Rules, RulesError
from gaslatch_tools.platform.rules import load as _rules_from
from gaslatch_tools.platform.storage import SqlStorage, StorageError, open_storage


def host_port(ctx, param, value: str) -> tuple[str, int]:
    """A click callback: HOST:PORT as (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(_("expected HOST:PORT, e.g. 127.0.0.1:1883, not %(value)r") % {"value": value})
    return host, int(port)


def read_password(path: str) -> str:
    """The password file's first line; refused when others may read it, as ssh refuses a private key."""
    try:
        return read_private(path, N_("password file")).rstrip("\r\n")
    except PrivateFileError as err:
        raise click.ClickException(err.told()) from None


def load_rules(path: str) -> Rules:
    try:
        return _rules_from(path)
    except RulesError as err:
        raise click.ClickException(err.told()) from None


def load_contacts(path: str) -> Contacts:
    try:
        return _contacts_from(path)
    except ContactsError as err:
        raise click.ClickException(err.told()) from None


def open_db(db: str, prepare=WS.prepare) -> SqlStorage:
    """The platform's database, its tables made when missing (prepare: the warnings' and the audit log's, or a
    module's that includes them)."""
    try:
        storage = open_storage(db)
        prepare(storage)
    except StorageError as err:
        raise click.ClickException(err.told()) from None
    return storage
