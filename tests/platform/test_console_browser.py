"""The console in a real browser (Debian's Chromium, headless, driven by Playwright): a trip on a real `gaslatch run`
reaches the duty operator's queue without a reload, is acknowledged there; an owner sees their own site and nothing
of another's; the QR page shows nothing private.

GASLATCH_SCREENSHOTS=docs/images pytest tests/platform/test_console_browser.py refreshes the pictures in
docs/platform.md.
"""

from __future__ import annotations

import datetime

import pytest
from PIL import Image

from gaslatch_tools.platform import accounts
from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.console.app import public_token
from gaslatch_tools.platform.receiver import PlatformReceiver, open_storage
from gaslatch_tools.platform.unit_commands import CommandSender
from gaslatch_tools.platform import audit
from gaslatch_tools.testing.browser import Browser, screenshot
from gaslatch_tools.testing.console_server import ConsoleServer
from gaslatch_tools.testing.waiting import wait_until
from tests.platform.test_console import CONTACTS, PASSWORD, SITE_B
from tests.platform.conftest import BENCH_KEY, RULES

BENCH_SITE = "bench"  # the site of the bench's unit (testing.kitchen_config)


def contacts_with_bench() -> C.Contacts:
    doc = {**CONTACTS, "sites": {**CONTACTS["sites"],
                                 BENCH_SITE: {"name": "试验厨房", "district": "gulou", "owners": ["li"]}}}
    return C.build(doc)


@pytest.fixture
def platform_parts(tmp_path, broker):
    keys = tmp_path / "unit-keys" / BENCH_SITE
    keys.mkdir(parents=True)
    (keys / "unit-1.key").write_bytes(BENCH_KEY + b"\n")
    (keys / "unit-1.key").chmod(0o600)
    sender = CommandSender(broker.host, broker.port, str(tmp_path / "unit-keys"))
    sender.start()
    storage = open_storage(str(tmp_path / "platform.sqlite"))
    WS.prepare(storage)
    accounts.prepare(storage)
    storage.add_store_hook(WS.WarningHook(RULES))
    for user in ("li", "duty", "wang"):
        accounts.set_password(storage, user, PASSWORD, 0, "test")
    receiver = PlatformReceiver(storage, broker.host, broker.port, client_id="console-test")
    receiver.start()
    console = ConsoleServer(storage, contacts_with_bench(), rules=RULES, commands=sender).start()
    yield storage, console
    console.stop()
    sender.stop()
    receiver.stop()
    storage.close()


@pytest.fixture
def browser():
    with Browser() as b:
        yield b


def log_in(page, console, user: str) -> None:
    page.goto(console.url + "/warnings")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(console.url + "/warnings")


def test_a_trip_on_a_real_unit_appears_in_the_operator_s_queue_without_a_reload(platform_parts, browser,
                                                                               bench_unit):
    storage, console = platform_parts
    bus, unit = bench_unit
    page = browser.page()
    log_in(page, console, "duty")
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
    assert "没有预警" in page.inner_text("#warnings")
    bus.set_gas(1, 60.0)  # high alarm on d1: the unit trips
    page.wait_for_selector("tr[data-rule=trip]", timeout=20_000)
    assert page.evaluate("window.__sameDocument === true"), "the row arrived without a reload"
    row = page.inner_text("tr[data-rule=trip]")
    assert BENCH_SITE in row and "燃气已紧急切断" in row and "一级 Grade 1" in row and "未确认 not acknowledged" in row
    screenshot(page, "console-warnings")
    page.fill("tr[data-rule=trip] input[name=note]", "已通知店主，安全员前往 owner told, officer on the way")
    page.click("tr[data-rule=trip] button.ack")
    page.wait_for_selector("tr[data-rule=trip].state-acknowledged")
    assert "owner told" in page.inner_text("tr[data-rule=trip]")
    (warning,) = [w for w in WS.warnings(storage) if w.site == BENCH_SITE and w.rule == "trip"]
    assert warning.state == "acknowledged" and warning.acked_by == "duty"
    wait_until(lambda: storage.read(lambda x: x("SELECT COUNT(*) FROM readings").fetchone()[0]) >= 2, 20,
               what="the unit's readings on the platform")
    page.goto(console.url + "/sites/" + BENCH_SITE)
    wait_until(lambda: "燃气已关闭" in page.inner_text("main"), 10, what="the site page shows the gas off")
    plot = page.locator("figure.plot img").first
    plot.scroll_into_view_if_needed()
    wait_until(lambda: page.evaluate("(img) => img.complete && img.naturalWidth > 0", plot.element_handle()), 10,
               what="the plot of the readings around the warning drawn")
    screenshot(page, "console-site")


