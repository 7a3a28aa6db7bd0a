"""A real mosquitto broker on loopback for tests: started per test, stopped after; can be cut and restored.

Installed by scripts/test.sh (apt-get install mosquitto); a missing broker fails the tests, never skips them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest
import trustme

from tests.unit.waiting import wait_until

SERVER_NAMES = ("127.0.0.1", "localhost")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pki:
    """A throw-away CA with a broker certificate and a unit's client certificate, as PEM files in a directory.

    server_names: the names (or IP addresses) the broker's certificate is issued for.
    """

    def __init__(self, directory: str, server_names: tuple[str, ...] = SERVER_NAMES, client_name: str = "unit1"):
        os.makedirs(directory, exist_ok=True)
        self.ca = trustme.CA()
        server = self.ca.issue_cert(*server_names)
        client = self.ca.issue_cert(client_name)
        self.ca_file = os.path.join(directory, "ca.pem")
        self.server_cert_file = os.path.join(directory, "server.pem")
        self.server_key_file = os.path.join(directory, "server.key")
        self.client_cert_file = os.path.join(directory, "client.pem")
        self.client_key_file = os.path.join(directory, "client.key")
        self.ca.cert_pem.write_to_path(self.ca_file)
        server.private_key_pem.write_to_path(self.server_key_file)
        server.cert_chain_pems[0].write_to_path(self.server_cert_file)
        client.private_key_pem.write_to_path(self.client_key_file)
        client.cert_chain_pems[0].write_to_path(self.client_cert_file)
        for path in (self.server_key_file, self.client_key_file):
            os.chmod(path, 0o600)

    def client_settings(self) -> dict:
        """The uplink settings for mutual TLS with this PKI."""
        return {"tls": True, "ca_file": self.ca_file, "cert_file": self.client_cert_file,
                "key_file": self.client_key_file}


class Broker:
    """mosquitto listening on 127.0.0.1:port with persistence, so queued QoS 1 messages survive a restart.

    pki: serve TLS with pki's broker certificate and require a client certificate signed by its CA.
    passwords: {user: password}: only these users may connect (no anonymous clients).
    The broker's own log is in <directory>/mosquitto.log.
    """

    def __init__(self, directory: str, pki: Pki | None = None, passwords: dict[str, str] | None = None):
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            raise RuntimeError("mosquitto is not installed: run scripts/test.sh (apt-get install mosquitto)")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.directory = directory
        self.config = os.path.join(directory, "mosquitto.conf")
        self.log_path = os.path.join(directory, "mosquitto.log")
        lines = []
        if os.geteuid() == 0:
            # As root mosquitto switches to the "mosquitto" user after opening its listener, and could then
            # read neither the password file nor write its persistence file in the test's private directory.
            lines.append("user root")
        lines += ["listener %d 127.0.0.1" % self.port, "persistence true", "persistence_location %s/" % directory,
                  "log_dest stderr"]
        if pki is not None:
            lines += ["cafile %s" % pki.ca_file, "certfile %s" % pki.server_cert_file,
                      "keyfile %s" % pki.server_key_file, "require_certificate true"]
        if passwords:
            lines += ["allow_anonymous false", "password_file %s" % self._password_file(passwords)]
        else:
            lines.append("allow_anonymous true")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def _password_file(self, passwords: dict[str, str]) -> str:
        """mosquitto's hashed password file, written by its own mosquitto_passwd."""
        path = os.path.join(self.directory, "passwords")
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        open(path, "w").close()
        os.chmod(path, 0o600)
        for user, password in sorted(passwords.items()):
            subprocess.run([tool, "-b", path, user, password], check=True, capture_output=True)
        return path

    def start(self) -> "Broker":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", self.config], stdout=subprocess.DEVNULL, stderr=log)
        wait_until(self._listening, 10, what="mosquitto listening on %d" % self.port)
        return self

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError("mosquitto exited with %s:\n%s" % (self.proc.returncode, self.log()))
        with socket.socket() as sock:
            return sock.connect_ex((self.host, self.port)) == 0

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self) -> None:
        """A broker outage: the process ends (persisted messages stay on disk)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def broker(tmp_path):
    b = Broker(str(tmp_path)).start()
    yield b
    b.stop()
