"""`gaslatch platform`: run the reference receiver against a broker and watch the fleet live; `notify` tells people
of warnings, `warnings` lists them, `ack` acknowledges one and `metrics` sums them up per district; `orders`,
`order` and `ledger` keep the work orders (工单) and the hazard ledger (隐患台账).

For a test bench, a pilot site or a city operator: one table of every unit's status, alarms, trips, gaps and
lost events, and a list of what is missing: still asked for, or reported lost by the unit.

Everything a person reads follows the process language (LANG, or gaslatch --lang): the help texts are looked up as
this module is imported, which gaslatch does after reading --lang; the rest as it is printed. --csv, the ledger
export and the records keep their codes.
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

from gaslatch.told import told
from gaslatch.translation import N_, _, named, ngettext
from gaslatch_tools.platform import ledger_export as X
from gaslatch_tools.platform import metrics as M
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform import words
from gaslatch_tools.platform import work_orders as WO
from gaslatch_tools.platform.access import ROLE_NAMES, Actor, actor_for
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
        raise click.BadParameter(_("%(group)r cannot be a shared subscription group: %(problem)s") % {
            "group": value, "problem": share_name_problem(value)})
    return value


# TRANSLATORS: the columns of the live fleet table of `gaslatch platform`
FLEET_COLUMNS = ((N_("site"), False), (N_("unit"), False), (N_("status"), False), (N_("last event"), False),
                 (N_("open alarms"), True), (N_("trips"), True), (N_("gaps"), True), (N_("lost"), True),
                 (N_("events"), True))


def fleet_table(rows: list[FleetRow], title: str | None = None) -> Table:
    """The fleet as a rich table: offline units and open alarms stand out."""
    table = Table(title=_("gaslatch fleet") if title is None else title)
    for column, numeric in FLEET_COLUMNS:
        table.add_column(_(column), justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        style = "bold red" if row.open_alarms else ("yellow" if row.status != "online" or row.gaps else "")
        table.add_row(Text(row.site), Text(row.unit), named(words.STATE_NAMES, row.status), Text(row.last_event),
                      str(row.open_alarms), str(row.trips), str(row.gaps), str(row.lost), str(row.events),
                      style=style)
    if not rows:
        table.caption = _("no unit heard from yet")
    return table


def gap_lines(gaps: list[Gap], lost: list[LostRange]) -> list[str]:
    """What is missing, one line each: seqs still asked for, apart from those the unit reported lost."""
    lines = []
    for gap in gaps:
        lines.append(_("%(unit)s: missing, asked for: seq %(seqs)s") % {
            "unit": _unit(gap.site, gap.unit, gap.store), "seqs": _seqs(gap.first_seq, gap.last_seq)})
    for r in lost:
        message = (N_("%(unit)s: lost at the platform (%(reason)s): seq %(seqs)s")
                   if r.reason.startswith(REFUSED_AT_PLATFORM) else
                   N_("%(unit)s: lost at the unit (%(reason)s): seq %(seqs)s"))
        lines.append(_(message) % {"unit": _unit(r.site, r.unit, r.store), "reason": r.reason,
                                   "seqs": _seqs(r.first_seq, r.last_seq)})
    return lines


def _unit(site: str, unit: str, store: str) -> str:
    """site/unit, and the unit's event store when it has several."""
    if not store:
        return "%s/%s" % (site, unit)
    return _("%(site)s/%(unit)s store %(store)s") % {"site": site, "unit": unit, "store": store}


def _seqs(first: int, last: int) -> str:
    return str(first) if first == last else "%d..%d" % (first, last)


def _print_gaps(storage: SqlStorage) -> None:
    lines = gap_lines(storage.gaps(), storage.lost())
    for line in lines or [_("no gaps: every event is stored or reported lost")]:
        click.echo(line)