def test_an_officer_closes_the_gas_from_the_site_page_and_it_is_audited_but_cannot_open_it(platform_parts, browser,
                                                                                         bench_unit):
    storage, console = platform_parts
    bus, unit = bench_unit
    unit.press_reset()
    wait_until(lambda: unit.line("valve") == "1", 10, what="the valve open after a local reset")
    page = browser.page()
    log_in(page, console, "wang")
    wait_until(lambda: [r for r in storage.fleet() if r.site == BENCH_SITE], 10, what="the unit on the platform")
    page.goto(console.url + "/sites/" + BENCH_SITE)
    assert "Reopening needs a person at the unit" in page.inner_text("form.close-valve")
    page.check("form.close-valve input[name=confirm]")
    page.fill("form.close-valve input[name=note]", "店主电话无人接听 owner not answering")
    screenshot(page, "console-close-valve")
    page.click("form.close-valve button.close")
    assert "close_valve sent" in page.inner_text("#message")
    wait_until(lambda: unit.line("valve") == "0", 10, what="the unit closes the valve")
    (row,) = [a for a in audit.rows(storage) if a.action == "close_valve"]
    assert (row.actor, row.site, row.target) == ("wang", BENCH_SITE, "unit:bench/unit-1")
    assert "owner not answering" in row.detail


def test_an_owner_in_the_browser_sees_their_site_and_nothing_of_another(platform_parts, browser):
    storage, console = platform_parts
    page = browser.page()
    log_in(page, console, "li")
    assert "店主 owner" in page.inner_text("#who")
    page.goto(console.url + "/sites")
    assert SITE_B not in page.content()
    response = page.goto(console.url + "/sites/" + SITE_B)
    assert response.status == 404 and "没有找到" in page.inner_text("#message")
    assert page.goto(console.url + "/audit").status == 404
    assert page.locator("a[href='/audit']").count() == 0, "no link to what the owner may not see"


def test_the_public_page_in_the_browser_shows_nothing_private(platform_parts, browser):
    storage, console = platform_parts
    page = browser.page()
    key = accounts.platform_key(storage, "public_pages")
    page.goto(console.url + "/q/" + public_token(key, BENCH_SITE))
    text = page.inner_text("body")
    assert "试验厨房" in text and "Open hazards" in text
    assert "李店主" not in text and "退出" not in text, "no owner, no session controls"
    screenshot(page, "console-public")


def test_the_login_page_says_why_a_login_was_refused(platform_parts, browser):
    storage, console = platform_parts
    page = browser.page()
    page.goto(console.url + "/login")
    page.fill("#username", "duty")
    page.fill("#password", "not the password")
    page.click("#login")
    assert "用户名或密码错误" in page.inner_text("#login-error")
    screenshot(page, "console-login")


def test_a_warning_goes_from_dispatch_to_a_closed_work_order_in_the_browser(platform_parts, browser, tmp_path):
    from tests.platform.test_console import trip

    storage, console = platform_parts
    trip(storage, BENCH_SITE, unit="unit-1")
    duty, wang, li = browser.page(), browser.page(), browser.page()
    for page, user in ((duty, "duty"), (wang, "wang"), (li, "li")):
        log_in(page, console, user)
    in_a_week = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
    duty.fill("tr[data-rule=trip] form.dispatch input[name=due]", in_a_week)
    duty.select_option("tr[data-rule=trip] form.dispatch select[name=officer]", "wang")
    duty.click("tr[data-rule=trip] button.dispatch")
    duty.wait_for_url("**/orders/*")
    order_url = duty.url

    def step(page, action, note=None, due=None, hazard=None):
        page.goto(order_url)
        form = "form[data-action=%s]" % action
        if hazard is not None:
            page.check(form + " input[name=hazard][value=%s]" % ("yes" if hazard else "no"))
        if due:
            page.fill(form + " input[name=due]", due)
        if note:
            page.fill(form + " input[name=note]", note)
        page.click(form + " button")
        page.wait_for_url(order_url)

    step(wang, "find", note="软管老化开裂 hose cracked near the wok", hazard=True)
    photo = tmp_path / "hose.png"
    Image.new("RGB", (160, 120), (230, 140, 40)).save(photo)  # a real picture, as a phone would send
    wang.set_input_files("form.photo input[type=file]", str(photo))
    wang.click("form.photo button")
    wang.wait_for_url(order_url)
    step(wang, "rectify", due=in_a_week)
    assert li.goto(order_url).ok and li.locator("form[data-action=close]").count() == 0, "no close for an owner"
    step(li, "done", note="已更换软管和卡箍 hose and clamps replaced")
    step(wang, "verify")
    screenshot(wang, "console-work-order")
    step(duty, "close")
    assert "已关闭 order closed" in duty.inner_text("#order-state")
    history = duty.inner_text("#history")
    for who in ("duty", "wang", "li"):
        assert who in history
    duty.goto(console.url + "/ledger")
    assert "hose cracked" in duty.inner_text("#ledger")
    screenshot(duty, "console-ledger")
    with duty.expect_download() as download:
        duty.click("#export-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
