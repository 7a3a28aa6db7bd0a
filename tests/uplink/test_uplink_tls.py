"""The uplink's TLS and credentials against a real mosquitto: what works, and what is refused and reported why."""

from __future__ import annotations

import json
import signal

import pytest

from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.broker import Broker
from gaslatch_tools.testing.pki import Pki
from gaslatch_tools.testing.running_unit import RunningUnit
from gaslatch_tools.testing.waiting import wait_until
from tests.uplink.test_uplink_worker import (  # noqa: F401  (store, make_uplink: the same fixtures)
    Subscriber, append, config, make_uplink, store)

USER = "unit1"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def pki(tmp_path):
    return Pki(str(tmp_path / "pki"))


@pytest.fixture
def tls_broker(tmp_path, pki):
    b = Broker(str(tmp_path), pki=pki).start()
    yield b
    b.stop()


@pytest.fixture
def password_broker(tmp_path):
    b = Broker(str(tmp_path), passwords={USER: PASSWORD, "platform": "platform password"}).start()
    yield b
    b.stop()


def refused(up, store, seqs: list[int], *words: str) -> str:
    """Waits until the uplink reports a problem containing every word; checks nothing was delivered."""
    error = wait_until(lambda: (lambda e: e if all(w in e for w in words) else None)(up.health()["last_error"]), 20,
                       what="a connection problem naming %s (health: %r)" % (words, up.health()))
    assert not up.health()["connected"] and up.health()["connects"] == 0
    assert [r["seq"] for r in store.unacked(100)] == seqs, "nothing counts as delivered"
    reports = up.take_reports()
    assert reports and reports[0] == ("error", error), "the journal gets the same text"
    return error


def test_events_are_delivered_over_mutual_tls_with_the_host_name_verified(tmp_path, tls_broker, pki, store,
                                                                        make_uplink):
    platform = Subscriber(tls_broker, pki=pki)
    try:
        seqs = append(store, 20)
        up = make_uplink(config(tls_broker, tmp_path, host="localhost", **pki.client_settings()))
        wait_until(lambda: platform.seqs() == seqs and not store.unacked(10), 20,
                   what="all events delivered over TLS and acked (health: %r)" % (up.health(),))
        assert up.health()["connected"] and up.health()["last_error"] == ""
    finally:
        platform.close()


def test_a_broker_certificate_from_another_ca_is_refused_and_reported(tmp_path, tls_broker, pki, store, make_uplink):
    other = Pki(str(tmp_path / "other"))
    seqs = append(store, 3)
    up = make_uplink(config(tls_broker, tmp_path, **dict(pki.client_settings(), ca_file=other.ca_file)))
    error = refused(up, store, seqs, "not trusted", "uplink.ca_file")
    assert "self-signed certificate" in error or "unable to get local issuer" in error  # OpenSSL's own words


def test_a_broker_certificate_for_another_host_name_is_refused_and_reported(tmp_path, store, make_uplink):
    pki = Pki(str(tmp_path / "pki"), server_names=("broker.example",))
    broker = Broker(str(tmp_path), pki=pki).start()
    try:
        seqs = append(store, 3)
        up = make_uplink(config(broker, tmp_path, **pki.client_settings()))
        refused(up, store, seqs, "not valid for 127.0.0.1", "uplink.host")
    finally:
        broker.stop()


@pytest.mark.parametrize("client_cert", ["none", "from another ca"])
def test_a_unit_without_a_client_certificate_the_broker_trusts_is_refused_and_reported(
        tmp_path, tls_broker, pki, store, make_uplink, client_cert):
    settings = {"tls": True, "ca_file": pki.ca_file}
    if client_cert != "none":
        other = Pki(str(tmp_path / "other"))
        settings.update(cert_file=other.client_cert_file, key_file=other.client_key_file)
    seqs = append(store, 3)
    up = make_uplink(config(tls_broker, tmp_path, **settings))
    refused(up, store, seqs, "closed the connection before accepting it", "client certificate", "uplink.cert_file")


def test_the_right_password_is_accepted(tmp_path, password_broker, store, make_uplink):
    password_file = tmp_path / "mqtt.password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    seqs = append(store, 5)
    platform = Subscriber(password_broker, username="platform", password="platform password")
    try:
        up = make_uplink(config(password_broker, tmp_path, username=USER, password_file=str(password_file)))
        wait_until(lambda: not store.unacked(10), 20, what="events delivered and acknowledged by the platform")
        # The store's acks and the worker's health are updated one after the other: wait for both.
        wait_until(lambda: up.health()["connected"] and up.health()["delivered_seq"] == seqs[-1], 10,
                   what="the uplink connected and reporting every event delivered")
    finally:
        platform.close()


@pytest.mark.parametrize("password", ["wrong password", None])
def test_a_wrong_or_missing_password_is_refused_and_reported(tmp_path, password_broker, store, make_uplink, password):
    settings = {"username": USER}
    if password is not None:
        password_file = tmp_path / "mqtt.password"
        password_file.write_text(password)
        password_file.chmod(0o600)
        settings["password_file"] = str(password_file)
    seqs = append(store, 3)
    up = make_uplink(config(password_broker, tmp_path, **settings))
    error = refused(up, store, seqs, "refused the connection", "Not authorized", "uplink.username", "password_file")
    wait_until(lambda: up.health()["connect_attempts"] >= 2, 20, what="a second attempt after the back-off")
    assert up.take_reports() == [], "the same refusal is reported once, not at every attempt"
    assert up.health()["last_error"] == error


def test_a_unit_with_a_wrong_password_logs_why_and_still_closes_the_gas_on_a_leak(tmp_path, password_broker):
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    (tmp_path / "uplink.key").write_bytes(b"unit-1 test key\n")
    (tmp_path / "uplink.key").chmod(0o600)
    (tmp_path / "mqtt.password").write_text("not the password\n")
    (tmp_path / "mqtt.password").chmod(0o600)
    doc = json.loads(unit.config_path.read_text())
    doc["uplink"] = {"enabled": True, "host": password_broker.host, "port": password_broker.port, "tls": False,
                     "username": USER, "password_file": str(tmp_path / "mqtt.password"),
                     "hmac_key_file": str(tmp_path / "uplink.key"), "keepalive_s": 5}
    unit.config_path.write_text(json.dumps(doc))
    unit.set_input("reset_button", False)
    try:
        unit.start()
        wait_until(lambda: [line for line in unit.lines if "uplink: the broker" in line and "Not authorized" in line],
                   10, what="the refusal in the journal")
        unit.wait_detectors_normal()
        unit.press_reset()
        wait_until(lambda: unit.line("valve") == "1", 10, what="valve open")
        bus.set_gas(1, 30)
        wait_until(lambda: unit.line("valve") == "0", 10, what="the leak closes the valve without the platform")
        assert [line for line in unit.lines if line.startswith("<3>uplink:")], "logged as an error"
    finally:
        unit.stop(signal.SIGTERM)
        unit.close()
        bus.close()
