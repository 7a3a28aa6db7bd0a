"""`gaslatch platform`: run the reference receiver against a broker and watch the fleet live; `notify` tells people
of warnings, `warnings` lists them, `ack` acknowledges one and `metrics` sums them up per district; `orders`,
`order` and `ledger` keep the work orders (工单) and the hazard ledger (隐患台账).

For a test bench, a pilot site or a city operator: one table of every unit's status, alarms, trips, gaps and
lost events, and a list of what is missing: still asked for, or reported lost by the unit.
"""

from __future__ import annotations

import datetime
import logging
import time

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from gaslatch_tools.platform import ledger_export as X
from gaslatch_tools.platform import metrics as M
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform import words
from gaslatch_tools.platform import work_orders as WO
from gaslatch_tools.platform.access import Actor, actor_for
from gaslatch_tools.platform.contacts import Contacts
from gaslatch_tools.platform.notifier import Notifier
from gaslatch_tools.platform.receiver import REFUSED_AT_PLATFORM, PlatformReceiver, share_name_problem, wait_quiet
from gaslatch_tools.platform.storage import (FleetRow, Gap, LostRange, SqlStorage, StorageError, export_csv,
                                             open_storage)
from gaslatch_tools.platform.cli_options import host_port
from gaslatch_tools.platform.rules import silent_after_ms as silent_after
from gaslatch_tools.platform.cli_options import load_contacts as _load_contacts
from gaslatch_tools.platform.cli_options import load_rules as _load_rules
from gaslatch_tools.platform.cli_options import open_db as _open
from gaslatch_tools.platform.cli_options import read_password as _read_password

DEFAULT_DB_PATH = "gaslatch-platform.sqlite"
REFRESH_S = 1.0
ONCE_QUIET_S = 0.5
ONCE_LIMIT_S = 10.0


def _check_group(ctx, param, value: str | None) -> str | None:
    if value is not None and share_name_problem(value):
        raise click.BadParameter("%r cannot be a shared subscription group: %s" % (value, share_name_problem(value)))
    return value


def fleet_table(rows: list[FleetRow], title: str = "gaslatch fleet") -> Table:
    """The fleet as a rich table: offline units and open alarms stand out."""
    table = Table(title=title)
    for column in ("site", "unit", "status", "last event", "open alarms", "trips", "gaps", "lost", "events"):
        numeric = column in ("open alarms", "trips", "gaps", "lost", "events")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        style = "bold red" if row.open_alarms else ("yellow" if row.status != "online" or row.gaps else "")
        table.add_row(row.site, row.unit, row.status, row.last_event, str(row.open_alarms), str(row.trips),
                      str(row.gaps), str(row.lost), str(row.events), style=style)
    if not rows:
        table.caption = "no unit heard from yet"
    return table


def gap_lines(gaps: list[Gap], lost: list[LostRange]) -> list[str]:
    """What is missing, one line each: seqs still asked for, apart from those the unit reported lost."""
    lines = []
    for gap in gaps:
        lines.append("%s/%s%s: missing, asked for: seq %s" % (gap.site, gap.unit, _store(gap.store),
                                                            _seqs(gap.first_seq, gap.last_seq)))
    for r in lost:
        where = "the platform" if r.reason.startswith(REFUSED_AT_PLATFORM) else "the unit"
        lines.append("%s/%s%s: lost at %s (%s): seq %s" % (r.site, r.unit, _store(r.store), where, r.reason,
                                                         _seqs(r.first_seq, r.last_seq)))
    return lines


def _store(key: str) -> str:
    return " store %s" % key if key else ""


def _seqs(first: int, last: int) -> str:
    return str(first) if first == last else "%d..%d" % (first, last)


def _print_gaps(storage: SqlStorage) -> None:
    lines = gap_lines(storage.gaps(), storage.lost())
    for line in lines or ["no gaps: every event is stored or reported lost"]:
        click.echo(line)


RULES_HELP = "The warning rules (deploy/platform/warning-rules.yaml): which events open which warnings."
CONTACTS_HELP = ("Whom to tell and through which channels (a YAML file like deploy/platform/contacts.example.yaml, "
                 "mode 0600: its URLs hold tokens).")


@click.group(invoke_without_command=True)
@click.option("--broker", "broker", default="127.0.0.1:1883", show_default=True, callback=host_port,
              metavar="HOST:PORT", help="The MQTT broker the units publish to.")
