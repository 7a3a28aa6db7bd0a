"""The kitchen panel as a person meets it: a real `gaslatch run` on emulated detectors, the real `gaslatch panel`
process beside it, and Debian's Chromium (Playwright) showing the page.

A leak turns the page to ALARM without a reload and names the detector; the reset hint names what blocks it; ten
wrong PINs lock the panel; inhibit needs the maintenance PIN; no request, of any shape, opens the valve; every
login is an access event in the unit's record; killing the panel leaves the controller running.
GASLATCH_SCREENSHOTS=docs/images pytest tests/panel/test_panel_browser.py refreshes docs/operations.md's pictures.
"""

from __future__ import annotations

import datetime
import json
import signal
from pathlib import Path

import httpx
import pytest

from gaslatch.panel import pins as P
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.receiver import PlatformReceiver, open_storage
from gaslatch_tools.testing.browser import Browser, screenshot
from gaslatch_tools.testing.panel_process import PINS, kitchen_with_panel
from gaslatch_tools.testing.waiting import wait_until


@pytest.fixture
def kitchen(tmp_path):
    """(bus, unit, panel): a running unit, reading normal, with its panel."""
    with kitchen_with_panel(tmp_path) as parts:
        yield parts


@pytest.fixture
def browser():
    with Browser() as b:
        yield b


def enter_pin(page, pin: str) -> None:
    page.fill("#pin", pin)
    page.click("#pin-enter")
    page.wait_for_load_state()


def test_a_leak_turns_the_page_to_alarm_without_a_reload_and_the_reset_hint_names_the_blocker(kitchen, browser):
    bus, unit, panel = kitchen
    page = browser.page()
    page.goto(panel.url)
    assert page.get_attribute("#big", "data-kind") == "gas_off", "after power-on the gas stays off until RESET"
    assert "请在控制器上按复位键" in page.inner_text("#reset")
    unit.press_reset()
    page.wait_for_selector("#big[data-kind=gas_on]")
    screenshot(page, "panel-gas-on")
    page.evaluate("window.__sameDocument = true")
    bus.set_gas(1, 60.0)
    page.wait_for_selector("#big[data-kind=alarm]", timeout=10_000)
    assert page.evaluate("window.__sameDocument === true"), "the page changed without a reload"
    big = page.inner_text("#big")
    assert "燃气报警" in big and "GAS ALARM" in big and "d1" in big and "60.0 %LEL" in big
    assert "燃气已关闭" in big, "the gas is off and the page says so"
    assert "立即通风" in page.inner_text("#todo")
    reset = page.inner_text("#reset")
    assert "现在按复位键会被拒绝" in reset and "d1" in reset, "the reset hint names the blocker"
    wait_until(lambda: "燃气已切断并锁定" in page.inner_text("#recent") and "d1 high alarm" in page.inner_text("#recent"), 5,
               what="the trip among the recent events")
    screenshot(page, "panel-alarm")
    assert unit.line("valve") == "0"


def test_ten_wrong_pins_lock_the_panel_even_for_the_right_pin_and_each_is_recorded(kitchen, browser):
    _, unit, panel = kitchen
    page = browser.page()
    page.goto(panel.url)
    for _ in range(P.MAX_FAILURES):
        enter_pin(page, "9999")
    assert "已锁定" in page.inner_text("#message")
    enter_pin(page, PINS["operator"])
    assert "locked until" in page.inner_text("#message")
    assert "operator" not in page.inner_text("#level"), "still at the view level"
    wait_until(lambda: len(unit.events("access")) >= P.MAX_FAILURES, 10, what="the access events")
    assert any("state=locked_out" in line for line in unit.events("access"))
    recorded = len(unit.events("access"))
    flood = httpx.Client(base_url=panel.url)
    for _ in range(30):  # a flood of tries while locked: refused, and no event each (the store is not flooded)
        token = flood.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
        assert flood.post("/pin", data={"pin": PINS["installer"], "pin_token": token}).status_code == 423
    assert unit.request("status")[0]["ok"] and len(unit.events("access")) == recorded


