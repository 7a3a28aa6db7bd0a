"""The kitchen panel for tests and benchmarks: `gaslatch-unit panel` as its own process against a running unit's
control socket, its PINs set (operator 1111, maintenance 2222, installer 3333), and a running unit with it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx

from gaslatch.panel import pins as P
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.ports import free_port
from gaslatch_tools.testing.running_unit import RunningUnit
from gaslatch_tools.testing.waiting import wait_until

PINS = {"operator": "1111", "maintenance": "2222", "installer": "3333"}


class Panel:
    """`gaslatch-unit panel` as its own process against a unit's control socket."""

    def __init__(self, tmp_path, unit: RunningUnit):
        self.pins_path = str(tmp_path / "panel-pins.json")
        pin_file = P.PinFile(self.pins_path)
        for level, pin in PINS.items():
            pin_file.set(level, pin)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gaslatch.unit", "panel", "--socket", unit.socket_path, "--group", "root",
             "--listen", "127.0.0.1:%d" % self.port, "--pins", self.pins_path,
             "--state-dir", str(tmp_path / "panel-state"), "--record", str(tmp_path / "commissioning.json")],
            stderr=subprocess.PIPE)
        self.record_path = tmp_path / "commissioning.json"  # none until a test writes one
        wait_until(lambda: self._up(), 20, what="the panel serving")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError("the panel exited: %s" % self.proc.stderr.read().decode(errors="replace"))
        try:
            return httpx.get(self.url + "/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@contextlib.contextmanager
def kitchen_with_panel(workdir, prepare: Callable[[RunningUnit], object] | None = None,
                       before_panel: Callable[[RunningUnit], object] | None = None
                       ) -> Iterator[tuple[DetectorBus, RunningUnit, Panel]]:
    """(bus, unit, panel): a running unit on two emulated detectors, reading normal, with its panel; prepare(unit)
    before its start (its config, an uplink), before_panel(unit) once it reads normal, before the panel starts."""
    bus = DetectorBus(str(workdir / "ttyBUS1"), [1, 2])
    unit = RunningUnit(workdir, bus.link)
    unit.set_input("reset_button", False)
    if prepare is not None:
        prepare(unit)
    panel = None
    try:
        unit.start()
        unit.wait_detectors_normal()
        if before_panel is not None:
            before_panel(unit)
        panel = Panel(workdir, unit)
        yield bus, unit, panel
    finally:
        if panel is not None:
            panel.stop()
        unit.stop(signal.SIGTERM)
        unit.close()
        bus.close()