@click.option("--db", "db", default=DEFAULT_DB_PATH, show_default=True, metavar="PATH|URL",
              help="Where received events, last state and status are kept: a SQLite file (created when "
                   "missing) or a PostgreSQL URL postgresql://USER@HOST:PORT/DB (tables created when missing; "
                   "give the password in PGPASSWORD or ~/.pgpass rather than in the URL).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True),
              help="Export every stored event from --db to this CSV file ('-' for stdout) and exit.")
@click.option("--client-id", help="MQTT client id; keep it fixed so the broker queues messages while the "
                                  "receiver is away, and give each receiver its own "
                                  "[default: gaslatch-platform-<host name>].")
@click.option("--shared", "shared_group", metavar="GROUP", callback=_check_group,
              help="Share the fleet's events with the other receivers of GROUP (MQTT 5 shared subscription "
                   "$share/GROUP/gaslatch/+/+/event) on the same --db; each event is stored once.")
@click.option("--username", metavar="USER", help="MQTT user name; with the shipped broker configuration "
                                                 "gaslatch-platform (docs/broker.md).")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="A file holding the MQTT password on one line (mode 0600): never on the command line.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Connect with TLS, verifying the broker's certificate against this CA and its host name.")
@click.option("--verbose", "-v", is_flag=True, help="Log every resend request, filled gap and reconnection too.")
@click.option("--gaps", "show_gaps", is_flag=True,
              help="List the missing events in --db (still asked for, or reported lost by the unit) and exit.")
@click.option("--once", is_flag=True, help="Receive until the queue is quiet, print the table once and exit.")
@click.option("--seconds", type=click.FloatRange(min=0), metavar="N",
              help="Run the live table for N seconds, then exit.")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=RULES_HELP + " Without it no warning is opened.")
@click.option("--contacts", "contacts_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Run the notifier in this process too (a pilot site): " + CONTACTS_HELP)
@click.pass_context
def platform(ctx: click.Context, broker: tuple[str, int], db: str, csv_path: str | None, client_id: str | None,
             shared_group: str | None, username: str | None, password_file: str | None, ca_file: str | None,
             verbose: bool, show_gaps: bool, once: bool, seconds: float | None, rules_path: str | None,
             contacts_path: str | None) -> None:
    """Receive the fleet's events over MQTT, store them (de-duplicated by id) and show a live fleet table.

    Subscribes with QoS 1 to gaslatch/+/+/event, gone, state and status in a persistent session, so events
    published while the receiver was away arrive when it returns. Tells each unit on its ack topic how far
    its events are stored, asks it again for missing ones, and records those it reports gone as lost.
    With --rules, opens and clears warnings (预警) in the same transaction as the events that cause them.
    """
    if ctx.invoked_subcommand is not None:
        return
    if contacts_path is not None and rules_path is None:
        raise click.UsageError("--contacts runs the notifier, which needs --rules")
    password = _read_password(password_file) if password_file else None
    rules = _load_rules(rules_path) if rules_path else None
    contacts = _load_contacts(contacts_path) if contacts_path else None
    try:
        storage = open_storage(db)
    except StorageError as err:
        raise click.ClickException(str(err)) from None
    try:
        if csv_path is not None:
            if csv_path == "-":
                with click.open_file("-", "w") as f:
                    count = export_csv(storage, f)
            else:
                count = export_csv(storage, csv_path)
            click.echo("%d events written to %s" % (count, "stdout" if csv_path == "-" else csv_path), err=True)
            return
        if show_gaps:
            _print_gaps(storage)
            return
        logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                            format="%(asctime)s %(levelname)s %(message)s")
        notifier = None
        if rules is not None:
            WS.prepare(storage)
            storage.add_store_hook(WS.WarningHook(rules))
            if contacts is not None:
                notifier = Notifier(storage, rules, contacts)
                notifier.start()
        else:
            logging.getLogger("gaslatch.platform").warning("no --rules: events are stored, no warning is opened")
        try:
            _run(PlatformReceiver(storage, broker[0], broker[1], client_id=client_id, shared_group=shared_group,
                                  username=username, password=password, ca_file=ca_file), once, seconds)
        finally:
            if notifier is not None:
                notifier.stop()
    finally:
        storage.close()