RULES_HELP = N_("The warning rules (deploy/platform/warning-rules.yaml): which events open which warnings.")
CONTACTS_HELP = N_("Whom to tell and through which channels (a YAML file like deploy/platform/contacts.example.yaml, "
                   "mode 0600: its URLs hold tokens).")


@click.group(invoke_without_command=True, help=_(
    "Receive the fleet's events over MQTT, store them (de-duplicated by id) and show a live fleet table.\n\n"
    "Subscribes with QoS 1 to gaslatch/+/+/event, gone, state and status in a persistent session, so events "
    "published while the receiver was away arrive when it returns. Tells each unit on its ack topic how far its "
    "events are stored, asks it again for missing ones, and records those it reports gone as lost. With --rules, "
    "opens and clears warnings (预警) in the same transaction as the events that cause them."))
@click.option("--broker", "broker", default="127.0.0.1:1883", show_default=True, callback=host_port,
              metavar="HOST:PORT", help=_("The MQTT broker the units publish to."))
@click.option("--db", "db", default=DEFAULT_DB_PATH, show_default=True, metavar="PATH|URL",
              help=_("Where received events, last state and status are kept: a SQLite file (created when "
                     "missing) or a PostgreSQL URL postgresql://USER@HOST:PORT/DB (tables created when missing; "
                     "give the password in PGPASSWORD or ~/.pgpass rather than in the URL)."))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE",
              help=_("Export every stored event from --db to this CSV file ('-' for stdout) and exit."))
@click.option("--client-id", metavar="ID", help=_(
    "MQTT client id; keep it fixed so the broker queues messages while the receiver is away, and give each "
    "receiver its own [default: gaslatch-platform-<host name>]."))
@click.option("--shared", "shared_group", metavar="GROUP", callback=_check_group,
              help=_("Share the fleet's events with the other receivers of GROUP (MQTT 5 shared subscription "
                     "$share/GROUP/gaslatch/+/+/event) on the same --db; each event is stored once."))
@click.option("--username", metavar="USER", help=_("MQTT user name; with the shipped broker configuration "
                                                   "gaslatch-platform (docs/broker.md)."))
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("A file holding the MQTT password on one line (mode 0600): never on the command line."))
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("Connect with TLS, verifying the broker's certificate against this CA and its host name."))
@click.option("--verbose", "-v", is_flag=True, help=_("Log every resend request, filled gap and reconnection too."))
@click.option("--gaps", "show_gaps", is_flag=True,
              help=_("List the missing events in --db (still asked for, or reported lost by the unit) and exit."))
@click.option("--once", is_flag=True, help=_("Receive until the queue is quiet, print the table once and exit."))
@click.option("--seconds", type=click.FloatRange(min=0), metavar="N",
              help=_("Run the live table for N seconds, then exit."))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_(RULES_HELP) + " " + _("Without it no warning is opened."))
