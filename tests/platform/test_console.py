"""The web console over real HTTP (uvicorn on loopback, httpx as the client): logins and lockout, sessions and
their idle timeout on an injected clock, CSRF and cross-site posts refused, every role's scope on every page (an
owner changing ids in URLs sees nothing of another site), hostile input answered with a clear error, and no route
that could open a valve or reset a unit. The browser's view is in test_console_browser.py.
"""

from __future__ import annotations

import html as html_module
import itertools
import re
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform import accounts, audit, contacts as C
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.console.app import public_token
from gaslatch_tools.platform.receiver import PlatformReceiver, open_storage
from gaslatch_tools.platform.storage import SqliteStorage
from gaslatch_tools.testing.console_server import ConsoleServer
from tests.platform.conftest import RULES
from tests.platform.test_notifier import event

PASSWORD = "kitchen-safety-2026"
SITE_A, SITE_B = "noodle-bar-7", "dumpling-house-3"
CONTACTS = {
    "version": 1,
    "people": {
        "li": {"name": "李店主", "channels": {"mail": "mailto://li@example.org"}},
        "zhao": {"name": "赵店主", "channels": {"sms": "json://sms.example.org/?:phone=13700000000"}},
        "wang": {"name": "王安全员", "channels": {"mail": "mailto://wang@example.org"}},
        "duty": {"name": "值班中心", "channels": {"mail": "mailto://duty@example.org"}},
        "admin": {"name": "管理员", "channels": {"mail": "mailto://admin@example.org"}},
        "nobody": {"name": "无角色", "channels": {"mail": "mailto://nobody@example.org"}}},
    "districts": {"gulou": {"name": "鼓楼街道", "officers": ["wang"]},
                  "xuanwu": {"name": "玄武街道", "officers": []}},
    "sites": {SITE_A: {"name": "七号面馆", "district": "gulou", "owners": ["li"]},
              SITE_B: {"name": "三号饺子馆", "district": "xuanwu", "owners": ["zhao"]}},
    "duty_centre": ["duty"],
    "administrators": ["admin"]}


@pytest.fixture
def console(storage):
    contacts = C.build(CONTACTS)
    for user in ("li", "zhao", "wang", "duty", "admin"):
        accounts.set_password(storage, user, PASSWORD, 0, "test")
    server = ConsoleServer(storage, contacts).start()
    yield server
    server.stop()


def trip(storage, site: str, unit: str = "kitchen-1", seq: int = 1) -> None:
    PlatformReceiver(storage).handle(W.topics(site, unit)["event"], W.encode_event(event(seq)))


