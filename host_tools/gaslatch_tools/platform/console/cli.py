"""`gaslatch platform console` (the web console) and `gaslatch platform account` (console passwords, lockouts)."""

from __future__ import annotations

import sys
import time

import click

from gaslatch.translation import _
from gaslatch_tools.platform import access, accounts
from gaslatch_tools.platform.cli_options import host_port, load_contacts, load_rules, open_db, read_password
from gaslatch_tools.platform.storage import SqlStorage

DEFAULT_LISTEN = "127.0.0.1:8080"


def _storage(db: str) -> SqlStorage:
    storage = open_db(db)
    accounts.prepare(storage)
    return storage


DB = click.option("--db", "db", default="gaslatch-platform.sqlite", show_default=True, metavar="PATH|URL",
                  help=_("The platform's database, as gaslatch platform --db."))
CONTACTS = click.option("--contacts", "contacts_path", required=True, type=click.Path(exists=True, dir_okay=False),
                        metavar="FILE", help=_("The contacts file (mode 0600): people, districts, sites; each "
                                               "person's role and sites come from it (docs/platform.md)."))


@click.command(help=_(
    "Serve the web console (平台控制台): the live warnings queue, sites, audit log, QR stickers.\n\n"
    "People log in with the accounts made by `gaslatch platform account set-password`; what each sees follows "
    "their role in the contacts file. Run several instances on one --db behind a load balancer if needed."))
@DB
@CONTACTS
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, callback=host_port, metavar="HOST:PORT",
              help=_("Where to serve. Put it behind a TLS reverse proxy (nginx) for anything but loopback."))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("The receivers' warning rules file: each warning's title and what to do."))
@click.option("--unit-keys", "keys_dir", type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help=_("Offer 远程关阀 (close_valve, the only command the console sends): each unit's command key in "
                     "DIR/<site>/<unit>.key (mode 0600, the unit's uplink.hmac_key_file). Needs --broker."))
@click.option("--broker", default=None, callback=lambda c, p, v: None if v is None else host_port(c, p, v),
              metavar="HOST:PORT", help=_("The broker to send close_valve through."))
@click.option("--username", metavar="USER", help=_("MQTT user name (gaslatch-platform with the shipped ACL)."))
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("The MQTT password on one line (mode 0600)."))
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("Connect to the broker with TLS, verifying it against this CA."))
@click.option("--insecure-cookies", is_flag=True,
              help=_("Send the session cookie over plain HTTP too: only for a console on loopback without TLS."))
def console(db: str, contacts_path: str, listen: tuple[str, int], rules_path: str | None, keys_dir: str | None,
            broker: tuple[str, int] | None, username: str | None, password_file: str | None, ca_file: str | None,
            insecure_cookies: bool) -> None:
    """The web console: see its help above (given as help= so that it is translated)."""
    import uvicorn

    from gaslatch_tools.platform.console.app import ConsoleSettings, create_app

    from gaslatch_tools.platform.unit_commands import CommandError, CommandSender

    if (keys_dir is None) != (broker is None):
        raise click.UsageError(_("--unit-keys and --broker go together: the keys sign, the broker carries"))
    contacts = load_contacts(contacts_path)
    rules = load_rules(rules_path) if rules_path else None
    sender = None
    if keys_dir is not None:
        sender = CommandSender(broker[0], broker[1], keys_dir, username=username,
                               password=read_password(password_file) if password_file else None, ca_file=ca_file)
        try:
            sender.start()
        except CommandError as err:
            raise click.ClickException(err.told()) from None
    storage = _storage(db)
    app = create_app(ConsoleSettings(storage, contacts, lambda: int(time.time() * 1000), rules=rules,
                                     commands=sender, secure_cookies=not insecure_cookies))
    click.echo(_("gaslatch console on http://%(host)s:%(port)d") % {"host": listen[0], "port": listen[1]}, err=True)
    try:
        uvicorn.run(app, host=listen[0], port=listen[1], log_level="warning", proxy_headers=True,
                    server_header=False, limit_concurrency=200, timeout_keep_alive=5)
    finally:
        storage.close()
        if sender is not None:
            sender.stop()


@click.group(help=_("Console accounts (账号): set a password, unlock after a lockout, list."))
def account() -> None:
    """The console's accounts: see its help above."""


BY = click.option("--by", "by", default="cli", show_default=True, metavar="NAME", help=_("Who does it (audited)."))


@account.command("set-password", help=_(
    "Give USER (a person's id in the contacts file) a console password, read from standard input (one line) or "
    "asked for twice at a terminal. Ends the person's open sessions."))
@click.argument("user")
@DB
@CONTACTS
@BY
def set_password(user: str, db: str, contacts_path: str, by: str) -> None:
    """A password: see its help above."""
    actor = access.actor_for(load_contacts(contacts_path), user)
    if actor is None:
        raise click.ClickException(_("%(user)s has no role in the contacts file: add them as an owner, officer, "
                                     "duty centre member or administrator first") % {"user": user})
    if sys.stdin.isatty():
        password = click.prompt(_("password for %(user)s") % {"user": user}, hide_input=True,
                                confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    storage = _storage(db)
    try:
        accounts.set_password(storage, user, password, int(time.time() * 1000), by)
    except accounts.AccountError as err:
        raise click.ClickException(err.told()) from None
    finally:
        storage.close()
    click.echo(_("password set for %(user)s (%(role)s)") % {"user": user, "role": _(access.ROLE_NAMES[actor.role])})


@account.command(help=_("End USER's lockout after too many failed logins."))
@click.argument("user")
@DB
@BY
def unlock(user: str, db: str, by: str) -> None:
    """An unlock: see its help above."""
    storage = _storage(db)
    try:
        was = accounts.unlock(storage, user, int(time.time() * 1000), by)
    finally:
        storage.close()
    click.echo((_("%(user)s unlocked") if was else _("%(user)s was not locked")) % {"user": user})


@account.command("list", help=_("The console accounts and when each password was set."))
@DB
def list_accounts(db: str) -> None:
    """The accounts: see its help above."""
    storage = _storage(db)
    try:
        rows = accounts.accounts(storage)
    finally:
        storage.close()
    for name, changed_ms in rows:
        click.echo(_("%(user)s\tpassword set %(time)s") % {
            "user": name, "time": time.strftime("%Y-%m-%d %H:%M", time.localtime(changed_ms / 1000))})
    if not rows:
        click.echo(_("no accounts"))
