"""A mosquitto broker on loopback for the bench and the benchmarks: started, stopped and restarted on demand.

Persistence is on, so QoS 1 messages queued for a persistent session survive a broker restart.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time


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
    return binary


class Broker:
    """mosquitto listening on 127.0.0.1:port (a free one by default), data kept in directory."""

    def __init__(self, directory: str, port: int | None = None):
        self.binary = mosquitto_binary()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.directory = directory
        os.makedirs(directory, 0o700, exist_ok=True)
        self.config = os.path.join(directory, "mosquitto.conf")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"
                    "log_dest none\n" % (self.port, directory))
        self.proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 10.0) -> "Broker":
        self.proc = subprocess.Popen([self.binary, "-c", self.config], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise BrokerError("mosquitto exited with code %s (port %d taken?)" % (self.proc.returncode, self.port))
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