def shown(html: str) -> str:
    """A page's text as a person reads it: the tags gone, the entities read, the English beside the Chinese."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def client(console) -> httpx.Client:
    return httpx.Client(base_url=console.url, follow_redirects=False, timeout=10)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def logged_in(console, user: str) -> httpx.Client:
    c = client(console)
    form = c.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    r = c.post("/login", data={"username": user, "password": PASSWORD, "login_token": token, "next": "/warnings"})
    assert r.status_code == 303 and r.headers["location"] == "/warnings", r.text
    return c


def login_attempt(c: httpx.Client, user, password) -> httpx.Response:
    token = re.search(r'name="login_token" value="([^"]+)"', c.get("/login").text).group(1)
    return c.post("/login", data={"username": user, "password": password, "login_token": token})


def test_every_page_needs_a_login_and_sends_the_security_headers(console):
    c = client(console)
    for path in ("/", "/warnings", "/sites", "/sites/%s" % SITE_A, "/audit", "/warnings/table"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert c.post("/warnings/1/ack", data={"csrf": "x"}).status_code == 401
    assert c.get("/live/warnings").status_code == 401
    page = c.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


def test_a_trip_is_in_the_operator_s_queue_and_an_acknowledgement_is_recorded_and_audited(console, storage):
    trip(storage, SITE_A)
    c = logged_in(console, "duty")
    page = c.get("/warnings")
    assert page.status_code == 200 and "gas: hood1 high alarm" in page.text and "一级 Grade 1" in shown(page.text)
    (warning,) = WS.warnings(storage)
    r = c.post("/warnings/%d/ack" % warning.id, data={"csrf": csrf_of(page.text), "note": "已电话联系店主"})
    assert r.status_code == 303
    acked = WS.warning(storage, warning.id)
    assert (acked.state, acked.acked_by, acked.ack_note) == ("acknowledged", "duty", "已电话联系店主")
    actions = [(a.actor, a.action, a.target, a.site) for a in audit.rows(storage)]
    assert ("duty", "acknowledge", "warning:%d" % warning.id, SITE_A) in actions
    assert ("duty", "login", "account:duty", None) in actions


def test_an_owner_sees_only_their_own_site_whatever_the_url(console, storage):
    trip(storage, SITE_A, seq=1)
    trip(storage, SITE_B, unit="kitchen-2", seq=2)
    li = logged_in(console, "li")
    queue = li.get("/warnings?all=1").text
    assert SITE_A in queue and SITE_B not in queue and "kitchen-2" not in queue
    assert SITE_B not in li.get("/sites").text
    other = li.get("/sites/%s" % SITE_B)
    missing = li.get("/sites/no-such-site")
    assert other.status_code == missing.status_code == 404
    assert _message(other.text) == _message(missing.text), "another site answers exactly as one that does not exist"
    b_warning = next(w for w in WS.warnings(storage) if w.site == SITE_B)
    page = li.get("/warnings")
    r = li.post("/warnings/%d/ack" % b_warning.id, data={"csrf": csrf_of(page.text)})
    assert r.status_code == 404 and WS.warning(storage, b_warning.id).state == "open"
    assert li.get("/sites/%s/sticker" % SITE_B).status_code == 404
    assert li.get("/audit").status_code == 404, "the audit log is the duty centre's and administrators'"
    wang = logged_in(console, "wang")
    assert SITE_A in wang.get("/warnings").text and SITE_B not in wang.get("/warnings").text
    duty = logged_in(console, "duty")
    assert SITE_A in duty.get("/warnings").text and SITE_B in duty.get("/warnings").text


def _message(html: str) -> str:
    return re.search(r'id="message"[^>]*>([^<]*)<', html).group(1)


def test_ten_failed_logins_lock_the_name_for_ten_minutes_even_with_the_right_password(console, storage):
    c = client(console)
    for _ in range(accounts.MAX_FAILURES - 1):
        assert login_attempt(c, "li", "wrong password!").status_code == 401
    last = login_attempt(c, "li", "wrong password!")
    assert last.status_code == 401 and "锁定 10 分钟" in last.text and "locked for 10 minutes" in last.text
    assert "锁定" in login_attempt(c, "li", PASSWORD).text, "locked: the right password is refused too"
    console.clock.skip(10 * 60 + 1)
    assert login_attempt(c, "li", PASSWORD).status_code == 303, "unlocked after ten minutes"
    failed = [a for a in audit.rows(storage) if a.actor == "li" and a.action in ("login_failed", "login_locked")]
    assert len(failed) == accounts.MAX_FAILURES + 1


def test_an_unknown_name_is_refused_as_a_wrong_password_is(console):
    c = client(console)
    unknown, wrong = login_attempt(c, "ghost", PASSWORD), login_attempt(c, "li", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert re.search(r'id="login-error"[^>]*>([^<]*)<', unknown.text).group(1) == \
        re.search(r'id="login-error"[^>]*>([^<]*)<', wrong.text).group(1)


def test_a_session_ends_after_fifteen_idle_minutes_and_a_self_refreshing_page_does_not_keep_it(console):
    c = logged_in(console, "duty")
    console.clock.skip(14 * 60)
    assert c.get("/warnings/table").status_code == 200  # the live table's refresh: not a person's activity
    console.clock.skip(2 * 60)
    assert c.get("/warnings").status_code == 303, "16 minutes without a person's request: logged out"
    c2 = logged_in(console, "duty")
    for _ in range(3):
        console.clock.skip(14 * 60)
        assert c2.get("/warnings").status_code == 200, "a person's requests keep the session"


def test_a_post_without_the_session_s_csrf_token_or_from_another_site_changes_nothing(console, storage):
    trip(storage, SITE_A)
    (warning,) = WS.warnings(storage)
    c = logged_in(console, "duty")
    token = csrf_of(c.get("/warnings").text)
    assert c.post("/warnings/%d/ack" % warning.id, data={}).status_code == 403
    assert c.post("/warnings/%d/ack" % warning.id, data={"csrf": "forged"}).status_code == 403
    other = logged_in(console, "wang")
    assert c.post("/warnings/%d/ack" % warning.id,
                  data={"csrf": csrf_of(other.get("/warnings").text)}).status_code == 403, "another session's"
    r = c.post("/warnings/%d/ack" % warning.id, data={"csrf": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    assert WS.warning(storage, warning.id).state == "open"
    assert not [a for a in audit.rows(storage) if a.action == "acknowledge"]
    assert c.post("/logout", data={}).status_code == 403, "even logging out needs the token"


def test_the_login_form_refuses_a_post_without_its_own_token(console):
    c = client(console)
    r = c.post("/login", data={"username": "duty", "password": PASSWORD})
    assert r.status_code == 403 and "gaslatch_session" not in r.headers.get("set-cookie", "")


def test_after_logging_in_the_console_only_ever_sends_one_to_its_own_pages(console):
    c = client(console)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                   "/warnings\r\nSet-Cookie: x=1"):
        token = re.search(r'name="login_token" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"username": "duty", "password": PASSWORD, "login_token": token, "next": target})
        assert r.status_code == 303 and r.headers["location"] == "/", target


def test_a_person_without_a_role_in_the_contacts_file_cannot_log_in(console, storage):
    accounts.set_password(storage, "nobody", PASSWORD, 0, "test")
    c = client(console)
    r = login_attempt(c, "nobody", PASSWORD)
    assert r.status_code == 403 and "gaslatch_session" not in c.cookies


def test_the_public_page_shows_online_units_and_open_hazards_and_nothing_private(console, storage):
    trip(storage, SITE_A)
    key = accounts.platform_key(storage, "public_pages")
    anonymous = client(console)
    page = anonymous.get("/q/" + public_token(key, SITE_A))
    assert page.status_code == 200 and "七号面馆" in page.text
    assert re.search(r"未解除隐患 .*Open hazards</span>: 1", page.text)
    for private in ("李店主", "li@example.org", "kitchen-1", "hood1", "gas: ", "13700000000", "王安全员", "csrf"):
        assert private not in page.text, private
    assert anonymous.get("/q/" + "0" * 24).status_code == 404
    assert anonymous.get("/q/" + SITE_A).status_code == 404, "a site's name is not its address"


def test_the_sticker_carries_a_qr_code_of_the_public_address(console, storage):
    c = logged_in(console, "li")
    page = c.get("/sites/%s/sticker" % SITE_A)
    key = accounts.platform_key(storage, "public_pages")
    assert page.status_code == 200 and "/q/" + public_token(key, SITE_A) in page.text
    assert 'src="data:image/svg+xml' in page.text


def test_no_route_opens_a_valve_or_resets_a_unit(console):
    paths = {route.path for route in console.app.routes}
    assert not [p for p in paths if re.search(r"open|reset|unlatch|command|cmd", p)], paths
    c = logged_in(console, "admin")
    token = csrf_of(c.get("/warnings").text)
    for path in ("/open_valve", "/sites/%s/open" % SITE_A, "/reset", "/command"):
        assert c.post(path, data={"csrf": token}).status_code in (404, 405)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(st.characters(codec=None), max_size=300) | st.sampled_from(
    ["\ud800", "\x00", "../../etc/passwd", "%00", "9" * 40, "-1", "1e9", "<script>alert(1)</script>",
     "\u202e", "😀" * 100]))
def test_any_text_in_a_url_or_a_form_gets_a_clear_answer_and_changes_nothing(console, storage, text):
    trip(storage, SITE_A)
    c = _hypothesis_client(console)
    before = [tuple(w) for w in WS.warnings(storage)]
    raw = quote(text.encode("utf-8", "surrogatepass"), safe="")  # as a hostile client sends it, bytes and all
    form = text.encode("utf-8", "replace").decode("utf-8")  # a form field is UTF-8 text on the wire
    for r in (c.get("/sites/" + raw), c.get("/warnings?all=" + raw), c.get("/q/" + raw),
              c.post("/warnings/%s/ack" % raw, data={"csrf": form, "note": form}),
              c.post("/login", data={"username": form, "password": form, "login_token": form})):
        assert r.status_code in (200, 303, 307, 400, 403, 404, 405, 409), (r.status_code, r.text[:200])
        assert "<script>alert(1)</script>" not in r.text, "echoed text is escaped"
    assert [tuple(w) for w in WS.warnings(storage)] == before


def test_a_detector_s_high_alarm_reads_as_its_headline_in_chinese_with_the_english_beside_it(console, storage):
    PlatformReceiver(storage).handle(W.topics(SITE_A, "kitchen-1")["event"], W.encode_event(
        event(5, "detector", "high_alarm", "alarm", "hood1", "hood1 25.00 %LEL", 2500)))
    c = logged_in(console, "duty")
    headline = '探测器 hood1：高限报警 (25.00 %LEL) <span class="en">detector hood1: high alarm (25.00 %LEL)</span>'
    site = c.get("/sites/%s" % SITE_A)
    assert site.status_code == 200
    (row,) = re.findall(r'<tr [^>]*data-type="detector"[^>]*>.*?</tr>', site.text, re.S)
    assert 'data-state="high_alarm"' in row and 'data-source="hood1"' in row  # the codes kept as data
    assert headline in row and "报警 <span class=\"en\">alarm</span>" in row and "hood1 25.00 %LEL" in row
    queue = c.get("/warnings")
    (warning,) = re.findall(r'<tr [^>]*data-rule="high_alarm"[^>]*>.*?</tr>', queue.text, re.S)
    assert headline in warning
    # No rules file given to this console: the rule's title comes from the catalogue.
    assert '可燃气体高限报警 <span class="en">combustible gas high alarm</span>' in warning
    assert "一级 Grade 1" in shown(warning) and "未确认 not acknowledged" in shown(warning)


# What a database holds as text (neither SQLite nor PostgreSQL stores a lone surrogate: a value's JSON does).
HOSTILE = st.text(st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["\x00", "\u202e", "a" * 5000, "<script>alert(1)</script>", "%(source)s", "%s", "%", ""])
HOSTILE_CODE = st.sampled_from(["detector", "high_alarm", "status", "silent", "lost", "work_order", "overdue",
                                "maintenance_due", "trip", "latched"]) | HOSTILE
HOSTILE_VALUE = st.sampled_from(["null", "2500", "9" * 5000, "9" * 400, "-" + "9" * 400, "1e999", "not json",
                                 '"\\ud800"', "[1, 2]", '{"a": 1}', '"%(value)s"']) | HOSTILE


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(type_=HOSTILE_CODE, state=HOSTILE_CODE, source=HOSTILE, value=HOSTILE_VALUE, reason=HOSTILE, unit=HOSTILE,
       severity=HOSTILE_CODE, grade=st.integers(-2 ** 31, 2 ** 31 - 1), rule=HOSTILE_CODE,
       summary=st.none() | HOSTILE)
def test_any_event_or_warning_row_renders_on_the_pages_as_text(console, storage, type_, state, source, value, reason,
                                                                unit, severity, grade, rule, summary):
    """A row as stored by a peer or an older version, whatever it holds (lone surrogates, NUL, bidi, 5,000
    characters, integers beyond any float): the site page, the queue and the orders read it as text, never a 500."""
    if summary is None:  # a summary as warning_store.summary_of() writes it, of the hostile fields
        summary = "%s %s %s (%s): %s" % (type_, state, source, value, reason)
    if not isinstance(storage, SqliteStorage):  # PostgreSQL refuses NUL in text: the SQLite run stores it
        type_, state, source, value, reason, unit, severity, rule, summary = (
            t.replace("\x00", "\ufffd") for t in (type_, state, source, value, reason, unit, severity, rule, summary))
    key = "hostile-%d" % next(_ROWS)
    storage.write(lambda x: (
        x("INSERT INTO events (site, unit, id, seq, ts, t_ms, clock_synced, type, severity, source, state, value, "
          "reason, received_at) VALUES (?, ?, ?, 1, ?, 0, 1, ?, ?, ?, ?, ?, ?, ?)",
          (SITE_A, unit, key, reason, type_, severity, source, state, value, reason, reason)),
        x("INSERT INTO warnings (site, unit, rule, grade, cause_key, cause, state, opened_ms, updated_ms, count, "
          "first_event, last_event, summary, notify_from_ms, tier, rounds, clear_on_ack) "
          "VALUES (?, ?, ?, ?, ?, ?, 'open', 0, 0, 1, ?, ?, ?, 0, -1, 0, 0)",
          (SITE_A, unit, rule, grade, key, source, key, key, summary))))
    c = _hypothesis_client(console)
    pages = {path: c.get(path) for path in ("/sites/%s" % SITE_A, "/warnings?all=1", "/warnings/table?all=1")}
    for path, r in pages.items():
        assert r.status_code == 200, (path, r.text[:300])
        assert "<script>alert(1)</script>" not in r.text and "\x00" not in r.text and "\u202e" not in r.text
    if reason.isalnum():
        assert reason in shown(pages["/sites/%s" % SITE_A].text), "the event's detail is shown as recorded"


_ROWS = itertools.count()
_clients: dict = {}


def _hypothesis_client(console) -> httpx.Client:
    """One logged-in client per console across a property's examples (argon2 per example would take minutes)."""
    if id(console) not in _clients:
        _clients.clear()
        _clients[id(console)] = logged_in(console, "duty")
    return _clients[id(console)]


