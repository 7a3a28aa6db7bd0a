"""The district's web console (平台控制台): server-rendered pages over the platform's database.

Every page asks for a session (accounts.py) and renders only the sites in the person's scope (access.py); a site
or warning outside it answers exactly as one that does not exist. Every form carries the session's CSRF token and
every change is audited in its own transaction. The live queue updates by server-sent events. There is no page,
form or route that opens a valve or resets a unit: only a person at the unit can (docs/safety.md).
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, Callable, NamedTuple
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch.translation import N_
from gaslatch_tools.platform import access, accounts, audit, fleet_view
from gaslatch_tools.platform import ledger_export as X
from gaslatch_tools.platform import metrics as M
from gaslatch_tools.platform import readings as RD
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform import work_orders as WO
from gaslatch_tools.platform.access import Actor
from gaslatch_tools.platform.contacts import Contacts
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import words
from gaslatch_tools.platform.rules import Rules
from gaslatch_tools.platform.storage import SqlStorage
from gaslatch_tools.platform.unit_commands import CommandError, CommandSender

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "gaslatch_session"
LOGIN_COOKIE = "gaslatch_login"  # the login form's own CSRF token (double submit): no session exists yet
LIVE_POLL_S = 0.5  # the live queue looks for changes this often: a change shows within 1 s
MAX_FORM_CHARS = 2000
MAX_EVENTS_SHOWN = 200
MAX_SHOWN_CHARS = 100_000  # one text on a page (a row's field; the rows themselves are bounded)
MAX_WARNINGS_SHOWN = 500  # the queue's first page: grade 1 first, newest first
OPEN_ORDER_STATES = tuple(s for s in WO.STATES if s != WO.CLOSED)
MAX_ID = 2 ** 63 - 1  # ids are BIGINT: a larger one in a URL is simply not found
SECURITY_HEADERS = {
    # No script, style or frame from anywhere else; no inline script at all.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class ConsoleSettings(NamedTuple):
    storage: SqlStorage
    contacts: Contacts
    clock_ms: Callable[[], int]
    rules: Rules | None = None  # the receivers' rules file: each warning's title and advice (what to do)
    commands: CommandSender | None = None  # sends close_valve (signed); None: the console sends no command
    secure_cookies: bool = True  # False only for plain HTTP on loopback (tests, a pilot on one machine)


class Viewer(NamedTuple):
    session: accounts.Session
    actor: Actor


class Refusal(Exception):
    """A request refused with a page: status and the message shown, Chinese with English beside it (`message` is
    the English of the catalogue, filled with `values`)."""

    def __init__(self, status: int, message: str, **values: Any):
        super().__init__(words.pair(message, **values))
        self.status = status
        self.message = words.html(message, **values)


NOT_FOUND = N_("Not found")
DOWNLOAD_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def unit_name_ok(site: str, unit: str = "unit") -> bool:
    """Whether these could be a site's and a unit's names at all (what a topic level may hold): anything else in an
    address is answered as not found before it reaches a query (PostgreSQL refuses NUL, for one)."""
    try:
        W.topics(site, unit)
    except W.TopicNameError:
        return False
    return True


def public_token(key: bytes, site: str) -> str:
    """The unguessable part of a site's public page address (气安码)."""
    return hmac.new(key, b"site:" + site.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:24]


def local_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


GRADE_NAMES = words.GRADE_NAMES
STATE_NAMES = words.STATE_NAMES


