"""mosquitto on loopback running deploy/mosquitto/gaslatch.conf, for the tests, the bench and the benchmarks: started,
stopped, crashed and restarted on demand; with TLS, passwords and the deploy ACL where a test asks for them.

gaslatch_tools.broker_config rewrites only its ports, files and who may connect: the production queue limits and
persistence apply, so QoS 1 messages queued for a persistent session survive a restart. Installed by
scripts/test.sh (apt-get install mosquitto); a missing broker is an error, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Protocol

from gaslatch_tools import broker_config as BC
from gaslatch_tools.testing.ports import LOOPBACK, free_port
from gaslatch_tools.testing.waiting import wait_until

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
RELOADED = "Reloading config."  # what mosquitto logs when SIGHUP made it read its files again


class BrokerError(RuntimeError):
    """mosquitto is missing or did not come up; the message says how to fix it."""


class ServerFiles(Protocol):
    """The broker's side of a PKI (gaslatch_tools.testing.pki.Pki)."""

    ca_file: str
    server_cert_file: str
    server_key_file: str


def mosquitto_binary() -> str:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(binary):
        raise BrokerError("mosquitto is not installed: apt-get install mosquitto (scripts/test.sh does it)")
    if not BC.DEPLOY_CONF.exists():
        raise BrokerError("%s is missing: the broker runs the deploy configuration of a source checkout"
                          % BC.DEPLOY_CONF)
    return binary


class Broker:
    """mosquitto on 127.0.0.1 with its own data folder: persistence, its configuration and mosquitto.log.

    directory: its folder (None: a temporary one, removed by close()). port: the loopback listener (None: a
    free one). pki: also the deploy file's TLS listener, with pki's broker certificate; `port` is then the TLS
    listener and `loopback_port` the plain one (without pki both are the plain one). require_certificate: the
    TLS listener demands a client certificate signed by pki's CA (the deploy file does not; the uplink's TLS
    tests do). passwords: {user: password}: only these users may connect. acl: and the deploy ACL applies as it
    is, as on a city's broker (needs passwords). Without passwords anyone connects anonymously and no ACL
    applies: the documented relaxation for tests and benchmarks about delivery rather than access.
    overrides: deploy settings changed for a benchmark that compares values (broker_config.private_config).
    """

    def __init__(self, directory: str | None = None, port: int | None = None, pki: ServerFiles | None = None,
                 passwords: dict[str, str] | None = None, acl: bool = False, require_certificate: bool = True,
                 overrides: dict[str, str] | None = None):
        self.binary = mosquitto_binary()
        self.host = LOOPBACK
        self.loopback_port = port or free_port()
        self.port = self.loopback_port
        self._own_directory = directory is None
        self.directory = directory if directory is not None else tempfile.mkdtemp(prefix="gl-mosquitto-")
        self.config = os.path.join(self.directory, "mosquitto.conf")
        self.log_path = os.path.join(self.directory, "mosquitto.log")
        self.password_file = None
        if passwords:
            self.password_file = BC.write_passwords(os.path.join(self.directory, "passwords"), passwords)
        tls = None
        if pki is not None:
            self.port = free_port()
            tls = BC.TlsFiles(pki.ca_file, pki.server_cert_file, pki.server_key_file, require_certificate)
        text = BC.private_config(self.directory, self.loopback_port, self.port if tls else None, tls,
                                 self.password_file, acl, overrides=overrides)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        self.proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> "Broker":
        """Starts it, or starts it again on the same ports and files after stop() or kill()."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", self.config], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout_s
        while not self._listening():
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError("mosquitto did not listen on port %d within %g s; its log: %s"
                                  % (self.port, timeout_s, self.log_path))
            time.sleep(0.02)  # polling a port that is about to open
        return self

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BrokerError("mosquitto exited with code %s (port %d taken?):\n%s"
                              % (self.proc.returncode, self.port, self.log()))
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
        if self.password_file is None:
            raise BrokerError("this broker lets anyone in: start it with passwords to add a user")
        assert self.proc is not None
        BC.add_password(self.password_file, user, password)
        reloads = self.log().count(RELOADED)
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log().count(RELOADED) > reloads, 10, what="mosquitto reloading its configuration")

    def save(self, wait: bool = True) -> None:
        """Makes mosquitto write its persistence file now (SIGUSR1: the save autosave makes).

        wait: until the new file is in place. Without it, the call returns at once: mosquitto saves in its one
        thread, so the next packet it answers comes after the save (what a benchmark of the stall measures).
        """
        assert self.proc is not None
        path = os.path.join(self.directory, "mosquitto.db")
        before = _inode(path)
        self.proc.send_signal(signal.SIGUSR1)
        if wait:
            wait_until(lambda: _inode(path) not in (None, before), 10, what="mosquitto writing %s" % path)

    def stop(self) -> None:
        """A broker outage: the process ends (it saves its persistence file first)."""
        if self.running:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)

    def kill(self) -> None:
        """A broker crash (SIGKILL): what changed since its last autosave is lost."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)

    def close(self) -> None:
        """Stops it; a folder it made itself is removed (persistence included)."""
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _inode(path: str) -> int | None:
    """The file's inode number: mosquitto writes its persistence file anew and renames it into place."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None