def test_close_valve_is_refused_out_of_scope_without_the_token_or_the_tick_and_a_missing_key_is_audited(
        storage, broker, tmp_path):
    from gaslatch_tools.platform.unit_commands import CommandSender

    trip(storage, SITE_A)
    trip(storage, SITE_B, unit="kitchen-2", seq=2)
    (tmp_path / "keys").mkdir()
    sender = CommandSender(broker.host, broker.port, str(tmp_path / "keys"))
    sender.start()
    for user in ("li", "duty"):
        accounts.set_password(storage, user, PASSWORD, 0, "test")
    server = ConsoleServer(storage, C.build(CONTACTS), commands=sender).start()
    try:
        li = logged_in(server, "li")
        token = csrf_of(li.get("/warnings").text)
        url_a = "/sites/%s/units/kitchen-1/close-valve" % SITE_A
        assert li.post("/sites/%s/units/kitchen-2/close-valve" % SITE_B,
                       data={"csrf": token, "confirm": "yes"}).status_code == 404
        assert li.post("/sites/%s/units/no-such-unit/close-valve" % SITE_A,
                       data={"csrf": token, "confirm": "yes"}).status_code == 404
        assert li.post(url_a, data={"confirm": "yes"}).status_code == 403
        assert li.post(url_a, data={"csrf": token}).status_code == 400, "the tick is required"
        assert not [a for a in audit.rows(storage) if a.action.startswith("close_valve")]
        r = li.post(url_a, data={"csrf": token, "confirm": "yes"})
        assert r.status_code == 502 and "no command key for %s/kitchen-1" % SITE_A in r.text
        (row,) = [a for a in audit.rows(storage) if a.action.startswith("close_valve")]
        assert (row.action, row.actor, row.site) == ("close_valve_failed", "li", SITE_A)
        assert "close-valve" not in li.get("/sites/%s" % SITE_A).text, "no key: no button"
    finally:
        server.stop()
        sender.stop()