def shown_safe(value: Any) -> Any:
    """Every text a page shows, made sendable whatever a row holds (a lone surrogate cannot be encoded, NUL and
    bidi controls would garble the page): escaped as events are (\\ud800, \\x00, \\u202e); HTML made here is so."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return E.safe_text(value, MAX_SHOWN_CHARS)
    return value


def event_row_html(unit_row: tuple) -> Markup:
    """A row of the events table (unit, ts, type, severity, source, state, value, reason) as its headline."""
    return words.event_html(words.event_of_row(unit_row[2], unit_row[5], unit_row[4], unit_row[6]))


def create_app(settings: ConsoleSettings) -> FastAPI:
    storage, contacts = settings.storage, settings.contacts
    accounts.prepare(storage)
    WS.prepare(storage)
    WO.prepare(storage)
    app = FastAPI(title="gaslatch console", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.finalize = shown_safe  # before any template is compiled: it applies to every {{ }}
    rules_by_name = settings.rules.by_name if settings.rules else {}
    templates.env.globals.update(
        local_time=local_time, duration=M.duration_text, RULES=rules_by_name,
        # code -> its name, an N_() message shown by named(): 中文 <span class="en">English</span>
        GRADE_NAMES=GRADE_NAMES, STATE_NAMES=STATE_NAMES, ROLE_NAMES=access.ROLE_NAMES, ORDER_STATES=WO.STATE_NAMES,
        ORDER_STEPS={t.action: t.name for t in WO.TRANSITIONS}, SEVERITY_NAMES=words.SEVERITY_NAMES,
        DETECTOR_STATES=words.DETECTOR_STATES, named=words.named,
        # bi("English"): extracted (pybabel -k bi); marked(t.name): a message marked N_() where it is defined
        bi=words.html, marked=words.html,
        summary_html=words.summary_html, event_html=event_row_html, recorded_html=words.recorded_html,
        rule_title=lambda name: words.join_html(*words.rule_title(rules_by_name, name)))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    sites_doc = contacts.doc["sites"]
    silent_after_ms = R.silent_after_ms(settings.rules)
    public_key = accounts.platform_key(storage, "public_pages")  # the QR addresses cannot be guessed
    tokens = {public_token(public_key, site): site for site in sites_doc}
    officers = {site: contacts.people_for(site, access.OFFICER) for site in sites_doc}  # the file is read once
    actor_of = functools.lru_cache(maxsize=4096)(lambda user: access.actor_for(contacts, user))  # scans every site

    def now() -> int:
        return int(settings.clock_ms())

    def origin_of(request: Request) -> str:
        return "console %s" % (request.client.host if request.client else "?")

    def page(request: Request, name: str, viewer: Viewer | None, code: int = 200, **context) -> HTMLResponse:
        context.update(request=request, viewer=viewer, csrf=viewer.session.csrf if viewer else "")
        response = templates.TemplateResponse(request, name, context, status_code=code)
        response.headers.update(SECURITY_HEADERS)
        return response

    def viewer_of(request: Request, touch: bool = True) -> Viewer | None:
        sess = accounts.session(storage, request.cookies.get(SESSION_COOKIE), now(), touch=touch)
        if sess is None:
            return None
        actor = actor_of(sess.username)
        return None if actor is None else Viewer(sess, actor)

    def require(request: Request, touch: bool = True) -> Viewer:
        viewer = viewer_of(request, touch)
        if viewer is None:
            raise _LoginNeeded()
        return viewer

    async def checked_form(request: Request, viewer: Viewer) -> dict[str, str]:
        """The POSTed form, once its origin and CSRF token are right; Refusal otherwise."""
        _same_origin(request)
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not accounts.csrf_ok(viewer.session, fields.get("csrf")):
            raise Refusal(403, N_("The form has expired or was not sent by this console: reload the page"))
        return {k: v[:MAX_FORM_CHARS] for k, v in fields.items()}

    class _LoginNeeded(Exception):
        pass

    @app.exception_handler(_LoginNeeded)
    async def login_needed(request: Request, exc: _LoginNeeded):
        if request.method == "GET" and not request.url.path.startswith("/live"):
            target = request.url.path + (("?" + request.url.query) if request.url.query else "")
            return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303,
                                    headers=SECURITY_HEADERS)
        return _plain(401, words.pair(N_("Log in first")))

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal):
        viewer = await run_in_threadpool(viewer_of, request, False)
        return page(request, "message.html", viewer, code=exc.status, message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return _plain(400, words.pair(N_("Bad request: %(problems)s"), problems="; ".join(
            "%s: %s" % (".".join(str(p) for p in e.get("loc", ())), e.get("msg", "")) for e in exc.errors()[:3])))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _plain(exc.status_code, words.pair(NOT_FOUND) if exc.status_code == 404 else str(exc.detail))

    # --- logging in and out ---

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/"):
        token = accounts.new_form_token()
        response = page(request, "login.html", None, login_token=token, next=_safe_next(next), error="")
        _set_cookie(response, LOGIN_COOKIE, token, settings.secure_cookies, max_age=3600)
        return response

    @app.post("/login")
    async def login_post(request: Request):
        _same_origin(request)
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        next_url = _safe_next(fields.get("next", "/"))
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not cookie or not hmac.compare_digest(cookie.encode(), fields.get("login_token", "").encode(
                "utf-8", "surrogatepass")):
            raise Refusal(403, N_("The login form has expired: open the login page again"))
        try:
            sess = await run_in_threadpool(accounts.login, storage, fields.get("username", "")[:200],
                                           fields.get("password", "")[:accounts.MAX_PASSWORD_CHARS + 1], now(),
                                           origin_of(request))
        except accounts.LoginRefused as err:
            token = accounts.new_form_token()
            response = page(request, "login.html", None, code=401, login_token=token, next=next_url,
                            error=words.html(err.message, **err.values))
            _set_cookie(response, LOGIN_COOKIE, token, settings.secure_cookies, max_age=3600)
            return response
        if actor_of(sess.username) is None:
            await run_in_threadpool(accounts.logout, storage, sess.token, now(), origin_of(request))
            raise Refusal(403, N_("This account has no role in the contacts file"))
        response = RedirectResponse(next_url, status_code=303, headers=SECURITY_HEADERS)
        _set_cookie(response, SESSION_COOKIE, sess.token, settings.secure_cookies)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(request: Request):
        viewer = await run_in_threadpool(require, request)
        await checked_form(request, viewer)
        await run_in_threadpool(accounts.logout, storage, viewer.session.token, now(), origin_of(request))
        response = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- warnings: the live queue ---

    def scoped_warnings(actor: Actor, open_only: bool) -> list[WS.WarningRow]:
        return WS.warnings(storage, open_only, access.sql_scope(actor), limit=MAX_WARNINGS_SHOWN)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        require(request)
        return RedirectResponse("/warnings", status_code=303, headers=SECURITY_HEADERS)

    @app.get("/warnings", response_class=HTMLResponse)
    def warnings_page(request: Request, all: int = 0):
        viewer = require(request)
        rows = scoped_warnings(viewer.actor, open_only=not all)
        return page(request, "warnings.html", viewer, rows=rows, show_all=bool(all), **dispatch_context(viewer.actor))

    @app.get("/warnings/table", response_class=HTMLResponse)
    def warnings_fragment(request: Request, all: int = 0):
        viewer = require(request, touch=False)
        rows = scoped_warnings(viewer.actor, open_only=not all)
        return page(request, "warnings_table.html", viewer, rows=rows, show_all=bool(all),
                    **dispatch_context(viewer.actor))

    def dispatch_context(actor: Actor) -> dict:
        """What the queue's dispatch forms need: each warning's open order, the officers of each site."""
        if not actor.at_least(access.OPERATOR):
            return {"can_dispatch": False}
        open_orders = {o.warning_id: o.id for o in WO.orders(storage, actor, OPEN_ORDER_STATES)}
        return {"can_dispatch": True, "open_orders": open_orders, "officers": officers, "names": contacts.name}

    @app.get("/warnings/{warning_id}/readings.svg")
    def warning_plot(request: Request, warning_id: int):
        """The unit's readings 15 minutes either side of the warning's opening (telemetry kept 48 h)."""
        viewer = require(request, touch=False)
        warning = _visible_warning(viewer.actor, warning_id)
        rows = RD.around(storage, warning.site, warning.unit, warning.opened_ms)
        svg = RD.plot_svg(rows, warning.opened_ms, "%s/%s · warning %d · %s" % (
            warning.site, warning.unit, warning.id, local_time(warning.opened_ms)),
            datetime.datetime.now().astimezone().tzinfo)
        return Response(svg, media_type="image/svg+xml", headers={
            **SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    @app.post("/warnings/{warning_id}/ack")
    async def acknowledge(request: Request, warning_id: int):
        viewer = await run_in_threadpool(require, request)
        form = await checked_form(request, viewer)
        await run_in_threadpool(_visible_warning, viewer.actor, warning_id)
        try:
            await run_in_threadpool(WS.acknowledge, storage, warning_id, viewer.actor.user, form.get("note", ""),
                                    now(), origin_of(request))
        except WS.AckError as err:
            raise Refusal(409, N_("Cannot acknowledge: %(error)s"), error=err) from None
        return RedirectResponse("/warnings", status_code=303, headers=SECURITY_HEADERS)

    def _visible_warning(actor: Actor, warning_id: int) -> WS.WarningRow:
        row = WS.warning(storage, warning_id) if 0 < warning_id <= MAX_ID else None
        if row is None or not actor.sees(row.site):
            raise Refusal(404, NOT_FOUND)
        return row

    def fingerprint(actor: Actor) -> tuple:
        where, params = access.sql_scope(actor)
        return storage.read(lambda x: tuple(x(
            "SELECT COUNT(*), COALESCE(MAX(updated_ms), 0), COALESCE(MAX(id), 0) FROM warnings WHERE " + where,
            params).fetchone()))

    @app.get("/live/warnings")
    async def live(request: Request):
        viewer = await run_in_threadpool(require, request, False)

        async def changes():
            last = None
            while not await request.is_disconnected():
                if await run_in_threadpool(viewer_of, request, False) is None:
                    yield {"event": "logout", "data": "/login"}
                    return
                mark = await run_in_threadpool(fingerprint, viewer.actor)
                if mark != last:
                    last = mark
                    yield {"event": "warnings", "data": json.dumps(list(mark))}
                await asyncio.sleep(LIVE_POLL_S)

        return EventSourceResponse(changes(), ping=15, headers={"Cache-Control": "no-store"})

    # --- the fleet and each site ---

    @app.get("/sites", response_class=HTMLResponse)
    def sites_page(request: Request, district: str = "", status: str = ""):
        viewer = require(request)
        rows = fleet_view.units(storage, viewer.actor, now(), silent_after_ms)
        districts = {site: entry["district"] for site, entry in sites_doc.items()}
        if district:
            rows = [r for r in rows if districts.get(r.site) == district]
        if status:
            rows = [r for r in rows if r.status == status]
        visible_districts = sorted({districts[s] for s in sites_doc if viewer.actor.sees(s)})
        return page(request, "sites.html", viewer, rows=rows, districts=districts, district=district,
                    status=status, district_names={d: e.get("name", d) for d, e in contacts.doc["districts"].items()},
                    visible_districts=visible_districts, site_names={s: e.get("name", s)
                                                                     for s, e in sites_doc.items()})

    @app.get("/sites/{site}", response_class=HTMLResponse)
    def site_page(request: Request, site: str):
        viewer = require(request)
        if not viewer.actor.sees(site) or not unit_name_ok(site):
            raise Refusal(404, NOT_FOUND)
        units = fleet_view.units(storage, viewer.actor, now(), silent_after_ms, site=site)
        if not units and site not in sites_doc:
            raise Refusal(404, NOT_FOUND)
        states = {u.unit: storage.state(u.site, u.unit) for u in units}
        events = storage.read(lambda x: x(
            "SELECT unit, ts, type, severity, source, state, value, reason FROM events WHERE site = ? "
            "ORDER BY ts DESC, seq DESC LIMIT %d" % MAX_EVENTS_SHOWN, (site,)).fetchall())
        warnings = WS.warnings(storage, scope=("site = ?", (site,)), limit=MAX_WARNINGS_SHOWN)
        entry = sites_doc.get(site, {})
        closable = {u.unit for u in units if settings.commands and settings.commands.can_close(site, u.unit)}
        return page(request, "site.html", viewer, site=site, site_name=entry.get("name", site), units=units,
                    states=states, events=events, warnings=warnings, closable=closable,
                    public_url="/q/" + public_token(public_key, site))

    @app.post("/sites/{site}/units/{unit}/close-valve")
    async def close_valve(request: Request, site: str, unit: str):
        """The only command the console sends: close the gas (always safe). Audited with who sent it."""
        viewer = await run_in_threadpool(require, request)
        form = await checked_form(request, viewer)
        known = viewer.actor.sees(site) and unit_name_ok(site, unit) and await run_in_threadpool(
            lambda: any(r.unit == unit for r in fleet_view.units(storage, viewer.actor, now(), silent_after_ms,
                                                                 site=site)))
        if not known:
            raise Refusal(404, NOT_FOUND)
        if settings.commands is None:
            raise Refusal(409, N_("This console sends no commands (no --unit-keys)"))
        if form.get("confirm") != "yes":
            raise Refusal(400, N_("Tick the confirmation before sending"))
        target = "unit:%s/%s" % (site, unit)
        try:
            command_id = await run_in_threadpool(settings.commands.close_valve, site, unit)
        except CommandError as err:
            problem = str(err)
            await run_in_threadpool(storage.write, lambda x: audit.record(
                x, now(), viewer.actor.user, "close_valve_failed", target, site=site, detail={"error": problem},
                origin=origin_of(request)))
            raise Refusal(502, N_("close_valve was not sent: %(error)s"), error=err) from None
        await run_in_threadpool(storage.write, lambda x: audit.record(
            x, now(), viewer.actor.user, "close_valve", target, site=site,
            detail={"command": command_id, "note": form.get("note", "")}, origin=origin_of(request)))
        return page(request, "message.html", viewer, code=202, ok=True, message=words.html(N_(
            "close_valve sent to %(site)s/%(unit)s (%(command)s). The unit's state here shows the valve closed once "
            "it has acted."), site=site, unit=unit, command=command_id), back="/sites/" + quote(site, safe=""))

    # --- work orders (工单), the hazard ledger (隐患台账), district metrics ---

    def order_or_404(actor: Actor, order_id: int) -> WO.Order:
        try:
            if not 0 < order_id <= MAX_ID:
                raise WO.NotFound("no such order")
            return WO.order(storage, actor, order_id)
        except WO.NotFound:
            raise Refusal(404, NOT_FOUND) from None

    def due_of(text: str) -> int:
        try:
            return WO.due_ms_of(text.strip())
        except WO.WorkOrderError as err:
            raise Refusal(400, N_("Not a due date (YYYY-MM-DD): %(error)s"), error=err) from None

    @app.post("/warnings/{warning_id}/dispatch")
    async def dispatch(request: Request, warning_id: int):
        viewer = await run_in_threadpool(require, request)
        form = await checked_form(request, viewer)
        await run_in_threadpool(_visible_warning, viewer.actor, warning_id)
        due = due_of(form.get("due", ""))
        try:
            order = await run_in_threadpool(lambda: WO.dispatch(
                storage, viewer.actor, warning_id, form.get("officer", ""), form.get("note", ""), due, now(),
                origin_of(request), contacts=contacts))
        except WO.NotFound:
            raise Refusal(404, NOT_FOUND) from None
        except WO.WorkOrderError as err:
            raise Refusal(409, N_("Cannot dispatch: %(error)s"), error=err) from None
        return RedirectResponse("/orders/%d" % order.id, status_code=303, headers=SECURITY_HEADERS)

    @app.get("/orders", response_class=HTMLResponse)
    def orders_page(request: Request, state: str = ""):
        viewer = require(request)
        states = [state] if state in WO.STATES else None
        rows = WO.orders(storage, viewer.actor, states)
        return page(request, "orders.html", viewer, rows=rows, state=state if states else "", now_ms=now(),
                    states=WO.STATES)

    @app.get("/orders/{order_id}", response_class=HTMLResponse)
    def order_page(request: Request, order_id: int):
        viewer = require(request)
        order = order_or_404(viewer.actor, order_id)
        return page(request, "order.html", viewer, order=order, steps=WO.history(storage, viewer.actor, order.id),
                    photos=WO.photos(storage, viewer.actor, order.id), actions=WO.available(order, viewer.actor, now()),
                    can_photo=viewer.actor.role in WO.PHOTO_ROLES and order.state != WO.CLOSED, now_ms=now(),
                    names=contacts.name)

    @app.post("/orders/{order_id}/photos")
    async def add_photo(request: Request, order_id: int):
        viewer = await run_in_threadpool(require, request)
        _same_origin(request)
        form = await request.form(max_files=1, max_fields=5, max_part_size=WO.MAX_PHOTO_BYTES + 1024)
        if not accounts.csrf_ok(viewer.session, form.get("csrf") if isinstance(form.get("csrf"), str) else None):
            raise Refusal(403, N_("The form has expired: reload the page"))
        upload = form.get("photo")
        if upload is None or isinstance(upload, str):
            raise Refusal(400, N_("Choose a photo (JPEG or PNG)"))
        data = await upload.read(WO.MAX_PHOTO_BYTES + 1)
        order_or_404(viewer.actor, order_id)
        try:
            await run_in_threadpool(WO.add_photo, storage, viewer.actor, order_id, data, now(), origin_of(request))
        except WO.NotFound:
            raise Refusal(404, NOT_FOUND) from None
        except WO.WorkOrderError as err:
            raise Refusal(400, N_("Photo not kept: %(error)s"), error=err) from None
        return RedirectResponse("/orders/%d" % order_id, status_code=303, headers=SECURITY_HEADERS)

    @app.get("/photos/{photo_id}")
    def photo(request: Request, photo_id: int):
        viewer = require(request)
        try:
            if not 0 < photo_id <= MAX_ID:
                raise WO.NotFound("no such photo")
            content_type, data = WO.photo(storage, viewer.actor, photo_id)
        except WO.NotFound:
            raise Refusal(404, NOT_FOUND) from None
        return Response(data, media_type=content_type, headers={**SECURITY_HEADERS,
                                                                "Content-Disposition": "inline"})

    @app.post("/orders/{order_id}/{action}")
    async def advance(request: Request, order_id: int, action: str):
        viewer = await run_in_threadpool(require, request)
        form = await checked_form(request, viewer)
        order_or_404(viewer.actor, order_id)
        if action not in WO.ACTIONS:
            raise Refusal(404, NOT_FOUND)
        transition = WO.BY_ACTION[action]
        hazard = {"yes": True, "no": False}.get(form.get("hazard", "")) if WO.HAZARD in transition.needs else None
        due = due_of(form.get("due", "")) if WO.DUE in transition.needs else None
        try:
            await run_in_threadpool(lambda: WO.advance(storage, viewer.actor, order_id, action, now(),
                                                       origin_of(request), form.get("note", ""), hazard, due))
        except WO.NotFound:
            raise Refusal(404, NOT_FOUND) from None
        except WO.WorkOrderError as err:
            raise Refusal(409, N_("Not recorded: %(error)s"), error=err) from None
        return RedirectResponse("/orders/%d" % order_id, status_code=303, headers=SECURITY_HEADERS)

    def ledger_rows(actor: Actor) -> tuple[list[str], list[list]]:
        return X.ledger_table(WO.ledger(storage, actor, now()), datetime.datetime.now().astimezone().tzinfo)

    @app.get("/ledger", response_class=HTMLResponse)
    def ledger_page(request: Request):
        viewer = require(request)
        rows = WO.ledger(storage, viewer.actor, now())
        return page(request, "ledger.html", viewer, rows=rows, now_ms=now())

    @app.get("/ledger.{fmt}")
    def ledger_download(request: Request, fmt: str):
        viewer = require(request)
        if fmt not in X.FORMATS:
            raise Refusal(404, NOT_FOUND)
        headers, rows = ledger_rows(viewer.actor)
        content, _ = X.render(fmt, headers, rows, "%s · %s · %s" % (
            words.pair(N_("hazard ledger")), viewer.actor.user, local_time(now())))
        stamp = datetime.datetime.fromtimestamp(now() / 1000).strftime("%Y%m%d-%H%M")
        storage.write(lambda x: audit.record(x, now(), viewer.actor.user, "export_ledger", "ledger",
                                             detail={"format": fmt, "rows": len(rows)}, origin=origin_of(request)))
        return Response(content, media_type=DOWNLOAD_TYPES[fmt], headers={
            **SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="ledger-%s.%s"' % (stamp, fmt)})

    @app.get("/metrics", response_class=HTMLResponse)
    def metrics_page(request: Request, days: int = 30):
        viewer = require(request)
        days = min(max(days, 1), 366)
        rows = M.district_metrics(storage, contacts, viewer.actor.sites, now(), days * M.DAY_MS, silent_after_ms,
                                  closed_at=WO.closed_at(storage))
        return page(request, "metrics.html", viewer, rows=rows, days=days)

    @app.get("/sites/{site}/sticker", response_class=HTMLResponse)
    def sticker(request: Request, site: str):
        viewer = require(request)
        if not viewer.actor.sees(site) or site not in sites_doc:
            raise Refusal(404, NOT_FOUND)
        import segno

        address = str(request.base_url).rstrip("/") + "/q/" + public_token(public_key, site)
        svg = segno.make(address, error="m").svg_data_uri(scale=6)
        return page(request, "sticker.html", viewer, site=site, site_name=sites_doc[site].get("name", site),
                    address=address, qr=svg)

    # --- the public page of a site (气安码): nothing private ---

    @app.get("/q/{token}", response_class=HTMLResponse)
    def public_page(request: Request, token: str):
        site = tokens.get(token)
        if site is None:
            raise Refusal(404, NOT_FOUND)
        public = Actor("public page", access.OWNER, frozenset({site}))
        units = fleet_view.units(storage, public, now(), silent_after_ms)
        open_warnings = WS.warnings(storage, True, ("site = ?", (site,)), limit=MAX_WARNINGS_SHOWN)
        return page(request, "public.html", None, site_name=sites_doc[site].get("name", site),
                    online=sum(1 for u in units if u.status == "online"), units=len(units),
                    open_hazards=len(open_warnings), checked_at=local_time(now()))

    # --- the audit log ---

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request):
        viewer = require(request)
        if not viewer.actor.at_least(access.OPERATOR):
            raise Refusal(404, NOT_FOUND)
        return page(request, "audit.html", viewer, rows=audit.rows(storage))

    # --- administration: who has which role, accounts and lockouts, the rules in force ---

    def require_admin(request: Request, touch: bool = True) -> Viewer:
        viewer = require(request, touch)
        if not viewer.actor.at_least(access.ADMIN):
            raise Refusal(404, NOT_FOUND)
        return viewer

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request):
        viewer = require_admin(request)
        doc = contacts.doc
        set_at = dict(accounts.accounts(storage))
        people = []
        for person, entry in sorted(doc["people"].items()):
            actor = access.actor_for(contacts, person)
            people.append({
                "id": person, "name": entry.get("name", person), "role": actor.role if actor else None,
                "sites": None if actor is None or actor.sites is None else sorted(actor.sites),
                "channels": sorted(entry.get("channels", {})),  # names only: the URLs hold tokens
                "password_set": set_at.get(person), "locked_until": accounts.locked_until(storage, person, now())})
        districts = [(d, e.get("name", d), e.get("officers", []),
                      sorted(s for s, se in doc["sites"].items() if se["district"] == d))
                     for d, e in sorted(doc["districts"].items())]
        rules = settings.rules
        return page(request, "admin.html", viewer, people=people, districts=districts,
                    site_names={s: e.get("name", s) for s, e in sites_doc.items()},
                    policies=sorted(rules.policies.values(), key=lambda p: p.grade) if rules else [],
                    rules=rules.rules if rules else [], contacts_source=contacts.source,
                    rules_source=rules.source if rules else None)

    @app.post("/admin/accounts/{user}/unlock")
    async def admin_unlock(request: Request, user: str):
        viewer = await run_in_threadpool(require_admin, request)
        await checked_form(request, viewer)
        if user not in contacts.doc["people"]:
            raise Refusal(404, NOT_FOUND)
        await run_in_threadpool(accounts.unlock, storage, user, now(), viewer.actor.user, origin_of(request))
        return RedirectResponse("/admin", status_code=303, headers=SECURITY_HEADERS)

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            if key == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(key, value)
        return response

    return app


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain; charset=utf-8",
                    headers=SECURITY_HEADERS)


def _set_cookie(response: Response, name: str, value: str, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path="/", max_age=max_age)


def _safe_next(target: Any) -> str:
    """Where to go after logging in: a path on this console only (never another host: an open redirect)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return "/"
    return target[:500]


def _same_origin(request: Request) -> None:
    """A POST whose Origin (or Referer) names another site is refused: a second line behind the CSRF token."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return
    mine = urlsplit(str(request.base_url))
    theirs = urlsplit(claimed)
    if (theirs.scheme, theirs.netloc) != (mine.scheme, mine.netloc):
        raise Refusal(403, N_("Refused: the request came from another site"))
