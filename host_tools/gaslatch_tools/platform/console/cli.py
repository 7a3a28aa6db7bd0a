"""`gaslatch platform console` (the web console) and `gaslatch platform account` (console passwords, lockouts)."""

from __future__ import annotations

import sys
import time

import click

from gaslatch_tools.platform import access, accounts
from gaslatch_tools.platform.contacts import Contacts, ContactsError
from gaslatch_tools.platform.contacts import load as load_contacts
from gaslatch_tools.platform.rules import RulesError
from gaslatch_tools.platform.rules import load as load_rules
from gaslatch_tools.platform.storage import SqlStorage, StorageError, open_storage

DEFAULT_LISTEN = "127.0.0.1:8080"


def _contacts(path: str) -> Contacts:
    try:
        return load_contacts(path)
    except ContactsError as err:
        raise click.ClickException(str(err)) from None


def _storage(db: str) -> SqlStorage:
    try:
        storage = open_storage(db)
        accounts.prepare(storage)
    except StorageError as err:
        raise click.ClickException(str(err)) from None
    return storage


def _listen(ctx, param, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter("expected HOST:PORT, e.g. 127.0.0.1:8080, not %r" % value)
    return host, int(port)


DB = click.option("--db", "db", default="gaslatch-platform.sqlite", show_default=True, metavar="PATH|URL",
                  help="The platform's database, as gaslatch platform --db.")
CONTACTS = click.option("--contacts", "contacts_path", required=True, type=click.Path(exists=True, dir_okay=False),
                        metavar="FILE", help="The contacts file (mode 0600): people, districts, sites; each "
                                             "person's role and sites come from it (docs/platform.md).")


@click.command()
@DB
@CONTACTS
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, callback=_listen, metavar="HOST:PORT",
              help="Where to serve. Put it behind a TLS reverse proxy (nginx) for anything but loopback.")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="The receivers' warning rules file: each warning's title and what to do.")
@click.option("--insecure-cookies", is_flag=True,
              help="Send the session cookie over plain HTTP too: only for a console on loopback without TLS.")
def console(db: str, contacts_path: str, listen: tuple[str, int], rules_path: str | None,
            insecure_cookies: bool) -> None:
    """Serve the web console (平台控制台): the live warnings queue, sites, audit log, QR stickers.

    People log in with the accounts made by `gaslatch platform account set-password`; what each sees follows
    their role in the contacts file. Run several instances on one --db behind a load balancer if needed.
    """
    import uvicorn

    from gaslatch_tools.platform.console.app import ConsoleSettings, create_app

    contacts = _contacts(contacts_path)
    rules = None
    if rules_path:
        try:
            rules = load_rules(rules_path)
        except RulesError as err:
            raise click.ClickException(str(err)) from None
    storage = _storage(db)
    app = create_app(ConsoleSettings(storage, contacts, lambda: int(time.time() * 1000), rules=rules,
                                     secure_cookies=not insecure_cookies))
    click.echo("gaslatch console on http://%s:%d" % listen, err=True)
    try:
        uvicorn.run(app, host=listen[0], port=listen[1], log_level="warning", proxy_headers=True,
                    server_header=False, limit_concurrency=200, timeout_keep_alive=5)
    finally:
        storage.close()


@click.group()
def account() -> None:
    """Console accounts (账号): set a password, unlock after a lockout, list."""


@account.command("set-password")
@click.argument("user")
@DB
@CONTACTS
@click.option("--by", "by", default="cli", show_default=True, metavar="NAME", help="Who does it (audited).")
def set_password(user: str, db: str, contacts_path: str, by: str) -> None:
    """Give USER (a person's id in the contacts file) a console password, read from standard input (one line) or
    asked for twice at a terminal. Ends the person's open sessions."""
    actor = access.actor_for(_contacts(contacts_path), user)
    if actor is None:
        raise click.ClickException("%s has no role in the contacts file: add them as an owner, officer, duty "
                                   "centre member or administrator first" % user)
    if sys.stdin.isatty():
        password = click.prompt("password for %s" % user, hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    storage = _storage(db)
    try:
        accounts.set_password(storage, user, password, int(time.time() * 1000), by)
    except accounts.AccountError as err:
        raise click.ClickException(str(err)) from None
    finally:
        storage.close()
    click.echo("password set for %s (%s)" % (user, access.ROLE_NAMES[actor.role]))


@account.command()
@click.argument("user")
@DB
@click.option("--by", "by", default="cli", show_default=True, metavar="NAME", help="Who does it (audited).")
def unlock(user: str, db: str, by: str) -> None:
    """End USER's lockout after too many failed logins."""
    storage = _storage(db)
    try:
        was = accounts.unlock(storage, user, int(time.time() * 1000), by)
    finally:
        storage.close()
    click.echo("%s unlocked" % user if was else "%s was not locked" % user)


@account.command("list")
@DB
def list_accounts(db: str) -> None:
    """The console accounts and when each password was set."""
    storage = _storage(db)
    try:
        rows = accounts.accounts(storage)
    finally:
        storage.close()
    for name, changed_ms in rows:
        click.echo("%s\tpassword set %s" % (name, time.strftime("%Y-%m-%d %H:%M", time.localtime(changed_ms / 1000))))
    if not rows:
        click.echo("no accounts")