def test_inhibit_needs_the_maintenance_pin_and_is_recorded_on_the_person_s_behalf(kitchen, browser):
    _, unit, panel = kitchen
    page = browser.page()
    page.goto(panel.url)
    enter_pin(page, PINS["operator"])
    assert "操作员" in page.inner_text("#level")
    assert page.locator("form.inhibit").count() == 0, "no inhibit at the operator level"
    csrf = page.get_attribute("form[action='/silence'] input[name=csrf]", "value")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    forged = httpx.post(panel.url + "/inhibit", data={"csrf": csrf, "detector": "d1", "minutes": "30"},
                        cookies=cookies)
    assert forged.status_code == 403, "the operator's session cannot inhibit, form or not"
    page.click("form[action='/logout'] button")
    enter_pin(page, PINS["maintenance"])
    page.select_option("form.inhibit select[name=detector]", "d2")
    page.fill("form.inhibit input[name=minutes]", "15")
    page.click("form.inhibit button")
    page.wait_for_url(panel.url + "/")
    message = page.inner_text("#message")
    assert "探测器 d2 已屏蔽 15 分钟" in message and "detector d2 inhibited for 15 min" in message, \
        "the controller's answer in Chinese, its English beside"
    wait_until(lambda: "屏蔽" in page.inner_text("tr[data-detector=d2]"), 5, what="d2 shown inhibited")
    wait_until(lambda: [line for line in unit.events("inhibit") if "panel maintenance" in line], 10,
               what="the inhibit recorded on behalf of the panel's maintenance level")
    screenshot(page, "panel-maintenance")


@pytest.mark.parametrize("method,path", [
    ("POST", "/reset"), ("POST", "/open"), ("POST", "/open_valve"), ("GET", "/reset"), ("POST", "/valve"),
    ("POST", "/command"), ("PUT", "/"), ("POST", "/silence/../reset"), ("POST", "/test-output")])
def test_no_request_of_any_shape_opens_the_valve(kitchen, method, path):
    _, unit, panel = kitchen
    installer = httpx.Client(base_url=panel.url)
    home = installer.get("/")
    token = home.text.split('name="pin_token" value="')[1].split('"')[0]
    installer.post("/pin", data={"pin": PINS["installer"], "pin_token": token})
    csrf = installer.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    for body in ({"csrf": csrf}, {"csrf": csrf, "line": "valve", "ms": "3000"},
                 {"csrf": csrf, "cmd": "reset"}, {"csrf": csrf, "line": "valve_open", "ms": "1"}):
        r = installer.request(method, path, data=body)
        assert r.status_code in (200, 303, 400, 403, 404, 405, 409)
    assert unit.line("valve") == "0", "after power-on nothing but the RESET button opens the valve"
    assert unit.request("status")[0]["status"]["latched"] is True


KEY = b"panel tests' unit key, not a real secret"
RULES = R.load(str(Path(__file__).resolve().parents[2] / "deploy" / "platform" / "warning-rules.yaml"))


@pytest.fixture
def platform(tmp_path, broker):
    """A platform database with the shipped warning rules, its receiver listening to the test's broker."""
    storage = open_storage(str(tmp_path / "platform.sqlite"))
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(RULES))
    receiver = PlatformReceiver(storage, broker.host, broker.port, client_id="panel-test")
    receiver.start()
    yield storage
    receiver.stop()
    storage.close()


def with_dates_and_a_daily_check(broker):
    """d1 installed 2020 (past its 3 years), d2's calibration in 10 days, the valve without a date; a daily check
    due late tonight; reporting to the broker."""
    def prepare(unit):
        unit.enable_uplink(broker, KEY)
        d2_installed = (datetime.date.today() - datetime.timedelta(days=170)).isoformat()
        unit.edit_config(lambda doc: (
            doc["detectors"]["d1"].update(installed="2020-01-15", model="GT-100", serial="A0001"),
            doc["detectors"]["d2"].update(installed=d2_installed),
            doc.update(daily_check={"enabled": True, "due_by": "23:59"})))
    return prepare


