"""The one command the platform sends a unit: close_valve, signed with that unit's key (docs/uplink.md).

The platform holds each unit's command key in a directory (<keys>/<site>/<unit>.key, mode 0600, the same bytes
as the unit's uplink.hmac_key_file). Closing is always safe, so it is the only command here: there is no way to
send open, reset or anything else from the platform (the unit would refuse them anyway).
"""

from __future__ import annotations

import os
import secrets
import ssl
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt

from gaslatch.core import uplink_wire as W
from gaslatch.translation import N_
from gaslatch.unit.private_file import PrivateFileError, read_private_bytes
from gaslatch.told import Told

PUBLISH_TIMEOUT_S = 5.0


class CommandError(Told, RuntimeError):
    """The command could not be sent: which unit, and why (no key, broker unreachable)."""


def key_path(keys_dir: str, site: str, unit: str) -> str:
    W.topics(site, unit)  # a name that cannot be a topic level (and so contains no / or NUL) is refused here
    if site in (".", "..") or unit in (".", ".."):
        raise W.TopicNameError("site", site, "it is not a name")
    return os.path.join(keys_dir, site, unit + ".key")


class CommandSender:
    """Publishes signed close_valve commands (QoS 1) on one broker connection, kept open and reconnected."""

    def __init__(self, host: str, port: int, keys_dir: str, username: str | None = None,
                 password: str | None = None, ca_file: str | None = None, client_id: str | None = None,
                 clock_s: Callable[[], float] = time.time):
        self.host, self.port, self.keys_dir = host, port, keys_dir
        self._clock_s = clock_s
        self._lock = threading.Lock()
        self._client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=client_id or "gaslatch-console-%s" % secrets.token_hex(4))
        if username is not None:
            self._client.username_pw_set(username, password)
        if ca_file is not None:
            self._client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self._client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as err:
            raise CommandError(N_("cannot reach the MQTT broker at %(host)s:%(port)d: %(error)s"), host=self.host,
                               port=self.port, error=err) from None
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def can_close(self, site: str, unit: str) -> bool:
        """Whether a key for the unit is installed (the console offers the button only then)."""
        try:
            return os.path.isfile(key_path(self.keys_dir, site, unit))
        except W.TopicNameError:
            return False

    def close_valve(self, site: str, unit: str) -> str:
        """Sends close_valve to the unit; the command's id once the broker has it (PUBACK), CommandError if not."""
        try:
            path = key_path(self.keys_dir, site, unit)
            key = read_private_bytes(path, N_("command key")).rstrip(b"\r\n")
        except W.TopicNameError as err:
            raise CommandError(str(err)) from None
        except PrivateFileError as err:
            raise CommandError(N_("no command key for %(site)s/%(unit)s: %(error)s"), site=site, unit=unit,
                               error=err) from None
        if not key:
            raise CommandError(N_("the command key for %(site)s/%(unit)s is empty"), site=site, unit=unit)
        command_id = "console-%s" % secrets.token_hex(8)
        payload = W.sign_command(key, command_id, int(self._clock_s()), W.CMD_CLOSE_VALVE, {})
        with self._lock:
            info = self._client.publish(W.topics(site, unit)["cmd"], payload, qos=1)
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError) as err:
            raise CommandError(N_("the broker did not take the command: %(error)s"), error=err) from None
        if not info.is_published():
            raise CommandError(N_("the broker did not confirm the command within %(seconds).0f s"),
                               seconds=PUBLISH_TIMEOUT_S)
        return command_id
