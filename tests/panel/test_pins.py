"""The panel's PIN and lockout files hold whatever a disk, an editor or an intruder left in them: the login gives a
clear refusal in Chinese beside English, or goes on, and never fails with an internal error or waits for minutes."""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from gaslatch.panel import pins as P
from gaslatch.panel.app import PanelSettings, create_app
from gaslatch.panel.words import pair
from gaslatch.translation import N_
from gaslatch_tools.testing.waiting import returns

NESTED = b"[" * 100_000 + b"]" * 100_000
# JSON values a file may hold where a PIN hash or a lockout count belongs.
VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec="utf-8")),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                      max_leaves=8)
FILE_BYTES = (st.binary(max_size=200) | st.just(NESTED) | st.just(b"\xff\xfe{}") | st.just("\ud800".encode("utf-8", "surrogatepass"))
              | VALUES.map(lambda v: json.dumps(v).encode())
              | st.dictionaries(st.sampled_from(["levels", "version", "failures", "locked_until_s"]), VALUES)
              .map(lambda d: json.dumps(d).encode()))
HASHES = st.sampled_from(["pbkdf2_sha256$%d$%s$%s" % (n, "00" * 16, "00" * 32) for n in (0, -1, 10 ** 12, 10 ** 7)]) | (
    st.text(max_size=80))


def private_file(folder, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    path.chmod(0o600)
    return str(path)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=FILE_BYTES)
def test_any_pin_file_gives_the_hashes_or_a_refusal_told_in_each_language(tmp_path, data):
    pins = P.PinFile(private_file(tmp_path, "pins.json", data))
    try:
        hashes = pins.hashes()
    except P.UnreadablePinFile as err:
        zh, en = pair(N_("The PIN file cannot be read: %(error)s"), error=err)
        assert zh.startswith("PIN 文件无法读取：") and en.startswith("The PIN file cannot be read: "), (zh, en)
        reason = zh[len("PIN 文件无法读取："):].replace(pins.path, "")
        assert any("\u4e00" <= c <= "\u9fff" for c in reason), "the reason is said in Chinese too: %s" % zh
    else:
        assert set(hashes) <= set(P.PIN_LEVELS) and all(isinstance(h, str) for h in hashes.values())


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=FILE_BYTES)
def test_any_lockout_file_counts_on_from_what_it_can_read(tmp_path, data):
    lockout = P.Lockout(private_file(tmp_path, "lockout.json", data), lambda: 1000.0)
    lockout.locked_until()
    for _ in range(P.MAX_FAILURES):
        if lockout.failed():
            break
    else:
        pytest.fail("%d wrong PINs in a row did not lock the panel" % P.MAX_FAILURES)
    assert lockout.locked_until() == 1000.0 + P.LOCKOUT_S


@given(stored=HASHES)
def test_a_stored_hash_that_is_none_of_ours_matches_no_pin_at_once(stored):
    # A hash asking for 10^12 rounds would hold a login for hours: it is no hash of ours, and matches nothing.
    assert P.pin_matches("1234", stored) is False


def test_a_stored_hash_within_the_rounds_still_matches():
    assert P.pin_matches("1234", P.hash_pin("1234", iterations=P.MAX_ITERATIONS))
    assert not P.pin_matches("1234", P.hash_pin("1234", iterations=P.MAX_ITERATIONS + 1))


class Feed:
    """No controller: the login page does not need one."""

    def latest(self):
        return 1, None, "no control socket"

    def wait_fresh(self, timeout_s):
        pass


def panel(folder, pins: bytes, lockout: bytes):
    return create_app(PanelSettings("/nonexistent.sock", "root", P.PinFile(private_file(folder, "pins.json", pins)),
                                    P.Lockout(private_file(folder, "lockout.json", lockout), time.time), None), Feed())


def login(folder, pins: bytes, lockout: bytes, pin: str = "9999"):
    with TestClient(panel(folder, pins, lockout), follow_redirects=False, raise_server_exceptions=False) as client:
        token = client.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
        return client.post("/pin", data={"pin": pin, "pin_token": token})


def levels(**hashes) -> bytes:
    return json.dumps({"version": 1, "levels": hashes}).encode()