def test_the_daily_check_at_the_operator_level_and_the_reminders_reach_the_platform(tmp_path, broker, platform,
                                                                                     browser):
    with kitchen_with_panel(tmp_path, with_dates_and_a_daily_check(broker)) as (_, unit, panel):
        page = browser.page()
        page.goto(panel.url)
        maintenance = page.inner_text("#maintenance")
        assert "d1 到期更换" in maintenance and "已到期" in maintenance, "d1 is past its 3 years"
        assert "d2 标定/检测" in maintenance and "还有 10 天" in maintenance
        assert "valve" in maintenance and "未登记安装日期" in maintenance
        assert "今日尚未检查" in page.inner_text("#daily-state") or "未按时检查" in page.inner_text("#daily-state")
        assert page.locator("#daily-check").count() == 0, "no checklist without a PIN"
        enter_pin(page, PINS["operator"])
        boxes = page.locator("#daily-check input[type=checkbox]")
        assert boxes.count() == 4
        for i in range(3):
            boxes.nth(i).check()
        page.click("#daily-check button")
        page.wait_for_url(panel.url + "/")
        assert "not ticked: detector_lamps" in page.inner_text("#message")
        assert unit.events("daily_check") == [], "a list with an item left unticked records nothing"
        for i in range(4):
            page.locator("#daily-check input[type=checkbox]").nth(i).check()
        screenshot(page, "panel-daily-check")
        page.click("#daily-check button")
        page.wait_for_url(panel.url + "/")
        assert "daily check recorded" in page.inner_text("#message")
        assert "今日已检查" in page.inner_text("#daily-state") and "panel operator" in page.inner_text("#daily-state")
        assert page.locator("#daily-check").count() == 0, "done for today"
        # The unit's log thread writes the journal after the reply the panel showed: wait for the line.
        (line,) = wait_until(lambda: unit.events("daily_check"), 10, what="the daily check in the journal")
        assert "state=done" in line and "panel operator" in line

        def arrived():
            rows = [r for r in platform.iter_events() if r[7] in ("daily_check", "maintenance_due")]
            return rows if any(r[7] == "daily_check" for r in rows) else None
        rows = wait_until(arrived, 20, what="the daily check and the reminders at the platform")
        assert {(r[7], r[9], r[10]) for r in rows} >= {
            ("maintenance_due", "d1:end_of_life", "due"), ("maintenance_due", "d2:calibration", "soon")}
        assert [r[10] for r in rows if r[7] == "daily_check"] == ["done"]
        opened = {(w.rule, w.cause) for w in WS.warnings(platform, open_only=True)}
        assert any(rule == "maintenance_due" and "d1:end_of_life" in cause for rule, cause in opened), opened
        assert any(rule == "maintenance_soon" and "d2:calibration" in cause for rule, cause in opened), opened


def test_the_installer_sees_whether_the_unit_runs_the_commissioned_configuration(kitchen, browser):
    _, unit, panel = kitchen
    running = unit.request("status")[0]["status"]["config"]
    record = {"site": {"name": "川味小馆"}, "installer": {"name": "王师傅"},
              "config": {"identity": running["identity"], "version": running["version"],
                         "pushed_at": "2026-12-07T06:10:00.000Z"}, "valve_tests": [{"passed": True}]}
    panel.record_path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    page = browser.page()
    page.goto(panel.url)
    enter_pin(page, PINS["maintenance"])
    assert page.locator("#commissioning-link").count() == 0
    assert httpx.get(panel.url + "/commissioning", cookies={c["name"]: c["value"] for c in page.context.cookies()}
                     ).status_code == 403, "the record needs the installer level"
    page.click("form[action='/logout'] button")
    enter_pin(page, PINS["installer"])
    page.click("#commissioning-link")
    assert page.get_attribute("#identity", "data-verdict") == "match"
    assert "运行中的配置与调试记录一致" in page.inner_text("#identity") and running["identity"] in page.inner_text(
        "#identity")
    screenshot(page, "panel-commissioning")
    hostile = dict(record, site={"name": "\ud800\u0000\u202e川味"}, installer={"name": "\udfff" * 3})
    panel.record_path.write_text(json.dumps(hostile), encoding="utf-8")  # valid JSON escapes no page can encode
    page.reload()
    assert page.get_attribute("#identity", "data-verdict") == "match", "a record's odd text is shown, not a 500"
    assert "\\ud800" in page.inner_text("main")
    record["config"]["version"] = running["version"] + 1  # a later push than the unit runs
    panel.record_path.write_text(json.dumps(record), encoding="utf-8")
    page.reload()
    assert page.get_attribute("#identity", "data-verdict") == "differs"
    for junk in (b"\xff\xfe not json", b"[" * 100000, b"{}" + b" " * (5 * 1024 * 1024)):
        panel.record_path.write_bytes(junk)
        page.reload()
        assert page.get_attribute("#identity", "data-verdict") == "unknown"
    panel.record_path.unlink()
    page.reload()
    assert "no commissioning record at" in page.inner_text("#identity")


