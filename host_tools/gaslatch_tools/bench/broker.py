"""A mosquitto broker on loopback for the bench and the benchmarks: started, stopped and restarted on demand.

Persistence is on, so QoS 1 messages queued for a persistent session survive a broker restart.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
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


def _broker_directory() -> str:
    """A fresh folder for the broker's config and persistence file, directly under the temp folder.

    Started as root, mosquitto drops to its own user; it must then be able to reach and write this
    folder, or it silently runs without persistence and every persistent session and queued message
    dies with a restart. So the folder belongs to that user (and sits where any user can reach it).
    """
    directory = tempfile.mkdtemp(prefix="gl-mosquitto-")
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("mosquitto")
        except KeyError:
            return directory  # no such user: mosquitto stays root and writes anyway
        os.chown(directory, user.pw_uid, user.pw_gid)
    return directory


class Broker:
    """mosquitto listening on 127.0.0.1:port (a free one by default), with its own data folder."""

    def __init__(self, port: int | None = None):
        self.binary = mosquitto_binary()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.directory = _broker_directory()
        self.config = os.path.join(self.directory, "mosquitto.conf")
        with open(self.config, "w", encoding="utf-8") as f:
            # max_queued_messages 0: no cap (the default 1000 would silently drop a long backlog queued
            # for a receiver that is away).
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"
                    "max_queued_messages 0\nlog_dest none\n" % (self.port, self.directory))
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

    def close(self) -> None:
        """Stop it and remove its folder (persistence included)."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