DB_OPTION = click.option("--db", "db", default=DEFAULT_DB_PATH, show_default=True, metavar="PATH|URL",
                         help="The platform's database, as gaslatch platform --db.")


@platform.command()
@DB_OPTION
@click.option("--rules", "rules_path", required=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=RULES_HELP + " The same file as the receivers'.")
@click.option("--contacts", "contacts_path", required=True, type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help=CONTACTS_HELP)
@click.option("--instance", metavar="NAME", help="This notifier's name in the leases and attempts "
                                                  "[default: <host name>-<pid>].")
@click.option("--seconds", type=click.FloatRange(min=0), metavar="N", help="Stop after N seconds.")
@click.option("--verbose", "-v", is_flag=True, help="Log every notice sent, not only the failures.")
def notify(db: str, rules_path: str, contacts_path: str, instance: str | None, seconds: float | None,
           verbose: bool) -> None:
    """Tell people of warnings (mail, IM robots, SMS gateways via Apprise) until someone acknowledges.

    Sends each warning's first notice to the site's owner and the district's officer, tells them again and
    escalates (duty centre, administrators) as the rules say, retries a channel that is down with a back-off.
    Run one or more (on any hosts) against the receivers' --db: each notice is sent once.
    """
    rules, contacts = _load_rules(rules_path), _load_contacts(contacts_path)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")
    storage = _open(db)
    notifier = Notifier(storage, rules, contacts, instance=instance)
    notifier.start()
    try:
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(REFRESH_S if deadline is None else max(0.0, min(REFRESH_S, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        notifier.stop()
        storage.close()
    click.echo("notices sent %(sent)d, failed attempts %(failed)d" % notifier.counts, err=True)


def _when(ms: int | None, tz) -> str:
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def warnings_table(rows: list[WS.WarningRow], title: str = "gaslatch warnings 预警") -> Table:
    """The warnings as a rich table, grade 1 first; those still waiting for an acknowledgement stand out."""
    table = Table(title=title)
    for column in ("id", "grade 等级", "site/unit", "rule", "cause 原因", "opened 开始", "count 次数", "state 状态",
                   "by 确认人"):
        table.add_column(column, justify="right" if column in ("id", "count 次数") else "left", overflow="fold")
    tz = datetime.datetime.now().astimezone().tzinfo
    for w in rows:
        style = ("bold red" if w.grade == 1 else "yellow") if w.state in ("open", "pending") else ""
        table.add_row(str(w.id), str(w.grade), Text("%s/%s" % (w.site, w.unit)), w.rule, Text(w.cause),  # as text:
                      _when(w.opened_ms, tz), str(w.count), w.state, Text(w.acked_by or ""), style=style)  # no markup
    if not rows:
        table.caption = "no warnings"
    return table


@platform.command("warnings")
@DB_OPTION
@click.option("--open", "open_only", is_flag=True, help="Only those not cleared (open, pending, acknowledged).")
def list_warnings(db: str, open_only: bool) -> None:
    """List the warnings (预警): grade, site/unit, cause, when opened, how often, state, who acknowledged."""
    storage = _open(db)
    try:
        rows = WS.warnings(storage, open_only)
    finally:
        storage.close()
    Console(width=160).print(warnings_table(rows))


@platform.command()
@click.argument("warning_id", type=int, metavar="ID")
@DB_OPTION
@click.option("--user", required=True, metavar="NAME", help="Who acknowledges (recorded).")
@click.option("--note", default="", metavar="TEXT", help="What is being done (recorded).")
def ack(warning_id: int, db: str, user: str, note: str) -> None:
    """Acknowledge (确认) warning ID: its re-notification and escalation stop; who and when are recorded."""
    storage = _open(db)
    try:
        row = WS.acknowledge(storage, warning_id, user, note, int(time.time() * 1000))
    except WS.AckError as err:
        raise click.ClickException(str(err)) from None
    finally:
        storage.close()
    click.echo("warning %d %s by %s" % (row.id, row.state, row.acked_by))


def _share(value: float | None) -> str:
    return "-" if value is None else "%.1f %%" % (100 * value)


def metrics_table(rows: list[M.DistrictMetrics], window_days: float) -> Table:
    """The district metrics as a rich table; the reasons for what cannot be measured below it."""
    table = Table(title="gaslatch district metrics 街道指标 (the last %g days)" % window_days)
    columns = ("district 街道", "units 设备", "online 在线率", "open 1/2/3 未结预警", "ack mean/p90 确认用时",
               "close mean/p90 关闭用时", "unattended h 无人时段", "人走阀关 valve closed", "past life 超期探测器")
    for column in columns:
        table.add_column(column, justify="left" if column.startswith("district") else "right", overflow="fold")
    notes = []
    for m in rows:
        table.add_row(Text(m.name), "%d/%d" % (m.online, m.units), _share(m.online_rate),
                      "/".join(str(m.open_by_grade.get(g, 0)) for g in (1, 2, 3)),
                      "%s / %s (%d)" % (M.duration_text(m.ack_mean_s), M.duration_text(m.ack_p90_s), m.acks),
                      "%s / %s (%d)" % (M.duration_text(m.close_mean_s), M.duration_text(m.close_p90_s), m.closes),
                      "%.1f" % m.unattended_h, _share(m.compliance),
                      str(m.past_end_of_life),
                      style="yellow" if m.open_by_grade.get(1) else "")
        for note in (m.compliance_note,):
            if note and note not in notes:
                notes.append(note)
    table.caption = "; ".join("-: %s" % n for n in notes) if rows else "no sites"
    return table


@platform.command()
@DB_OPTION
@click.option("--contacts", "contacts_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Group the sites by this contacts file's districts [default: one group of every site].")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Take the heartbeat (when a unit counts as silent) from this rules file [default: 15 min].")
@click.option("--window-days", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="N", help="The times to acknowledge and close, and 人走阀关, over the last N days.")
def metrics(db: str, contacts_path: str | None, rules_path: str | None, window_days: float) -> None:
    """Per district: units online, open warnings by grade, mean and p90 time to acknowledge and to close,
    人走阀关 compliance (unattended hours with the valve closed), detectors past end of life."""
    contacts = _load_contacts(contacts_path) if contacts_path else None
    silent_after_ms = silent_after(_load_rules(rules_path) if rules_path else None)
    storage = _open(db, WO.prepare)
    try:
        rows = M.district_metrics(storage, contacts, None, int(time.time() * 1000), int(window_days * M.DAY_MS),
                                  silent_after_ms, closed_at=WO.closed_at(storage))
    finally:
        storage.close()
    Console(width=200).print(metrics_table(rows, window_days))


# --- work orders (工单) and the hazard ledger (隐患台账) ---

def as_options(command):
    """--as USER and --contacts FILE: who acts, resolved to a role and sites through the contacts file."""
    command = click.option("--contacts", "contacts_path", required=True, type=click.Path(exists=True, dir_okay=False),
                           metavar="FILE", help="The contacts file: who has which role for which sites.")(command)
    return click.option("--as", "user", required=True, metavar="USER",
                        help="Who acts: a person's id in the contacts file (recorded).")(command)


def _actor(contacts: Contacts, user: str, source: str) -> Actor:
    actor = actor_for(contacts, user)
    if actor is None:
        raise click.ClickException("%r has no role in %s: name an owner, an officer, a duty-centre operator or an "
                                   "administrator by their id in $.people" % (user, source))
    return actor


def _due_ms(text: str) -> int:
    """YYYY-MM-DD -> the end of that day, local time, in ms."""
    try:
        return WO.due_ms_of(text)
    except ValueError:
        raise click.BadParameter("expected a date YYYY-MM-DD, not %r" % text, param_hint="--due") from None


def _now_ms() -> int:
    return int(time.time() * 1000)


def orders_table(rows: list[WO.Order], now_ms: int, title: str = "gaslatch work orders 工单") -> Table:
    """The orders as a rich table; overdue ones stand out."""
    table = Table(title=title)
    for column in ("id", "grade 等级", "site/unit", "cause 原因", "state 状态", "hazard 隐患", "officer 安全员",
                   "due 期限", "opened 开单"):
        table.add_column(column, justify="right" if column == "id" else "left", overflow="fold")
    tz = datetime.datetime.now().astimezone().tzinfo
    for o in rows:
        table.add_row(str(o.id), str(o.grade), Text("%s/%s" % (o.site, o.unit)), Text(o.summary),
                      words.pair(WO.STATE_NAMES[o.state]), X.HAZARD_TEXT[o.hazard], Text(o.officer),
                      _when(o.due_ms, tz) + (" 逾期 overdue" if o.overdue(now_ms) else ""), _when(o.opened_ms, tz),
                      style="bold red" if o.overdue(now_ms) else "")
    if not rows:
        table.caption = "no work orders"
    return table


@platform.command("orders")
@DB_OPTION
@as_options
@click.option("--state", "states", multiple=True, type=click.Choice(WO.STATES),
              help="Only orders in this state (repeat for several).")
def list_orders(db: str, user: str, contacts_path: str, states: tuple[str, ...]) -> None:
    """List the work orders (工单) of USER's sites: state, officer, due date, overdue ones first in red."""
    actor = _actor(_load_contacts(contacts_path), user, contacts_path)
    storage = _open(db, WO.prepare)
    try:
        rows = WO.orders(storage, actor, states or None)
    finally:
        storage.close()
    Console(width=160).print(orders_table(rows, _now_ms()))


@platform.group("order")
def order_group() -> None:
    """Dispatch a work order for a warning, or take its next step (docs/platform.md#work-orders)."""


def _step(db: str, do) -> WO.Order:
    storage = _open(db, WO.prepare)
    try:
        return do(storage)
    except WO.WorkOrderError as err:
        raise click.ClickException(str(err)) from None
    finally:
        storage.close()


@order_group.command("dispatch")
@click.argument("warning_id", type=int, metavar="WARNING_ID")
@DB_OPTION
@as_options
@click.option("--officer", required=True, metavar="ID", help="The officer of the site's district (contacts id).")
@click.option("--due", required=True, metavar="YYYY-MM-DD", help="The site check is due by the end of this day.")
@click.option("--note", default="", metavar="TEXT", help="What to look at (recorded).")
def order_dispatch(warning_id: int, db: str, user: str, contacts_path: str, officer: str, due: str,
                   note: str) -> None:
    """Dispatch (派单) a work order for WARNING_ID to an officer; acknowledges the warning if still open."""
    contacts = _load_contacts(contacts_path)
    actor = _actor(contacts, user, contacts_path)
    due_ms = _due_ms(due)
    o = _step(db, lambda storage: WO.dispatch(storage, actor, warning_id, officer, note, due_ms, _now_ms(),
                                              contacts=contacts))
    click.echo("order %d dispatched to %s for warning %d" % (o.id, o.officer, o.warning_id))


def _action_command(t: WO.Transition) -> click.Command:
    """The command of one step of TRANSITIONS, with the options its fields need."""

    def run(order_id: int, db: str, user: str, contacts_path: str, note: str, hazard: bool | None = None,
            due: str | None = None) -> None:
        actor = _actor(_load_contacts(contacts_path), user, contacts_path)
        due_ms = None if due is None else _due_ms(due)
        o = _step(db, lambda storage: WO.advance(storage, actor, order_id, t.action, _now_ms(), note=note,
                                                 hazard=hazard, due_ms=due_ms))
        click.echo("order %d %s" % (o.id, o.state))

    command = run
    if WO.DUE in t.needs:
        command = click.option("--due", required=True, metavar="YYYY-MM-DD",
                               help="Due by the end of this day.")(command)
    if WO.HAZARD in t.needs:
        command = click.option("--hazard/--no-hazard", default=None, required=True,
                               help="Whether the site check found a hazard (隐患).")(command)
    command = click.option("--note", default="", metavar="TEXT", help="Findings, what was done, why it failed "
                           "(recorded)%s." % ("; required" if WO.NOTE in t.needs else ""))(command)
    command = DB_OPTION(as_options(click.argument("order_id", type=int, metavar="ORDER_ID")(command)))
    return click.command(t.action, help="%s: %s -> %s, by the %s." % (
        words.pair(t.name), " or ".join(t.sources), t.target, " or ".join(t.roles)))(command)


for _transition in WO.TRANSITIONS:
    if _transition.sources:
        order_group.add_command(_action_command(_transition))


@order_group.command("show")
@click.argument("order_id", type=int, metavar="ORDER_ID")
@DB_OPTION
@as_options
def order_show(order_id: int, db: str, user: str, contacts_path: str) -> None:
    """An order and every step of it: who, when, what."""
    actor = _actor(_load_contacts(contacts_path), user, contacts_path)
    storage = _open(db, WO.prepare)
    try:
        o = WO.order(storage, actor, order_id)
        steps = WO.history(storage, actor, order_id)
    except WO.WorkOrderError as err:
        raise click.ClickException(str(err)) from None
    finally:
        storage.close()
    console = Console(width=160)
    console.print(orders_table([o], _now_ms(), "work order %d 工单" % o.id))
    tz = datetime.datetime.now().astimezone().tzinfo
    for h in steps:
        console.print("%s  %s  %s -> %s  %s" % (_when(h.at_ms, tz), h.actor, h.from_state or "", h.to_state, h.note),
                      markup=False, highlight=False)


@order_group.command("photo")
@click.argument("order_id", type=int, metavar="ORDER_ID")
@click.argument("photo_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE")
@DB_OPTION
@as_options
def order_photo(order_id: int, photo_path: str, db: str, user: str, contacts_path: str) -> None:
    """Attach a photo (JPEG or PNG, at most 5 MB) of the findings or the rectification to ORDER_ID."""
    actor = _actor(_load_contacts(contacts_path), user, contacts_path)
    with open(photo_path, "rb") as f:
        data = f.read(WO.MAX_PHOTO_BYTES + 1)
    photo_id = _step(db, lambda storage: WO.add_photo(storage, actor, order_id, data, _now_ms()))
    click.echo("photo %d added to order %d" % (photo_id, order_id))


@platform.command("ledger")
@DB_OPTION
@as_options
@click.option("--format", "fmt", required=True, type=click.Choice(X.FORMATS), help="CSV, XLSX or a printable PDF.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Where to write it (replaced whole).")
def ledger(db: str, user: str, contacts_path: str, fmt: str, out_path: str) -> None:
    """Export the hazard ledger (隐患台账) of USER's sites: every hazard, its state, due date, officer, history."""
    actor = _actor(_load_contacts(contacts_path), user, contacts_path)
    storage = _open(db, WO.prepare)
    now_ms = _now_ms()
    try:
        rows = WO.ledger(storage, actor, now_ms)
    finally:
        storage.close()
    tz = datetime.datetime.now().astimezone().tzinfo
    headers, table = X.ledger_table(rows, tz)
    title = "隐患台账 hazard ledger · %s · %s" % (actor.user, _when(now_ms, tz))
    try:
        count = X.export(fmt, headers, table, out_path, title)
    except X.ExportError as err:
        raise click.ClickException(str(err)) from None
    click.echo("%d hazards written to %s" % (count, out_path), err=True)




def _run(receiver: PlatformReceiver, once: bool, seconds: float | None) -> None:
    try:
        receiver.start()
    except ConnectionError as err:
        raise click.ClickException(str(err)) from None
    console = Console()
    title = "gaslatch fleet via %s:%d" % (receiver.host, receiver.port)
    if receiver.shared_group is not None:
        title += " (shared group %s)" % receiver.shared_group
    try:
        if once:
            wait_quiet(receiver, ONCE_QUIET_S, seconds if seconds is not None else ONCE_LIMIT_S)
            console.print(fleet_table(receiver.fleet(), title))
            for line in gap_lines(receiver.gaps(), receiver.lost()):
                console.print(line, markup=False, highlight=False)
            return
        deadline = None if seconds is None else time.monotonic() + seconds
        with Live(fleet_table(receiver.fleet(), title), console=console, refresh_per_second=4) as live:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(REFRESH_S if deadline is None else max(0.0, min(REFRESH_S, deadline - time.monotonic())))
                live.update(fleet_table(receiver.fleet(), title))
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
        _summary(console, receiver)


def _summary(console: Console, receiver: PlatformReceiver) -> None:
    counts = receiver.counts
    refused = ", ".join("%s %d" % (code, n) for code, n in sorted(receiver.refused.items())) or "none"
    fleet = receiver.fleet()
    console.print("stored %d, duplicates %d, refused %d (%s), gaps %d, lost %d" % (
        counts.get("stored", 0), counts.get("duplicate", 0), counts.get("refused", 0), refused,
        sum(row.gaps for row in fleet), sum(row.lost for row in fleet)), markup=False, highlight=False)


# The web console and its accounts live in console/ (their own imports: FastAPI, uvicorn, argon2).
from gaslatch_tools.platform.console.cli import account, console  # noqa: E402

platform.add_command(console)
platform.add_command(account)