@pytest.mark.parametrize("pins, lockout", [(NESTED, b"{}"), (levels(), NESTED), (levels(), b'{"failures": -99}'),
                                           (levels(), b'{"locked_until_s": 1e20}'),
                                           (levels(), b'{"locked_until_s": Infinity}'),
                                           (levels(), b'{"locked_until_s": 1e309}'),
                                           (levels(operator="pbkdf2_sha256$1000$%s$\u00e9" % ("00" * 16)), b"{}")])
def test_the_login_page_refuses_with_a_reason_when_a_file_is_damaged(tmp_path, pins, lockout):
    answer = login(tmp_path, pins, lockout)
    if pins == NESTED:
        assert answer.status_code == 500
        assert "PIN 文件无法读取" in answer.text and "嵌套层级过深" in answer.text
        assert "The PIN file cannot be read" in answer.text and "nested too deeply" in answer.text
    else:  # a lock time this panel never sets, a doctored count, a hash no PIN has: a wrong PIN, no internal error
        assert answer.status_code == 401 and "密码错误" in answer.text, answer.text


@pytest.mark.parametrize("pin", ["0000", "", "abc", "1234"])
def test_a_blank_hash_in_the_pin_file_lets_no_pin_in(tmp_path, pin):
    # Someone "clearing" a level's PIN by editing the file must not open that level to everyone.
    answer = login(tmp_path, levels(installer="", operator=P.hash_pin("4321")), b"{}", pin=pin)
    assert answer.status_code == 401, (answer.status_code, answer.headers.get("location"))


@pytest.mark.parametrize("fifo", ["pins.json", "lockout.json"])
def test_a_fifo_in_place_of_a_file_does_not_hold_the_login(tmp_path, fifo):
    os.mkfifo(tmp_path / "fifo", 0o600)
    answers = []

    def try_once():
        (tmp_path / fifo).unlink(missing_ok=True)
        app = panel(tmp_path, levels(), b"{}")
        os.replace(tmp_path / "fifo", tmp_path / fifo)
        with TestClient(app, raise_server_exceptions=False) as client:
            token = client.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
            answers.append(client.post("/pin", data={"pin": "9999", "pin_token": token}))

    returns(try_once, 30, "a login answered with a FIFO at %s (opening it waits for a writer for ever)" % fifo)
    if fifo == "pins.json":
        assert answers[0].status_code == 500 and "不是普通文件" in answers[0].text, answers[0].text
    else:
        assert answers[0].status_code == 401


def test_wrong_pins_sent_at_once_are_held_to_the_lockout(tmp_path):
    # 40 wrong PINs at once (40 tabs, or a script): each used to pass the lockout's check before any was counted,
    # and a slower try's write undid the lock. At most MAX_FAILURES are tried, the rest are refused, the lock holds.
    app = panel(tmp_path, levels(operator=P.hash_pin("4321")), b"{}")

    async def attack():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as client:
            page = await client.get("/")
            token = page.text.split('name="pin_token" value="')[1].split('"')[0]
            answers = await asyncio.gather(*[client.post("/pin", data={"pin": "%04d" % n, "pin_token": token})
                                             for n in range(40)])
            return [answer.status_code for answer in answers]

    codes = asyncio.run(attack())
    assert codes.count(401) == P.MAX_FAILURES and codes.count(423) == 40 - P.MAX_FAILURES, sorted(codes)
    assert P.Lockout(str(tmp_path / "lockout.json"), time.time).locked_until() is not None, "the lock holds"


def test_a_pin_file_larger_than_any_pin_file_is_refused_unread(tmp_path):
    from gaslatch.unit.private_file import MAX_BYTES
    pins = P.PinFile(private_file(tmp_path, "pins.json", b'{"levels": {}, "pad": "' + b"x" * MAX_BYTES + b'"}'))
    with pytest.raises(P.UnreadablePinFile) as err:
        pins.hashes()
    zh, en = pair(N_("The PIN file cannot be read: %(error)s"), error=err.value)
    assert "超过 16 MiB" in zh and "is larger than 16 MiB" in en, (zh, en)
