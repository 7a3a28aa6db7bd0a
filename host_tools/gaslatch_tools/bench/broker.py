"""A mosquitto broker on loopback for the bench and the benchmarks: started, stopped and restarted on demand.

It runs deploy/mosquitto/gaslatch.conf (gaslatch_tools.broker_config), anonymous clients allowed: the production
queue limits and persistence, so QoS 1 messages queued for a persistent session survive a broker restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from gaslatch_tools import broker_config as BC


class BrokerError(Exception):
    """mosquitto is missing or did not come up; the message says how to fix it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mosquitto_binary() -> str:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(binary):
        raise BrokerError("mosquitto is not installed: apt-get install mosquitto (scripts/test.sh does it)")
    if not BC.DEPLOY_CONF.exists():
        raise BrokerError("%s is missing: the broker runs the deploy configuration of a source checkout"
                          % BC.DEPLOY_CONF)
    return binary


class Broker:
    """mosquitto listening on 127.0.0.1:port (a free one by default), with its own data folder.

    overrides: deploy settings changed for a benchmark that compares values (see broker_config.private_config).
    Its log is <directory>/mosquitto.log.
    """

    def __init__(self, port: int | None = None, overrides: dict[str, str] | None = None):
        self.binary = mosquitto_binary()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.directory = tempfile.mkdtemp(prefix="gl-mosquitto-")
        self.config = os.path.join(self.directory, "mosquitto.conf")
        self.log_path = os.path.join(self.directory, "mosquitto.log")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(BC.private_config(self.directory, self.port, overrides=overrides))
        self.proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 10.0) -> "Broker":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", self.config], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise BrokerError("mosquitto exited with code %s (port %d taken?); its log: %s"
                                  % (self.proc.returncode, self.port, self.log_path))
            with socket.socket() as sock:
                if sock.connect_ex((self.host, self.port)) == 0:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError("mosquitto did not listen on port %d within %g s" % (self.port, timeout_s))
            time.sleep(0.02)  # polling a port that is about to open

    def stop(self) -> None:
        """A broker outage: the process ends; what it persisted stays on disk."""
        if self.running:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        """A broker crash (SIGKILL): what changed since its last autosave is lost."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    def save(self) -> None:
        """Asks mosquitto to write its persistence file now (SIGUSR1); it saves in its one thread, so the next
        packet it answers comes after the save."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)

    def close(self) -> None:
        """Stop it and remove its folder (persistence included)."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
