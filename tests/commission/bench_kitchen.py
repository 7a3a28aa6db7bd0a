"""The bench kitchen and the installer's terminal for the commissioning commands' end-to-end tests.
The real `gaslatch run` on emulated detectors and sim GPIO, and the command in a pty, shared by every such test file."""

from __future__ import annotations

import fcntl
import grp
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from typing import Callable, Iterator

from gaslatch.unit.control_client import ControlClient
from gaslatch_tools.bench import scenario as S
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.bench.kitchen_io import KitchenIO
from gaslatch_tools.testing.controller_process import ControllerProcess
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.waiting import wait_until

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78]|\r")



class Terminal:
    """`gaslatch commission ...` on a pty, as an installer's terminal: read what it prints, type answers."""

    def __init__(self, args: list[str], cwd: str, locale: str | None = None):
        """locale: the terminal's LANG (LC_ALL and LC_MESSAGES unset), else the tests' environment."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="160", LINES="50", PYTHONUNBUFFERED="1")
        env.pop("NO_COLOR", None)
        if locale:
            env["LANG"] = locale
            env.pop("LC_ALL", None)
            env.pop("LC_MESSAGES", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "gaslatch_tools.cli", "commission", *args],
                                     stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._pos = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._raw += chunk

    @property
    def text(self) -> str:
        with self._lock:
            return ANSI.sub("", self._raw.decode("utf-8", "replace"))

    def expect(self, needle: str, timeout_s: float = 30.0) -> None:
        """Waits for needle in the output after the previous match."""
        def found() -> int | None:
            index = self.text.find(needle, self._pos)
            return index + 1 if index >= 0 else None
        try:
            index = wait_until(found, timeout_s, 0.02, "%r on the terminal" % needle)
        except AssertionError:
            raise AssertionError("%r not on the terminal; it shows:\n%s" % (needle, self.text[-3000:])) from None
        self._pos = index - 1 + len(needle)

    def type(self, line: str = "") -> None:
        os.write(self.master, (line + "\r").encode())

    def wait(self, timeout_s: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError("the command did not end; it shows:\n%s" % self.text[-3000:]) from None

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._reader.join(5)
        os.close(self.master)


class Kitchen:
    """A real `gaslatch run` against cn-generic detectors on an emulated pty bus and the sim GPIO kitchen.

    Detector hoodN is at address N. The clock `now` is the gas model's time (seconds since the start).
    """

    def __init__(self, workdir: str, names: tuple[str, ...] = ("hood1", "hood2"), controller: dict | None = None,
                 valve_travel_s: float | None = None, measurands: dict[str, str] | None = None):
        self.workdir = workdir
        self.t0 = time.monotonic()
        self._closers: list = []
        link = os.path.join(workdir, "tty-bus1")
        measurands = measurands or {}
        self.bus = DetectorBus(link, range(1, len(names) + 1), clock=self.now,
                               measurands={index + 1: measurands[name] for index, name in enumerate(names)
                                           if name in measurands})
        self._closers.append(self.bus.close)
        self.detectors = {name: self.bus.detectors[index + 1] for index, name in enumerate(names)}
        overrides = dict(controller or {})
        overrides["valve"] = dict({"travel_s": 1}, **overrides.get("valve", {}))  # controller_document merges them in
        scenario = {"name": "commission-bench", "buses": {"bus1": {"baud": 9600, "parity": "N", "stop_bits": 1}},
                    "detectors": {name: {"bus": "bus1", "address": index + 1, "profile": "cn-generic", "config": {},
                                         "measurand": measurands.get(name, "combustible")}
                                  for index, name in enumerate(names)},
                    "controller": overrides}
        self.socket = os.path.join(workdir, "control.sock")
        group = grp.getgrgid(os.getgid()).gr_name
        self.document = S.controller_document(scenario, workdir, {"bus1": link}, self.socket, group)
        self.config = S.controller_config(self.document, "test kitchen")
        self.config_path = os.path.join(workdir, "controller.json")
        with open(self.config_path, "w", encoding="utf-8") as handle:
            json.dump(self.document, handle, indent=2, sort_keys=True)
        self.io = KitchenIO.from_config(self.config, valve_travel_s=valve_travel_s, t0_s=self.t0)
        self.io.start()
        self._closers.append(self.io.close)
        self.controller = ControllerProcess(self.config_path, os.path.join(workdir, "journal.log"))
        self._closers.append(self.controller.close)
        self.controller.start()
        self.controller.wait_ready()
        wait_until(lambda: all(d["state"] == "normal" for d in self.status()["detectors"].values()), 20,
                   0.05, "every detector normal")

    def now(self) -> float:
        return time.monotonic() - self.t0

    def status(self) -> dict:
        with ControlClient(self.socket, timeout_s=5) as client:
            return client.request("status")["status"]

    def apply_gas(self, name: str, pct: float, t90_s: float = 0.0) -> float:
        """Test gas at the detector from now on; returns the gas model's time it was applied."""
        at_s = self.now()
        self.detectors[name].gas = GasModel(0.0).step(at_s, pct).lag(t90_s)
        return at_s

    def remove_gas(self, name: str) -> float:
        at_s = self.now()
        self.detectors[name].gas = None
        return at_s

    def press_reset(self) -> None:
        self.io.press("reset_button", hold_s=0.3)

    def arm(self) -> None:
        """The reset press that opens the valve after power-on, as the bench does before a scenario."""
        self.press_reset()
        wait_until(self.valve_open, 10, 0.02, "the valve open after the reset press")

    def valve_open(self) -> bool:
        return self.io.valve.position >= 1.0

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


def open_terminals() -> Iterator[Callable[..., Terminal]]:
    """A `terminals` fixture's body: yields start(*args, cwd=...) -> Terminal; kills every one still running after."""
    opened: list[Terminal] = []

    def start(*args: str, cwd: str, locale: str | None = None) -> Terminal:
        opened.append(Terminal(list(args), cwd, locale))
        return opened[-1]

    yield start
    for terminal in opened:
        terminal.close()



def last_json(text: str) -> dict:
    """The --json object: the last line of the terminal (prompts and progress went to stderr before it)."""
    return json.loads([line for line in text.splitlines() if line.strip()][-1])