def test_killing_the_panel_leaves_the_controller_running(kitchen):
    _, unit, panel = kitchen
    scans = unit.request("status")[0]["status"]["scan"]["scans"]
    panel.proc.send_signal(signal.SIGKILL)
    panel.proc.wait(5)
    wait_until(lambda: unit.request("status")[0]["status"]["scan"]["scans"] > scans + 20, 10,
               what="the controller scanning on after the panel died")
    assert unit.proc.poll() is None


def test_any_text_in_the_panel_s_forms_gets_an_answer_and_never_stops_the_panel_or_the_controller(kitchen):
    _, unit, panel = kitchen
    client = httpx.Client(base_url=panel.url)
    token = client.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
    client.post("/pin", data={"pin": PINS["maintenance"], "pin_token": token})
    csrf = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    hostile = ["\ud800", "\x00", "d1\x00", "../d1", "9" * 5000, "-1", "1e9", "<script>alert(1)</script>", "\u202e",
               "d" * 4000, ""]
    for text in hostile:
        wire = text.encode("utf-8", "surrogatepass")  # a lone surrogate arrives as the raw bytes a client sent
        for path, fields in (("/inhibit", {"detector": wire, "minutes": wire}), ("/inhibit", {"detector": b"d2",
                              "minutes": wire}), ("/test-output", {"line": wire, "ms": wire}),
                             ("/pin", {"pin": wire, "pin_token": wire}), ("/end-inhibit", {"detector": wire})):
            body = b"&".join(b"%s=%s" % (k.encode(), quote_bytes(v)) for k, v in dict(fields, csrf=csrf.encode()).items())
            r = client.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status_code in (303, 400, 401, 403, 409, 413), (path, text[:20], r.status_code)
            assert "<script>alert(1)</script>" not in r.text
    assert client.get("/").status_code == 200, "the panel still serves"
    status = unit.request("status")[0]["status"]
    assert status["inhibits"] == {} and unit.line("valve") == "0", "nothing odd was taken"


def quote_bytes(value: bytes) -> bytes:
    from urllib.parse import quote_from_bytes

    return quote_from_bytes(value, safe="").encode()


def test_the_daily_check_cannot_be_forged_from_the_view_level_without_csrf_or_with_any_text(tmp_path):
    """attack16: POST /daily-check at the view level, without the session's CSRF token, with an item missing, an item
    twice, unknown or hostile item texts: each gets an answer, none records a check, the panel and the unit go on;
    then every item ticked records exactly one."""
    items = ["stove", "hose", "valve", "detector_lamps"]
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}

    def post(client, pairs):
        body = b"&".join(b"%s=%s" % (k.encode(), quote_bytes(v.encode("utf-8", "surrogatepass"))) for k, v in pairs)
        return client.post("/daily-check", content=body, headers=form_type)

    def prepare(unit):
        unit.edit_config(lambda doc: doc.update(daily_check={"enabled": True, "due_by": "23:59"}))

    with kitchen_with_panel(tmp_path, prepare) as (_, unit, panel):
        ticked = [("item", item) for item in items]
        viewer = httpx.Client(base_url=panel.url)
        viewer.get("/")
        assert post(viewer, ticked).status_code == 403, "no CSRF token"
        assert post(viewer, ticked + [("csrf", "x" * 43)]).status_code == 403, "a made-up token"
        operator = httpx.Client(base_url=panel.url)
        token = operator.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
        operator.post("/pin", data={"pin": PINS["operator"], "pin_token": token})
        csrf = operator.get("/").text.split('name="csrf" value="')[1].split('"')[0]
        assert post(operator, ticked).status_code == 403
        assert post(operator, ticked + [("csrf", csrf + "x")]).status_code == 403
        hostile = [items[:3], items + ["stove"], items + ["gas_off"], items[:3] + ["\ud800"], items[:3] + ["\x00"],
                   items[:3] + ["d" * 4000], items[:3] + [""], ["stove\x00", "hose", "valve", "detector_lamps"]]
        for texts in hostile:
            r = post(operator, [("csrf", csrf)] + [("item", text) for text in texts])
            assert r.status_code in (303, 400, 413), (texts, r.status_code)
        assert unit.events("daily_check") == [], "nothing recorded without every item, once, from the operator"
        assert operator.get("/").status_code == 200
        assert post(operator, [("csrf", csrf)] + ticked).status_code == 303
        wait_until(lambda: len(unit.events("daily_check")) == 1, 10, what="the one check recorded")
        assert unit.request("status")[0]["status"]["latched"] is True and unit.line("valve") == "0"
