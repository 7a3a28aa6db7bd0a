"""The kitchen panel's pages (Starlette + Jinja2, no FastAPI: the panel must stay within 40 MiB on the Pi).

One page: the big state, each detector, interlocks, inhibits, what to do now, and the reset hint (the page never
resets or opens anything: it tells the person to press RESET on the unit and why it would be refused now). It
updates itself from a server-sent event stream. A PIN raises the session's level: operator (silence),
maintenance (inhibit, output test), installer (the configuration); each action is checked against the level the
core's command table asks for, sent on the person's behalf ("by": panel <level>) and so recorded as an event.
Logins, failures, lockouts and logouts are recorded too (the `access` command).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Callable, NamedTuple

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gaslatch.core.commands import COMMANDS, INSTALLER, VIEW
from gaslatch.panel import pins as P
from gaslatch.panel.commissioning_view import commissioning_view
from gaslatch.panel.state_view import recorded_words, view
from gaslatch.panel.status_feed import StatusFeed, request as send
from gaslatch.core.events import safe_text
from gaslatch.panel.words import LEVEL_NAMES, needs_level, pair, shown, text_of
from gaslatch.translation import N_

HERE = Path(__file__).resolve().parent
COOKIE = "gaslatch_panel"
IDLE_S = 5 * 60  # a kiosk left logged in drops back to view after 5 minutes without a touch
HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                      "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
           "Cache-Control": "no-store"}
MAX_FORM_BYTES = 4096


MAX_RECORD_BYTES = 4 * 1024 * 1024  # a record with every plot's samples is a few hundred kB


def json_text(doc: object) -> str:
    """A JSON document as a page shows it: indented, Chinese as it is. JSON may hold a lone surrogate (a valid
    \\ud800 escape) that no page can encode: it is shown as that escape, not turned into a 500."""
    return json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")


CANNOT_READ = N_("cannot read %(path)s: %(error)s")


def _read_record(path: str | None) -> tuple[object, tuple[str, str] | None]:
    """(the commissioning record, None) or (None, why not: Chinese, English)."""
    if not path:
        return None, pair(N_("no record configured (gaslatch panel --record)"))
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None, pair(N_("no commissioning record at %(path)s (docs/commissioning.md, The commissioning report)"),
                          path=path)
    except OSError as err:
        return None, pair(CANNOT_READ, path=path, error=err.strerror or err)
    if len(raw) > MAX_RECORD_BYTES:
        return None, pair(N_("%(path)s is larger than %(mib)d MiB: not a commissioning record"), path=path,
                          mib=MAX_RECORD_BYTES // 1048576)
    try:
        record = json.loads(raw.decode("utf-8"))
        json.dumps(record)  # what the page prints of it must print too
    except (UnicodeDecodeError, ValueError) as err:
        return None, pair(N_("%(path)s is not a JSON commissioning record: %(error)s"), path=path, error=err)
    except RecursionError:
        return None, pair(N_("%(path)s is nested too deeply to be a commissioning record"), path=path)
    return record, None


def both_html(words: tuple[str, str] | str, strong: bool = False) -> Markup:
    """Chinese with the English beside it, as the panel shows every word: `中文 <span class="en">English</span>`
    (the Chinese in <strong> if strong), each half escaped. A plain text (the controller's own answer) is shown as
    it is, escaped."""
    if isinstance(words, str):
        return escape(safe_text(words, 10 ** 6))
    if strong:
        return Markup('<strong>%s</strong> <span class="en">%s</span>') % words
    return Markup('%s <span class="en">%s</span>') % words


def answer_words(reply: dict) -> tuple[str, str] | str:
    """The controller's answer to an action as the flash shows it: its message or its error, in Chinese with the
    English beside (recorded_text) where the phrasebook knows it. (The panel sends no reset: no reasons list.)"""
    if reply.get("message"):
        return recorded_words(reply["message"])
    return recorded_words(reply["error"]) if reply.get("error") else ""


def bi(message: str, strong: bool = False, **values: object) -> Markup:
    """A template's words (`{{ bi("Recent events") }}`): the message in Chinese with the English beside it, filled
    with `values` (`{{ bi("due by %(time)s", time=...) }}`). Babel extracts these calls (-k bi)."""
    return both_html(pair(message, **values), strong)


def bi_zh(message: str, **values: object) -> str:
    """Only the Chinese of a message, where no markup may go (the page's <title>). Extracted as bi() is."""
    return pair(message, **values)[0]


def printed(value: object) -> object:
    """What a template prints of a value ({{ v.trip_reason }}, {{ v.silenced_s }}): a status field from outside may
    hold an int str() refuses (ValueError: the page would fail) or a control, bidi or lone surrogate character: such
    text is shown escaped, as events are, such a number as '?'. Markup (bi(), both) is already made safe."""
    if value is None or isinstance(value, (Markup, bool)):
        return value
    if isinstance(value, (int, float)):
        return shown(value) if not isinstance(shown(value), str) else "?"
    return safe_text(value if isinstance(value, str) else text_of(value), 10 ** 6)


def template_env() -> Environment:
    """The panel's templates, with bi(), bi_zh(), level_words() and the `both` filter; every value printed()."""
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      finalize=printed)
    env.globals.update(bi=bi, bi_zh=bi_zh, level_words=lambda level: pair(LEVEL_NAMES[level]))
    env.filters["both"] = both_html
    return env


def _same(expected: str, sent: str) -> bool:
    """A token compared in constant time; sent may hold any text (compare_digest takes only ASCII str, any bytes)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), sent.encode("utf-8", "surrogatepass"))


class PanelSettings(NamedTuple):
    socket_path: str
    group: str
    pins: P.PinFile
    lockout: P.Lockout
    config_path: str | None  # shown at the installer level
    clock_s: Callable[[], float] = time.time
    who: str = "panel"  # how actions are recorded: by "panel <level>"
    record_path: str | None = None  # the commissioning record installed on the unit, shown at the installer level


class _Form(dict):
    """A posted form's text fields: the first value of each name, and all values of one name through every()."""

    def __init__(self, pairs: list[tuple[str, str]]):
        super().__init__(reversed(pairs))
        self.pairs = pairs

    def every(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]


class _Session(NamedTuple):
    level: str
    csrf: str
    last_s: float
    flash: tuple[str | tuple[str, str], bool] | None = None  # the last action's answer, shown once on the next page


def create_app(settings: PanelSettings, feed: StatusFeed) -> Starlette:
    env = template_env()
    sessions: dict[str, _Session] = {}
    lock = threading.Lock()
    # One PIN checked at a time, from the lockout's check to its count: tries sent at once would each pass the
    # check before any was counted, and a slower one's write would undo the lock (40 at once were all tried).
    login_lock = threading.Lock()

    def now() -> float:
        return settings.clock_s()

    def session_of(request: Request) -> tuple[str | None, _Session]:
        """The request's session (idle ones dropped, and their logout recorded); a view session otherwise."""
        token = request.cookies.get(COOKIE)
        with lock:
            sess = sessions.get(token or "")
            if sess is not None and now() - sess.last_s > IDLE_S:
                del sessions[token]
                record_access("timed_out", sess.level)
                sess = None
            if sess is None:
                return None, _Session(VIEW, "", now())
            sessions[token] = sess._replace(last_s=now())
            return token, sessions[token]

    def record_access(what: str, level: str) -> None:
        threading.Thread(target=send, args=(settings.socket_path, settings.group, "access",
                                            {"what": what, "level": level}, settings.who), daemon=True).start()

    def render(name: str, request: Request, sess: _Session, code: int = 200, **context) -> HTMLResponse:
        version, reply, problem = feed.latest()
        context.update(v=view(reply, problem, now()), level=sess.level, csrf=sess.csrf, version=version,
                       can=lambda cmd: P.allows(sess.level, COMMANDS[cmd].level),
                       level_at_least=lambda lv: P.allows(sess.level, lv), pin_token=request.state.pin_token)
        page = env.get_template(name).render(**context)
        # A status or record field may hold a lone surrogate (a valid JSON escape) no page can encode: shown escaped.
        return HTMLResponse(page.encode("utf-8", "backslashreplace"), status_code=code, headers=HEADERS)

    async def form_of(request: Request) -> _Form:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise _Refused(413, pair(N_("Form too large")))
        form = await request.form()
        return _Form([(k, v) for k, v in form.multi_items() if isinstance(v, str)])

    class _Refused(Exception):
        def __init__(self, code: int, message: tuple[str, str]):
            """message: (Chinese, English), as pair() gives it."""
            super().__init__(message[1])
            self.code, self.message = code, message

    async def refused(request: Request, exc: _Refused) -> Response:
        request.state.pin_token = request.cookies.get(COOKIE + "_pin", "")
        _, sess = session_of(request)
        return render("panel.html", request, sess, exc.code, message=exc.message, error=True)

    def checked(sess: _Session, form: dict) -> None:
        if not sess.csrf or not _same(sess.csrf, form.get("csrf", "")):
            raise _Refused(403, pair(N_("Enter a PIN first (or the form has expired)")))

    async def home(request: Request) -> Response:
        token, sess = session_of(request)
        pin_token = secrets.token_urlsafe(16)
        request.state.pin_token = pin_token
        flash = sess.flash
        if flash is not None:
            with lock:
                if token in sessions:
                    sessions[token] = sessions[token]._replace(flash=None)
        response = render("panel.html", request, sess, **({"message": flash[0], "error": flash[1]} if flash else {}))
        response.set_cookie(COOKIE + "_pin", pin_token, httponly=True, samesite="strict", path="/")
        return response

    async def fragment(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        with lock:
            sess = sessions.get(token or "") or _Session(VIEW, "", now())  # a refresh is not a touch
        request.state.pin_token = ""
        return render("state.html", request, sess)

    async def live(request: Request) -> Response:
        async def stream():
            version = -1
            while not await request.is_disconnected():
                latest = await asyncio.to_thread(feed.wait_change, version, 15.0)
                if latest != version:
                    version = latest
                    yield "event: state\ndata: %d\n\n" % version
                else:
                    yield ": keep-alive\n\n"
        return StreamingResponse(stream(), media_type="text/event-stream", headers={**HEADERS})

    def check_pin(pin: str) -> tuple[str | None, float | None, bool]:
        """(level or None, when the lock ends or None, whether this try locked the panel), under login_lock."""
        with login_lock:
            until = settings.lockout.locked_until()
            if until is not None:
                return None, until, False
            level = P.level_of(pin, settings.pins.hashes())
            if level is None:
                return None, None, settings.lockout.failed()
            settings.lockout.succeeded()
            return level, None, False

    async def pin(request: Request) -> Response:
        form = await form_of(request)
        cookie = request.cookies.get(COOKIE + "_pin", "")
        if not cookie or not _same(cookie, form.get("pin_token", "")):
            raise _Refused(403, pair(N_("Reload the page and try again")))
        try:
            level, until, locked = await asyncio.to_thread(check_pin, form.get("pin", "")[:64])
        except P.PinError as err:
            raise _Refused(500, pair(N_("The PIN file cannot be read: %(error)s"), error=err)) from None
        if until is not None:  # recorded once, when it locked: a flood of tries while locked adds no events
            raise _Refused(423, pair(N_("Too many wrong PINs: locked until %(time)s"),
                                     time=time.strftime("%H:%M", time.localtime(until))))
        if level is None:
            record_access("locked_out" if locked else "login_failed", "operator")
            raise _Refused(401, pair(N_("Wrong PIN — locked for %(minutes)d minutes"), minutes=P.LOCKOUT_S // 60)
                           if locked else pair(N_("Wrong PIN")))
        token = secrets.token_urlsafe(32)
        with lock:
            sessions[token] = _Session(level, secrets.token_urlsafe(32), now())
        record_access("login", level)
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    async def logout(request: Request) -> Response:
        token, sess = session_of(request)
        checked(sess, await form_of(request))
        with lock:
            sessions.pop(token or "", None)
        record_access("logout", sess.level)
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE, path="/")
        return response

    def action(cmd: str, args_of: Callable[[_Form], dict]):
        async def handler(request: Request) -> Response:
            token, sess = session_of(request)
            form = await form_of(request)
            checked(sess, form)
            if not P.allows(sess.level, COMMANDS[cmd].level):
                raise _Refused(403, needs_level(COMMANDS[cmd].level))
            try:
                args = args_of(form)
            except (KeyError, ValueError):
                raise _Refused(400, pair(N_("Bad request"))) from None
            reply = await asyncio.to_thread(send, settings.socket_path, settings.group, cmd, args,
                                            "%s %s" % (settings.who, sess.level))
            await asyncio.to_thread(feed.wait_fresh, 1.0)  # the next page shows what the action did
            text = answer_words(reply)
            with lock:  # answered on the next page (post, redirect, get: a reload never sends it again)
                if token in sessions:
                    sessions[token] = sessions[token]._replace(flash=(text, not reply.get("ok")))
            return RedirectResponse("/", status_code=303, headers=HEADERS)
        return handler

    async def config(request: Request) -> Response:
        _, sess = session_of(request)
        if not P.allows(sess.level, INSTALLER):
            raise _Refused(403, needs_level(INSTALLER))
        text: str | tuple[str, str] = ""
        if settings.config_path:
            try:
                text = json_text(json.loads(Path(settings.config_path).read_text(encoding="utf-8")))
            except (OSError, ValueError) as err:
                text = pair(CANNOT_READ, path=settings.config_path, error=err)
        request.state.pin_token = ""
        return render("config.html", request, sess, config_text=text, config_path=settings.config_path)

    async def commissioning(request: Request) -> Response:
        _, sess = session_of(request)
        if not P.allows(sess.level, INSTALLER):
            raise _Refused(403, needs_level(INSTALLER))
        record, problem = await asyncio.to_thread(_read_record, settings.record_path)
        _, reply, _ = feed.latest()
        request.state.pin_token = ""
        return render("commissioning.html", request, sess, record_problem=problem, record_path=settings.record_path,
                      c=commissioning_view(record, (reply or {}).get("status")),
                      record_text=json_text(record) if record is not None else "")

    async def not_found(request: Request, exc) -> Response:
        return PlainTextResponse("%s %s\n" % pair(N_("Not found")), status_code=404, headers=HEADERS)

    routes = [
        Route("/", home), Route("/state", fragment), Route("/live", live),
        Route("/pin", pin, methods=["POST"]), Route("/logout", logout, methods=["POST"]),
        Route("/silence", action("silence", lambda f: {}), methods=["POST"]),
        Route("/inhibit", action("inhibit", lambda f: {"detector": f["detector"], "minutes": int(f["minutes"])}),
              methods=["POST"]),
        Route("/end-inhibit", action("end_inhibit", lambda f: {"detector": f["detector"]}), methods=["POST"]),
        Route("/test-output", action("test_output", lambda f: {"line": f["line"], "ms": int(f["ms"])}),
              methods=["POST"]),
        Route("/daily-check", action("daily_check", lambda f: {"items": f.every("item")}), methods=["POST"]),
        Route("/config", config),
        Route("/commissioning", commissioning),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={_Refused: refused, 404: not_found, 405: not_found})