def test_a_console_without_a_command_channel_sends_nothing(console, storage):
    trip(storage, SITE_A)
    c = logged_in(console, "duty")
    token = csrf_of(c.get("/warnings").text)
    r = c.post("/sites/%s/units/kitchen-1/close-valve" % SITE_A, data={"csrf": token, "confirm": "yes"})
    assert r.status_code == 409 and "sends no commands" in r.text


def test_a_unit_key_path_cannot_leave_the_keys_directory(tmp_path):
    from gaslatch.core.uplink_wire import TopicNameError
    from gaslatch_tools.platform.unit_commands import key_path

    assert key_path(str(tmp_path), "a", "b") == str(tmp_path / "a" / "b.key")
    for site, unit in ((".." , "x"), ("a/b", "c"), ("a", "../../etc/passwd"), ("a", "\x00"), ("", "u"), ("s", "")):
        with pytest.raises(TopicNameError):
            key_path(str(tmp_path), site, unit)


def _order_form_csrf(c, order_id: int) -> str:
    return csrf_of(c.get("/orders/%d" % order_id).text)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_the_work_order_workflow_runs_through_the_console_and_each_step_is_audited(console, storage):
    from gaslatch_tools.platform import work_orders as WO

    trip(storage, SITE_A)
    (warning,) = WS.warnings(storage)
    duty, wang, li = logged_in(console, "duty"), logged_in(console, "wang"), logged_in(console, "li")
    queue = duty.get("/warnings").text
    assert 'action="/warnings/%d/dispatch"' % warning.id in queue
    assert "dispatch" not in li.get("/warnings").text.lower(), "an owner cannot dispatch"
    for due, chinese, english in (("1999-01-01", "期限应在 2000 至 2199 年之间，而不是 1999-01-01",
                                   "a due date between 2000 and 2199, not 1999-01-01"),
                                  ("tomorrow", "应为日期 YYYY-MM-DD，而不是 &#39;tomorrow&#39;",
                                   "expected a date YYYY-MM-DD, not &#39;tomorrow&#39;")):
        refused = duty.post("/warnings/%d/dispatch" % warning.id,
                            data={"csrf": csrf_of(queue), "officer": "wang", "due": due})
        assert refused.status_code == 400
        assert "期限无效（YYYY-MM-DD）：" + chinese in refused.text, refused.text  # the reason in Chinese too
        assert "Not a due date (YYYY-MM-DD): " + english in refused.text
    r = duty.post("/warnings/%d/dispatch" % warning.id,
                  data={"csrf": csrf_of(queue), "officer": "wang", "due": "2199-12-31", "note": "请核查"})
    assert r.status_code == 303
    order_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert WS.warning(storage, warning.id).state == "acknowledged", "dispatch acknowledges"

    def step(client, action, **fields):
        return client.post("/orders/%d/%s" % (order_id, action),
                           data={"csrf": _order_form_csrf(client, order_id), **fields})

    refused = step(li, "close")
    assert refused.status_code == 409, "an owner cannot close"
    assert "未能记录：工单 %d 处于“已派单”" % order_id in refused.text, "the reason in Chinese too"
    assert "Not recorded: order %d is dispatched" % order_id in refused.text
    assert 'data-action="find"' in wang.get("/orders/%d" % order_id).text
    assert step(wang, "find", note="软管老化 hose cracked", hazard="yes").status_code == 303
    r = wang.post("/orders/%d/photos" % order_id, data={"csrf": _order_form_csrf(wang, order_id)},
                  files={"photo": ("hose.png", PNG, "image/png")})
    assert r.status_code == 303
    bad = wang.post("/orders/%d/photos" % order_id, data={"csrf": _order_form_csrf(wang, order_id)},
                    files={"photo": ("x.png", b"<svg onload=alert(1)>", "image/png")})
    assert bad.status_code == 400 and "Photo not kept" in bad.text
    assert "照片未保存：照片既不是 JPEG 也不是 PNG" in bad.text, "the reason in Chinese too, not English twice"
    assert "Photo not kept: the photo is neither a JPEG nor a PNG" in bad.text
    assert step(wang, "rectify", due="2199-12-31").status_code == 303
    assert step(wang, "close").status_code == 409, "not verified: no close"
    assert step(li, "done", note="已更换软管 hose replaced").status_code == 303
    assert step(wang, "verify").status_code == 303
    assert step(duty, "close").status_code == 303
    order = WO.order(storage, access_actor("duty"), order_id)
    assert order.state == "closed"
    page = li.get("/orders/%d" % order_id).text
    assert "hose replaced" in page and "/photos/" in page
    photo_url = re.search(r'src="(/photos/\d+)"', page).group(1)
    got = li.get(photo_url)
    assert got.content == PNG and got.headers["content-type"] == "image/png"
    zhao = logged_in(console, "zhao")
    assert zhao.get("/orders/%d" % order_id).status_code == 404
    assert zhao.get(photo_url).status_code == 404, "another site's photo answers as a missing one"
    actions = [a.action for a in audit.rows(storage) if a.target == "order %d" % order_id]
    assert sorted(actions) == sorted(["order.dispatch", "order.find", "order.photo", "order.rectify", "order.done",
                                      "order.verify", "order.close"])


