"""The panel's PIN and lockout files hold whatever a disk, an editor or an intruder left in them: the login gives a
clear refusal in Chinese beside English, or goes on, and never fails with an internal error or waits for minutes."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from gaslatch.panel import pins as P
from gaslatch.panel.app import PanelSettings, create_app
from gaslatch.panel.words import pair
from gaslatch.translation import N_

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


@pytest.mark.parametrize("pins, lockout", [(NESTED, b"{}"), (b'{"levels": {}}', NESTED),
                                           (b'{"levels": {}}', b'{"failures": -99}')])
def test_the_login_page_refuses_with_a_reason_when_a_file_is_damaged(tmp_path, pins, lockout):
    settings_ = PanelSettings("/nonexistent.sock", "root", P.PinFile(private_file(tmp_path, "pins.json", pins)),
                              P.Lockout(private_file(tmp_path, "lockout.json", lockout), time.time), None)

    class Feed:
        def latest(self):
            return 1, None, "no control socket"

        def wait_fresh(self, timeout_s):
            pass

    with TestClient(create_app(settings_, Feed()), follow_redirects=True) as client:
        token = client.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
        answer = client.post("/pin", data={"pin": "9999", "pin_token": token})
    if pins == NESTED:
        assert answer.status_code == 500
        assert "PIN 文件无法读取" in answer.text and "嵌套层级过深" in answer.text
        assert "The PIN file cannot be read" in answer.text and "nested too deeply" in answer.text
    else:
        assert answer.status_code == 401 and "密码错误" in answer.text, answer.text
