"""GPIO pins as files, in the shape of Linux sysfs GPIO: SIM_DIR/<line name>/value holds 0 or 1.

The test bench and the tests play the hardware: they write the inputs' files and read the outputs' files.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

from gaslatch.unit.atomic_file import write_atomically
from gaslatch.unit.gpio_lines import GpioError, InputPin, OutputPin

DIR_MODE = 0o750
FILE_MODE = 0o640
VALUE_FILE = "value"
DIRECTION_FILE = "direction"  # "in" or "out", so the bench can tell which files it drives
_READ_LIMIT_BYTES = 16


def parse_value(data: bytes) -> int | None:
    """The level in a value file's bytes: 0 or 1 with optional surrounding whitespace; anything else is None."""
    text = data.strip()
    if text == b"0":
        return 0
    if text == b"1":
        return 1
    return None


def write_line_file(path: str, data: bytes, before_replace: Callable[[], object] | None = None) -> None:
    """A line's file replaced whole, so a reader sees the old level or the new one; not fsynced: the files are
    rewritten at every change and mean nothing after a power cut. before_replace: as write_atomically's."""
    write_atomically(path, data, FILE_MODE, durable=False, before_replace=before_replace)


def _make_dir(path: str) -> None:
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return
    os.chmod(path, DIR_MODE)  # mkdir's mode is reduced by the umask


class SimPins:
    """The sim backend: one directory per logical line under sim_dir; levels are physical (before polarity)."""

    def __init__(self, sim_dir: str):
        self.sim_dir = sim_dir
        self._paths: dict[int, str] = {}
        self._outputs: set[int] = set()

    def claim(self, inputs: Sequence[InputPin], outputs: Sequence[OutputPin]) -> None:
        """Create the tree; write every output's initial level first. Existing input files are left as they are."""
        try:
            parent = os.path.dirname(os.path.abspath(self.sim_dir))
            os.makedirs(parent, exist_ok=True)
            _make_dir(self.sim_dir)
            for pin in outputs:
                self._claim(pin.bcm, pin.name, b"out\n")
                self._outputs.add(pin.bcm)
                write_line_file(self._paths[pin.bcm], b"%d\n" % pin.initial_level)
            for pin in inputs:
                self._claim(pin.bcm, pin.name, b"in\n")
        except OSError as error:
            raise GpioError("cannot set up the simulated GPIO directory %s: %s; set gpio.sim_dir to a directory "
                            "the service user can create and write" % (self.sim_dir, error)) from error

    def _claim(self, bcm: int, name: str, direction: bytes) -> None:
        line_dir = os.path.join(self.sim_dir, name)
        _make_dir(line_dir)
        write_line_file(os.path.join(line_dir, DIRECTION_FILE), direction)
        self._paths[bcm] = os.path.join(line_dir, VALUE_FILE)

    def read(self, bcm: int) -> int | None:
        """A missing, unreadable or garbled value file is None, never a level."""
        try:
            with open(self._paths[bcm], "rb") as handle:
                return parse_value(handle.read(_READ_LIMIT_BYTES))
        except (OSError, KeyError):
            return None

    def write(self, bcm: int, level: int) -> None:
        if bcm not in self._outputs:
            raise GpioError("GPIO%d is not a claimed output" % bcm)
        path = self._paths[bcm]
        try:
            write_line_file(path, b"%d\n" % level)
        except OSError as error:
            raise GpioError("cannot write simulated line %s: %s" % (path, error)) from error

    def release(self) -> None:
        """Nothing to give back: the files keep the last (safe) levels for the bench to see."""
        self._outputs.clear()
