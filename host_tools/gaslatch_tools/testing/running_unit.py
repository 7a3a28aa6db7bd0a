"""A real `gaslatch run` (ControllerProcess) on kitchen_config(), and the files and socket through which a test plays
the kitchen: the sim GPIO lines, the journal's events, requests on the control socket.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Callable

from gaslatch.unit.gpio_sim import write_line_file
from gaslatch_tools.testing.controller_process import ControllerProcess
from gaslatch_tools.testing.kitchen_config import kitchen_config
from gaslatch_tools.testing.waiting import wait_until

START_TIMEOUT_S = 20


class RunningUnit:
    """A unit with two cn-generic detectors (d1, d2 at addresses 1 and 2) on bus_link, in workdir, at a 50 ms scan."""

    def __init__(self, workdir, bus_link: str, env: dict[str, str] | None = None):
        """env: extra variables for the unit's process (PYTHONPATH to run another copy of the package)."""
        self.tmp = workdir
        self.gpio = workdir / "gpio"
        self.config_path = workdir / "config.json"
        self.socket_path = str(workdir / "control.sock")
        self.store_path = str(workdir / "events.db")
        self.config_path.write_text(json.dumps(kitchen_config(str(workdir), [bus_link])))
        self.controller = ControllerProcess(str(self.config_path), str(workdir / "journal.log"), env)

    @property
    def proc(self) -> subprocess.Popen | None:
        """The latest run's process."""
        return self.controller.process

    @property
    def lines(self) -> list[str]:
        """What the latest run printed: its journal (stdout), then its stderr."""
        if not self.controller.runs:
            return []
        return self.controller.journal_lines(-1) + self.controller.stderr_lines(-1)

    def enable_uplink(self, broker, key: bytes) -> None:
        """Report to `broker` (no TLS), verifying platform commands with `key`."""
        key_file = self.tmp / "uplink.key"
        key_file.write_bytes(key + b"\n")
        key_file.chmod(0o600)  # the unit refuses a key others can read
        self.edit_config(lambda doc: doc.update(uplink={
            "enabled": True, "host": broker.host, "port": broker.port, "tls": False, "hmac_key_file": str(key_file),
            "keepalive_s": 5, "telemetry_s": 5}))  # the shortest: the platform's plots have readings within a test

    def edit_config(self, change: Callable[[dict], object]) -> None:
        """change(config document) edits the config the next start() runs with."""
        doc = json.loads(self.config_path.read_text())
        change(doc)
        self.config_path.write_text(json.dumps(doc))

    def start(self) -> None:
        """Starts a run and waits for its first complete scan (READY=1)."""
        self.controller.start()
        self.controller.wait_ready(START_TIMEOUT_S)

    def line(self, name: str) -> str | None:
        path = self.gpio / name / "value"
        return path.read_text().strip() if path.exists() else None

    def set_input(self, name: str, level: bool) -> None:
        (self.gpio / name).mkdir(parents=True, exist_ok=True)
        write_line_file(str(self.gpio / name / "value"), b"1" if level else b"0")

    def events(self, type_: str | None = None) -> list[str]:
        """The latest run's journal lines of events (of one type)."""
        return [line for line in self.lines
                if " type=" in line and (type_ is None or " type=%s " % type_ in line)]

    def wait_detectors_normal(self) -> None:
        wait_until(lambda: all(d["state"] == "normal"
                               for d in self.request("status")[0]["status"]["detectors"].values()),
                   10, what="every detector normal")

    def press_reset(self) -> str:
        """Hold the button until the controller has answered it, then release; the answer's journal line."""
        before = len(self.events("reset")) + len(self.events("reset_refused"))
        self.set_input("reset_button", True)
        wait_until(lambda: len(self.events("reset")) + len(self.events("reset_refused")) > before, 5,
                   what="the controller to answer the reset button")
        self.set_input("reset_button", False)
        return (self.events("reset") + self.events("reset_refused"))[-1]

    def request(self, cmd: str, args: dict | None = None, replies: int = 1, timeout_s: float = 5) -> list[dict]:
        """The first `replies` replies to one request on the control socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(self.socket_path)
            sock.sendall((json.dumps({"id": 1, "cmd": cmd, "args": args or {}}) + "\n").encode())
            data = b""
            out: list[dict] = []
            while len(out) < replies:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                while b"\n" in data and len(out) < replies:
                    line, data = data.split(b"\n", 1)
                    out.append(json.loads(line))
            return out

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM (a clean stop) or SIGKILL (a power cut) of a run still going."""
        if not self.controller.running:
            return
        if sig == signal.SIGKILL:
            self.controller.power_cut()
        else:
            self.controller.stop()

    def close(self) -> None:
        """Power cut of a run still going; the harness gives its notify socket back."""
        self.stop(signal.SIGKILL)
        self.controller.close()
