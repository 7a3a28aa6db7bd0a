"""A real mosquitto broker on loopback for tests, running the deploy configuration: started per test, stopped
after; can be cut, crashed and restored.

Installed by scripts/test.sh (apt-get install mosquitto); a missing broker fails the tests, never skips them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess

import pytest
import trustme

from gaslatch_tools import broker_config as BC
from tests.unit.waiting import wait_until

SERVER_NAMES = ("127.0.0.1", "localhost")
RELOADED = "Reloading config."  # what mosquitto logs when SIGHUP made it read its files again


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
    """mosquitto on 127.0.0.1 running deploy/mosquitto/gaslatch.conf (gaslatch_tools.broker_config rewrites only its
    ports and files), persistence in directory: queued QoS 1 messages and retained ones survive a restart.

    pki: also the deploy file's TLS listener, with pki's broker certificate; `port` is then the TLS listener and
    `loopback_port` the plain one (without pki both are the plain one). require_certificate: the TLS listener
    demands a client certificate signed by pki's CA (the deploy file does not; the uplink's TLS tests do).
    passwords: {user: password}: only these users may connect. acl: and the deploy ACL applies as it is, as on a
    city's broker (needs passwords). Without passwords anyone connects anonymously and no ACL applies: the
    documented relaxation for tests about delivery rather than access. Queue limits and persistence are always
    the deploy file's. The broker's own log is in <directory>/mosquitto.log.
    """

    def __init__(self, directory: str, pki: Pki | None = None, passwords: dict[str, str] | None = None,
                 acl: bool = False, require_certificate: bool = True):
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            raise RuntimeError("mosquitto is not installed: run scripts/test.sh (apt-get install mosquitto)")
        self.host = "127.0.0.1"
        self.loopback_port = free_port()
        self.port = self.loopback_port
        self.directory = directory
        self.config = os.path.join(directory, "mosquitto.conf")
        self.log_path = os.path.join(directory, "mosquitto.log")
        self.password_file = None
        if passwords:
            self.password_file = BC.write_passwords(os.path.join(directory, "passwords"), passwords)
        tls = None
        if pki is not None:
            self.port = free_port()
            tls = BC.TlsFiles(pki.ca_file, pki.server_cert_file, pki.server_key_file, require_certificate)
        text = BC.private_config(directory, self.loopback_port, self.port if tls else None, tls, self.password_file,
                                 acl)
        with open(self.config, "w") as f:
            f.write(text)
        self.proc = None

    def start(self) -> "Broker":
        """Starts it, or starts it again on the same port and files after stop() or kill()."""
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

    def add_user(self, user: str, password: str) -> None:
        """Adds a user to the password file and reloads the running broker, as docs/broker.md does on a real one."""
        BC.add_password(self.password_file, user, password)
        reloads = self.log().count(RELOADED)
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log().count(RELOADED) > reloads, 10, what="mosquitto reloading its configuration")

    def save(self) -> None:
        """Makes mosquitto write its persistence file now (SIGUSR1: the save autosave makes) and waits until it is
        in place."""
        path = os.path.join(self.directory, "mosquitto.db")
        before = _inode(path)
        self.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: _inode(path) not in (None, before), 10, what="mosquitto writing %s" % path)

    def stop(self) -> None:
        """A broker outage: the process ends (it saves its persistence file first)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def kill(self) -> None:
        """A broker crash (SIGKILL): what changed since its last autosave is lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _inode(path: str) -> int | None:
    """The file's inode number: mosquitto writes its persistence file anew and renames it into place."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


@pytest.fixture
def broker(tmp_path):
    b = Broker(str(tmp_path)).start()
    yield b
    b.stop()