@click.option("--contacts", "contacts_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("Run the notifier in this process too (a pilot site):") + " " + _(CONTACTS_HELP))
@click.pass_context
def platform(ctx: click.Context, broker: tuple[str, int], db: str, csv_path: str | None, client_id: str | None,
             shared_group: str | None, username: str | None, password_file: str | None, ca_file: str | None,
             verbose: bool, show_gaps: bool, once: bool, seconds: float | None, rules_path: str | None,
             contacts_path: str | None) -> None:
    """The receiver: see its help above (given as help= so that it is translated)."""
    if ctx.invoked_subcommand is not None:
        return
    if contacts_path is not None and rules_path is None:
        raise click.UsageError(_("--contacts runs the notifier, which needs --rules"))
    password = _read_password(password_file) if password_file else None
    rules = _load_rules(rules_path) if rules_path else None
    contacts = _load_contacts(contacts_path) if contacts_path else None
    try:
        storage = open_storage(db)
    except StorageError as err:
        raise click.ClickException(err.told()) from None
    try:
        if csv_path is not None:
            if csv_path == "-":
                with click.open_file("-", "w") as f:
                    count = export_csv(storage, f)
            else:
                count = export_csv(storage, csv_path)
            click.echo((ngettext("%(count)d event written to stdout", "%(count)d events written to stdout", count)
                        if csv_path == "-" else
                        ngettext("%(count)d event written to %(path)s", "%(count)d events written to %(path)s", count))
                       % {"count": count, "path": csv_path}, err=True)
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
            logging.getLogger("gaslatch.platform").warning(_("no --rules: events are stored, no warning is opened"))
        try:
            _run(PlatformReceiver(storage, broker[0], broker[1], client_id=client_id, shared_group=shared_group,
                                  username=username, password=password, ca_file=ca_file), once, seconds)
        finally:
            if notifier is not None:
                notifier.stop()
    finally:
        storage.close()


DB_OPTION = click.option("--db", "db", default=DEFAULT_DB_PATH, show_default=True, metavar="PATH|URL",
                         help=_("The platform's database, as gaslatch platform --db."))


@platform.command(help=_(
    "Tell people of warnings (mail, IM robots, SMS gateways via Apprise) until someone acknowledges.\n\n"
    "Sends each warning's first notice to the site's owner and the district's officer, tells them again and "
    "escalates (duty centre, administrators) as the rules say, retries a channel that is down with a back-off. "
    "Run one or more (on any hosts) against the receivers' --db: each notice is sent once."))
@DB_OPTION
@click.option("--rules", "rules_path", required=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_(RULES_HELP) + " " + _("The same file as the receivers'."))
@click.option("--contacts", "contacts_path", required=True, type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help=_(CONTACTS_HELP))
@click.option("--instance", metavar="NAME", help=_("This notifier's name in the leases and attempts "
                                                    "[default: <host name>-<pid>]."))
@click.option("--seconds", type=click.FloatRange(min=0), metavar="N", help=_("Stop after N seconds."))
@click.option("--verbose", "-v", is_flag=True, help=_("Log every notice sent, not only the failures."))
def notify(db: str, rules_path: str, contacts_path: str, instance: str | None, seconds: float | None,
           verbose: bool) -> None:
    """The notifier: see its help above."""
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
    click.echo(_("notices sent %(sent)d, failed attempts %(failed)d") % notifier.counts, err=True)


def _when(ms: int | None, tz) -> str:
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def _cause(w: WS.WarningRow) -> str:
    """What caused a warning as a person reads it: its latest event's headline, else the cause as stored."""
    event = words.summary_event(w.summary)
    return w.cause if event is None else words.headline(event, _)


# TRANSLATORS: the columns of `gaslatch platform warnings`: (column, right-aligned)
WARNING_COLUMNS = ((N_("No."), True), (N_("grade"), False), (N_("site/unit"), False), (N_("warning"), False),
                   (N_("cause"), False), (N_("opened"), False), (N_("count"), True), (N_("state"), False),
                   (N_("acknowledged by"), False))


def warnings_table(rows: list[WS.WarningRow], title: str | None = None) -> Table:
    """The warnings as a rich table, grade 1 first; those still waiting for an acknowledgement stand out."""
    table = Table(title=_("gaslatch warnings") if title is None else title)
    for column, numeric in WARNING_COLUMNS:
        table.add_column(_(column), justify="right" if numeric else "left", overflow="fold")
    tz = datetime.datetime.now().astimezone().tzinfo
    for w in rows:  # people's and units' text as Text: no markup
        style = ("bold red" if w.grade == 1 else "yellow") if w.state in ("open", "pending") else ""
        table.add_row(str(w.id), named(words.GRADE_NAMES, w.grade), Text("%s/%s" % (w.site, w.unit)),
                      Text(named(words.RULE_TITLES, w.rule)), Text(_cause(w)), _when(w.opened_ms, tz), str(w.count),
                      named(words.STATE_NAMES, w.state), Text(w.acked_by or ""), style=style)
    if not rows:
        table.caption = _("no warnings")
    return table


@platform.command("warnings", help=_(
    "List the warnings (预警): grade, site/unit, cause, when opened, how often, state, who acknowledged."))
@DB_OPTION
@click.option("--open", "open_only", is_flag=True, help=_("Only those not cleared (open, pending, acknowledged)."))
def list_warnings(db: str, open_only: bool) -> None:
    """The warnings: see its help above."""
    storage = _open(db)
    try:
        rows = WS.warnings(storage, open_only)
    finally:
        storage.close()
    Console(width=160).print(warnings_table(rows))


@platform.command(help=_(
    "Acknowledge (确认) warning ID: its re-notification and escalation stop; who and when are recorded."))
@click.argument("warning_id", type=int, metavar="ID")
@DB_OPTION
@click.option("--user", required=True, metavar="NAME", help=_("Who acknowledges (recorded)."))
@click.option("--note", default="", metavar="TEXT", help=_("What is being done (recorded)."))
def ack(warning_id: int, db: str, user: str, note: str) -> None:
    """Acknowledge: see its help above."""
    storage = _open(db)
    try:
        row = WS.acknowledge(storage, warning_id, user, note, int(time.time() * 1000))
    except WS.AckError as err:
        raise click.ClickException(err.told()) from None
    finally:
        storage.close()
    click.echo(_("warning %(warning)d %(state)s by %(user)s") % {
        "warning": row.id, "state": named(words.STATE_NAMES, row.state), "user": row.acked_by})


def _share(value: float | None) -> str:
    return "-" if value is None else "%.1f %%" % (100 * value)


# TRANSLATORS: the columns of `gaslatch platform metrics`; 人走阀关: the share of unattended hours with the valve closed
METRICS_COLUMNS = (N_("district"), N_("units online"), N_("online rate"), N_("open grade 1/2/3"),
                   N_("to acknowledge mean/p90"), N_("to close mean/p90"), N_("unattended h"),
                   N_("valve closed when unattended"), N_("detectors past life"))
DISTRICT_NAMES = {M.ALL: N_("all"), M.UNLISTED: N_("not in the contacts")}


def metrics_table(rows: list[M.DistrictMetrics], window_days: float) -> Table:
    """The district metrics as a rich table; the reasons for what cannot be measured below it."""
    table = Table(title=_("gaslatch district metrics (the last %(days)g days)") % {"days": window_days})
    for i, column in enumerate(METRICS_COLUMNS):
        table.add_column(_(column), justify="left" if i == 0 else "right", overflow="fold")
    notes = []
    for m in rows:
        name = _(DISTRICT_NAMES[m.district]) if m.district in DISTRICT_NAMES else m.name
        table.add_row(Text(name), "%d/%d" % (m.online, m.units), _share(m.online_rate),
                      "/".join(str(m.open_by_grade.get(g, 0)) for g in (1, 2, 3)),
                      "%s / %s (%d)" % (M.duration_text(m.ack_mean_s), M.duration_text(m.ack_p90_s), m.acks),
                      "%s / %s (%d)" % (M.duration_text(m.close_mean_s), M.duration_text(m.close_p90_s), m.closes),
                      "%.1f" % m.unattended_h, _share(m.compliance),
                      str(m.past_end_of_life),
                      style="yellow" if m.open_by_grade.get(1) else "")
        for note in (m.compliance_note,):
            if note and _(note) not in notes:
                notes.append(_(note))
    table.caption = "; ".join("-: %s" % n for n in notes) if rows else _("no sites")
    return table


@platform.command(help=_(
    "Per district: units online, open warnings by grade, mean and p90 time to acknowledge and to close, 人走阀关 "
    "compliance (unattended hours with the valve closed), detectors past end of life."))
@DB_OPTION
@click.option("--contacts", "contacts_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("Group the sites by this contacts file's districts [default: one group of every site]."))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help=_("Take the heartbeat (when a unit counts as silent) from this rules file [default: 15 min]."))
@click.option("--window-days", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="N", help=_("The times to acknowledge and close, and 人走阀关, over the last N days."))
def metrics(db: str, contacts_path: str | None, rules_path: str | None, window_days: float) -> None:
    """The district metrics: see its help above."""
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
                           metavar="FILE", help=_("The contacts file: who has which role for which sites."))(command)
    return click.option("--as", "user", required=True, metavar="USER",
                        help=_("Who acts: a person's id in the contacts file (recorded)."))(command)


def _actor(contacts: Contacts, user: str, source: str) -> Actor:
    actor = actor_for(contacts, user)
    if actor is None:
        raise click.ClickException(_(
            "%(user)r has no role in %(file)s: name an owner, an officer, a duty-centre operator or an "
            "administrator by their id in $.people") % {"user": user, "file": source})
    return actor


def _due_ms(text: str) -> int:
    """YYYY-MM-DD -> the end of that day, local time, in ms."""
    try:
        return WO.due_ms_of(text)
    except WO.WorkOrderError as err:
        raise click.BadParameter(err.told(), param_hint="--due") from None


def _now_ms() -> int:
    return int(time.time() * 1000)


# TRANSLATORS: the columns of `gaslatch platform orders`: (column, right-aligned)
ORDER_COLUMNS = ((N_("No."), True), (N_("grade"), False), (N_("site/unit"), False), (N_("cause"), False),
                 (N_("state"), False), (N_("hazard"), False), (N_("officer"), False), (N_("due"), False),
                 (N_("opened"), False))
# Whether the site check found a hazard (隐患): yes, none, not checked yet.
HAZARD_NAMES = {True: N_("hazard found"), False: N_("no hazard"), None: N_("not checked yet")}


def _summary_text(summary: str) -> str:
    """An order's cause (its warning's latest event) as a person reads it: the headline, else as stored."""
    event = words.summary_event(summary)
    return summary if event is None else words.headline(event, _)


def orders_table(rows: list[WO.Order], now_ms: int, title: str | None = None) -> Table:
    """The orders as a rich table; overdue ones stand out."""
    table = Table(title=_("gaslatch work orders") if title is None else title)
    for column, numeric in ORDER_COLUMNS:
        table.add_column(_(column), justify="right" if numeric else "left", overflow="fold")
    tz = datetime.datetime.now().astimezone().tzinfo
    for o in rows:
        due = _when(o.due_ms, tz) + (" " + _("overdue") if o.overdue(now_ms) else "")
        table.add_row(str(o.id), named(words.GRADE_NAMES, o.grade), Text("%s/%s" % (o.site, o.unit)),
                      Text(_summary_text(o.summary)), _(WO.STATE_NAMES[o.state]), _(HAZARD_NAMES[o.hazard]),
                      Text(o.officer), due, _when(o.opened_ms, tz), style="bold red" if o.overdue(now_ms) else "")
    if not rows:
        table.caption = _("no work orders")
    return table


@platform.command("orders", help=_(
    "List the work orders (工单) of USER's sites: state, officer, due date, overdue ones first in red."))
@DB_OPTION
@as_options
@click.option("--state", "states", multiple=True, type=click.Choice(WO.STATES),
              help=_("Only orders in this state (repeat for several)."))
def list_orders(db: str, user: str, contacts_path: str, states: tuple[str, ...]) -> None:
    """The work orders: see its help above."""
    actor = _actor(_load_contacts(contacts_path), user, contacts_path)
    storage = _open(db, WO.prepare)
    try:
        rows = WO.orders(storage, actor, states or None)
    finally:
        storage.close()
    Console(width=160).print(orders_table(rows, _now_ms()))


@platform.group("order", help=_(
    "Dispatch a work order for a warning, or take its next step (docs/platform.md#work-orders)."))
def order_group() -> None:
    """The work order's steps: see its help above."""


def _step(db: str, do) -> WO.Order:
    storage = _open(db, WO.prepare)
    try:
        return do(storage)
    except WO.WorkOrderError as err:
        raise click.ClickException(err.told()) from None
    finally:
        storage.close()


@order_group.command("dispatch", help=_(
    "Dispatch (派单) a work order for WARNING_ID to an officer; acknowledges the warning if still open."))
@click.argument("warning_id", type=int, metavar="WARNING_ID")
@DB_OPTION
@as_options
@click.option("--officer", required=True, metavar="ID", help=_("The officer of the site's district (contacts id)."))
@click.option("--due", required=True, metavar="YYYY-MM-DD", help=_("The site check is due by the end of this day."))
@click.option("--note", default="", metavar="TEXT", help=_("What to look at (recorded)."))
def order_dispatch(warning_id: int, db: str, user: str, contacts_path: str, officer: str, due: str,
                   note: str) -> None:
    """Dispatch: see its help above."""
    contacts = _load_contacts(contacts_path)
    actor = _actor(contacts, user, contacts_path)
    due_ms = _due_ms(due)
    o = _step(db, lambda storage: WO.dispatch(storage, actor, warning_id, officer, note, due_ms, _now_ms(),
                                              contacts=contacts))
    click.echo(_("order %(order)d dispatched to %(officer)s for warning %(warning)d") % {
        "order": o.id, "officer": o.officer, "warning": o.warning_id})


def _action_command(t: WO.Transition) -> click.Command:
    """The command of one step of TRANSITIONS, with the options its fields need."""

    def run(order_id: int, db: str, user: str, contacts_path: str, note: str, hazard: bool | None = None,
            due: str | None = None) -> None:
        actor = _actor(_load_contacts(contacts_path), user, contacts_path)
        due_ms = None if due is None else _due_ms(due)
        o = _step(db, lambda storage: WO.advance(storage, actor, order_id, t.action, _now_ms(), note=note,
                                                 hazard=hazard, due_ms=due_ms))
        click.echo(_("order %(order)d: %(state)s") % {"order": o.id, "state": _(WO.STATE_NAMES[o.state])})

    command = run
    if WO.DUE in t.needs:
        command = click.option("--due", required=True, metavar="YYYY-MM-DD",
                               help=_("Due by the end of this day."))(command)
    if WO.HAZARD in t.needs:
        command = click.option("--hazard/--no-hazard", default=None, required=True,
                               help=_("Whether the site check found a hazard (隐患)."))(command)
    command = click.option("--note", default="", metavar="TEXT", help=_(
        "Findings, what was done, why it failed (recorded); required.") if WO.NOTE in t.needs else _(
        "Findings, what was done, why it failed (recorded)."))(command)
    command = DB_OPTION(as_options(click.argument("order_id", type=int, metavar="ORDER_ID")(command)))
    return click.command(t.action, help=_("%(step)s: %(sources)s -> %(target)s, by the %(roles)s.") % {
        "step": _(t.name), "sources": " / ".join(_(WO.STATE_NAMES[s]) for s in t.sources),
        "target": _(WO.STATE_NAMES[t.target]), "roles": " / ".join(_(ROLE_NAMES[r]) for r in t.roles)})(command)


for _transition in WO.TRANSITIONS:
    if _transition.sources:
        order_group.add_command(_action_command(_transition))


@order_group.command("show", help=_("An order and every step of it: who, when, what."))
@click.argument("order_id", type=int, metavar="ORDER_ID")
@DB_OPTION
@as_options
def order_show(order_id: int, db: str, user: str, contacts_path: str) -> None:
    """An order: see its help above."""
    actor = _actor(_load_contacts(contacts_path), user, contacts_path)
    storage = _open(db, WO.prepare)
    try:
        o = WO.order(storage, actor, order_id)
        steps = WO.history(storage, actor, order_id)
    except WO.WorkOrderError as err:
        raise click.ClickException(err.told()) from None
    finally:
        storage.close()
    console = Console(width=160)
    console.print(orders_table([o], _now_ms(), _("work order %(order)d") % {"order": o.id}))
    tz = datetime.datetime.now().astimezone().tzinfo
    for h in steps:
        was = _(WO.STATE_NAMES[h.from_state]) if h.from_state in WO.STATE_NAMES else h.from_state or ""
        now = _(WO.STATE_NAMES[h.to_state]) if h.to_state in WO.STATE_NAMES else h.to_state
        console.print("%s  %s  %s -> %s  %s" % (_when(h.at_ms, tz), h.actor, was, now, h.note),
                      markup=False, highlight=False)


@order_group.command("photo", help=_(
    "Attach a photo (JPEG or PNG, at most 5 MB) of the findings or the rectification to ORDER_ID."))
@click.argument("order_id", type=int, metavar="ORDER_ID")
@click.argument("photo_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE")
@DB_OPTION
@as_options
def order_photo(order_id: int, photo_path: str, db: str, user: str, contacts_path: str) -> None:
    """A photo: see its help above."""
    actor = _actor(_load_contacts(contacts_path), user, contacts_path)
    try:
        with open(photo_path, "rb") as f:
            data = f.read(WO.MAX_PHOTO_BYTES + 1)
    except OSError as err:
        raise click.ClickException(_("cannot read the photo %(path)s: %(error)s") % {
            "path": photo_path, "error": err.strerror or err}) from None
    photo_id = _step(db, lambda storage: WO.add_photo(storage, actor, order_id, data, _now_ms()))
    click.echo(_("photo %(photo)d added to order %(order)d") % {"photo": photo_id, "order": order_id})


@platform.command("ledger", help=_(
    "Export the hazard ledger (隐患台账) of USER's sites: every hazard, its state, due date, officer, history."))
@DB_OPTION
@as_options
@click.option("--format", "fmt", required=True, type=click.Choice(X.FORMATS), help=_("CSV, XLSX or a printable PDF."))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help=_("Where to write it (replaced whole)."))
def ledger(db: str, user: str, contacts_path: str, fmt: str, out_path: str) -> None:
    """The hazard ledger: see its help above."""
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
        raise click.ClickException(err.told()) from None
    click.echo(ngettext("%(count)d hazard written to %(path)s", "%(count)d hazards written to %(path)s", count)
               % {"count": count, "path": out_path}, err=True)