def access_actor(user: str):
    from gaslatch_tools.platform import access

    return access.actor_for(C.build(CONTACTS), user)


def test_the_ledger_downloads_as_xlsx_csv_and_pdf_with_only_the_reader_s_sites(console, storage, tmp_path):
    import io

    import openpyxl

    trip(storage, SITE_A)
    trip(storage, SITE_B, unit="kitchen-2", seq=2)
    duty = logged_in(console, "duty")
    for w in WS.warnings(storage):
        queue = duty.get("/warnings").text
        officer = "wang" if w.site == SITE_A else None
        if officer:
            duty.post("/warnings/%d/dispatch" % w.id, data={"csrf": csrf_of(queue), "officer": officer,
                                                             "due": "2199-12-31"})
    li = logged_in(console, "li")
    xlsx = li.get("/ledger.xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("站点" in c for c in cells) and SITE_A in cells and SITE_B not in cells
    csv_text = li.get("/ledger.csv").content.decode("utf-8-sig")
    assert SITE_A in csv_text and SITE_B not in csv_text
    pdf = li.get("/ledger.pdf")
    assert pdf.content.startswith(b"%PDF")
    assert li.get("/ledger.exe").status_code == 404
    assert [a.action for a in audit.rows(storage) if a.actor == "li"].count("export_ledger") == 3


def test_the_metrics_page_counts_only_the_reader_s_districts(console, storage):
    trip(storage, SITE_A)
    trip(storage, SITE_B, unit="kitchen-2", seq=2)
    li = logged_in(console, "li").get("/metrics").text
    duty = logged_in(console, "duty").get("/metrics").text
    assert "鼓楼街道" in li and "玄武街道" not in li
    assert "鼓楼街道" in duty and "玄武街道" in duty


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(due=st.text(max_size=30) | st.sampled_from(["9999-12-31", "0001-01-01", "2026-02-30", "2026-13-01", ""]),
       officer=st.text(max_size=80), action=st.text(max_size=40) | st.sampled_from(["close", "find", "verify"]))
def test_any_dispatch_or_step_form_gets_a_clear_answer_and_changes_nothing_when_refused(console, storage, due, officer,
                                                                                       action):
    trip(storage, SITE_A)
    (warning,) = WS.warnings(storage)
    c = _hypothesis_client(console)
    before = storage.read(lambda x: x("SELECT COUNT(*) FROM work_orders").fetchone()[0])
    token = csrf_of(c.get("/warnings").text)
    r = c.post("/warnings/%d/dispatch" % warning.id, data={"csrf": token, "officer": officer, "due": due})
    assert r.status_code in (303, 400, 409), r.text[:200]
    after = storage.read(lambda x: x("SELECT COUNT(*) FROM work_orders").fetchone()[0])
    assert (after == before + 1) == (r.status_code == 303)
    r = c.post("/orders/1/%s" % quote(action.encode("utf-8", "surrogatepass"), safe=""),
               data={"csrf": token, "due": due, "note": officer})
    assert r.status_code in (303, 307, 400, 404, 405, 409), r.text[:200]


def test_the_administration_page_is_the_administrators_shows_no_channel_secret_and_unlocks(storage):
    accounts.set_password(storage, "admin", PASSWORD, 0, "test")
    accounts.set_password(storage, "li", PASSWORD, 0, "test")
    contacts = C.build(CONTACTS)
    server = ConsoleServer(storage, contacts, rules=RULES).start()
    try:
        anyone = client(server)
        for _ in range(accounts.MAX_FAILURES):
            login_attempt(anyone, "li", "wrong password!")
        assert accounts.locked_until(storage, "li", server.clock()) is not None
        admin = logged_in(server, "admin")
        page = admin.get("/admin")
        assert page.status_code == 200 and "李店主" in page.text and "鼓楼街道" in page.text
        assert "燃气已紧急切断" in page.text, "the rules in force"
        for secret in ("mailto://", "li@example.org", "13700000000", "json://"):
            assert secret not in page.text, "channel URLs hold tokens: names only"
        r = admin.post("/admin/accounts/li/unlock", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303 and accounts.locked_until(storage, "li", server.clock()) is None
        assert ("admin", "unlock", "account:li") in [(a.actor, a.action, a.target) for a in audit.rows(storage)]
        assert logged_in(server, "li").get("/admin").status_code == 404
        assert admin.post("/admin/accounts/ghost/unlock", data={"csrf": csrf_of(admin.get("/admin").text)}
                          ).status_code == 404
    finally:
        server.stop()


def test_half_open_connections_and_a_login_flood_do_not_stop_a_person_from_being_served(console):
    import socket

    host, port = "127.0.0.1", console.port
    stuck = []
    try:
        for i in range(100):  # a slowloris: connections that send half a request and then nothing
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"GET /warnings HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * i)
            stuck.append(s)
        for i in range(30):  # and a flood of logins for names that do not exist
            login_attempt(client(console), "flood-%d\ufffd\u202e" % i, "x" * 300)
        c = logged_in(console, "duty")
        assert c.get("/warnings").status_code == 200
    finally:
        for s in stuck:
            s.close()


def test_two_console_instances_on_one_database_share_sessions_lockouts_and_logouts(console, storage, platform_db):
    second_storage = open_storage(platform_db)
    other = ConsoleServer(second_storage, C.build(CONTACTS)).start()
    try:
        c = logged_in(console, "duty")
        cookie = c.cookies.get("gaslatch_session")
        on_other = httpx.Client(base_url=other.url, cookies={"gaslatch_session": cookie}, follow_redirects=False)
        assert on_other.get("/warnings").status_code == 200, "a session made by one instance is good on the other"
        r = on_other.post("/logout", data={"csrf": csrf_of(on_other.get("/warnings").text)})
        assert r.status_code == 303
        assert c.get("/warnings").status_code == 303, "logged out on one: logged out on both"
        for i in range(accounts.MAX_FAILURES):
            login_attempt(client(console if i % 2 else other), "li", "wrong password!")
        assert "锁定" in login_attempt(client(other), "li", PASSWORD).text, "failures count across instances"
    finally:
        other.stop()
        second_storage.close()


def test_a_warning_s_readings_are_drawn_for_those_who_see_its_site_only(console, storage):
    from tests.platform.test_readings import telemetry

    receiver = PlatformReceiver(storage)
    receiver.handle(W.topics(SITE_A, "kitchen-1")["telemetry"], telemetry({"d1": 150}))
    trip(storage, SITE_A)
    receiver.handle(W.topics(SITE_A, "kitchen-1")["telemetry"], telemetry({"d1": 3000}, 2000))
    (warning,) = WS.warnings(storage)
    li = logged_in(console, "li")
    svg = li.get("/warnings/%d/readings.svg" % warning.id)
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert "<script" not in svg.text and "d1" in svg.text
    assert 'src="/warnings/%d/readings.svg"' % warning.id in li.get("/sites/%s" % SITE_A).text
    assert logged_in(console, "zhao").get("/warnings/%d/readings.svg" % warning.id).status_code == 404
    assert client(console).get("/warnings/%d/readings.svg" % warning.id).status_code == 303, "logged in only"
