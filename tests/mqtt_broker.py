"""A real mosquitto broker on loopback for tests: started per test, stopped after; can be cut and restored.

Installed by scripts/test.sh (apt-get install mosquitto); a missing broker fails the tests, never skips them.
"""

import os
import shutil
import socket
import subprocess

import pytest

from tests.unit.waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """mosquitto listening on 127.0.0.1:port with persistence, so queued QoS 1 messages survive a restart."""

    def __init__(self, directory: str):
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            raise RuntimeError("mosquitto is not installed: run scripts/test.sh (apt-get install mosquitto)")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.directory = directory
        self.config = os.path.join(directory, "mosquitto.conf")
        with open(self.config, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"
                    "log_dest stderr\n" % (self.port, directory))
        self.proc = None

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([self.binary, "-c", self.config], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(self._listening, 10, what="mosquitto listening on %d" % self.port)
        return self

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError("mosquitto exited with %s" % self.proc.returncode)
        with socket.socket() as sock:
            return sock.connect_ex((self.host, self.port)) == 0

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