def _run(receiver: PlatformReceiver, once: bool, seconds: float | None) -> None:
    try:
        receiver.start()
    except ConnectionError as err:
        raise click.ClickException(told(err)) from None
    console = Console()
    values = {"host": receiver.host, "port": receiver.port, "group": receiver.shared_group}
    title = (_("gaslatch fleet via %(host)s:%(port)d") if receiver.shared_group is None else
             _("gaslatch fleet via %(host)s:%(port)d (shared group %(group)s)")) % values
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
    refused = ", ".join("%s %d" % (code, n) for code, n in sorted(receiver.refused.items())) or "-"
    fleet = receiver.fleet()
    console.print(_("stored %(stored)d, duplicates %(duplicates)d, refused %(refused)d (%(codes)s), gaps %(gaps)d, "
                    "lost %(lost)d") % {
        "stored": counts.get("stored", 0), "duplicates": counts.get("duplicate", 0),
        "refused": counts.get("refused", 0), "codes": refused, "gaps": sum(row.gaps for row in fleet),
        "lost": sum(row.lost for row in fleet)}, markup=False, highlight=False)


# The web console and its accounts live in console/ (their own imports: FastAPI, uvicorn, argon2).
from gaslatch_tools.platform.console.cli import account, console  # noqa: E402

platform.add_command(console)
platform.add_command(account)
