"""The three pin backends: sim files, and the gpiod and RPi.GPIO mappings (offsets, directions, levels, bias)."""

import os
import sys
import threading
import time

import gpiod
import pytest
from gpiod.line import Bias, Direction, Drive, Value
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core.config import load_config
from gaslatch.unit.gpio_gpiod import GpiodPins
from gaslatch.unit.gpio_lines import GpioError, InputPin, Lines, OutputPin, open_lines
from gaslatch.unit.gpio_rpi import RpiPins
from gaslatch.unit.gpio_sim import SimPins, parse_value, write_line_file

LINES = {
    "valve": {"pin": 17, "active": "high"},
    "fault_relay": {"pin": 27, "active": "low"},
    "reset_button": {"pin": 5, "active": "high"},
    "fire_input": {"pin": 6, "active": "low"},
}


def make_cfg(backend, **gpio):
    gpio["backend"] = backend
    return load_config({
        "unit": {"site": "s", "name": "n"},
        "detectors": {"boiler": {"kind": "contact", "line": "fire_input"}},
        "gpio": gpio,
        "lines": LINES,
    })


# ---- sim ----

@given(st.binary(max_size=16))
def test_a_value_file_is_a_level_only_when_it_holds_exactly_0_or_1(data):
    level = parse_value(data)
    if data.strip() in (b"0", b"1"):
        assert level == int(data.strip())
    else:
        assert level is None


@given(st.sampled_from([b"0", b"1"]), st.sampled_from([b"", b"\n", b" ", b"\r\n", b"\t\n"]))
def test_a_value_file_written_by_hand_or_echo_reads_as_its_level(digit, tail):
    assert parse_value(digit + tail) == int(digit)


def test_a_reader_never_sees_a_half_written_value_file(tmp_path):
    path = str(tmp_path / "value")
    write_line_file(path, b"0\n")
    seen = set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            with open(path, "rb") as handle:
                seen.add(handle.read())

    thread = threading.Thread(target=reader)
    thread.start()
    deadline = time.monotonic() + 5
    writes = 0
    try:
        while writes < 3000 and time.monotonic() < deadline:
            write_line_file(path, b"%d\n" % (writes % 2))
            writes += 1
    finally:
        stop.set()
        thread.join()
    assert seen <= {b"0\n", b"1\n"}
    assert writes >= 100
    assert not [name for name in os.listdir(tmp_path) if name != "value"]  # no temporary files left behind


def test_sim_pins_keep_outputs_and_inputs_apart(tmp_path):
    pins = SimPins(str(tmp_path / "gpio"))
    pins.claim([InputPin(5, "reset_button", "down")], [OutputPin(17, "valve", 0)])
    with pytest.raises(GpioError):
        pins.write(5, 1)
    assert pins.read(17) == 0
    assert pins.read(5) is None
    assert pins.read(99) is None


# ---- gpiod: the mapping, checked at the request_lines boundary with the real package's settings ----

class FakeRequest:
    """Stands in for gpiod.LineRequest: the levels the kernel would hold."""

    def __init__(self, config):
        self.values = {offset: settings.output_value for offset, settings in config.items()}
        self.released = False
        self.fail = False

    def get_value(self, offset):
        if self.fail:
            raise OSError(5, "Input/output error")
        return self.values[offset]

    def set_value(self, offset, value):
        if self.fail:
            raise OSError(5, "Input/output error")
        self.values[offset] = value

    def release(self):
        self.released = True


class FakeRequestLines:
    def __init__(self, error=None):
        self.calls = []
        self.request = None
        self.error = error

    def __call__(self, path, config, consumer=None):
        self.calls.append((path, config, consumer))
        if self.error is not None:
            raise self.error
        self.request = FakeRequest(config)
        return self.request


def gpiod_lines(request_lines, chip="/dev/gpiochip0"):
    return Lines(make_cfg("gpiod", chip=chip), GpiodPins(chip, request_lines))


def test_gpiod_requests_every_line_at_once_by_bcm_offset_with_outputs_safe_from_the_start():
    fake = FakeRequestLines()
    gpiod_lines(fake, "/dev/gpiochip4")
    [(path, config, consumer)] = fake.calls
    assert path == "/dev/gpiochip4"
    assert consumer == "gaslatch"
    assert sorted(config) == [5, 6, 17, 27]
    assert config[17].direction == Direction.OUTPUT
    assert config[17].output_value == Value.INACTIVE  # valve, active high: de-energised is low
    assert config[27].direction == Direction.OUTPUT
    assert config[27].output_value == Value.ACTIVE  # fault relay, active low: de-energised is high
    assert config[17].drive == config[27].drive == Drive.PUSH_PULL
    for offset in (5, 6):
        assert config[offset].direction == Direction.INPUT
        assert config[offset].bias == Bias.PULL_DOWN  # an open circuit reads low on every input
    assert all(settings.active_low is False for settings in config.values())  # Lines applies polarity


def test_gpiod_reads_and_writes_physical_levels_that_lines_turn_logical():
    fake = FakeRequestLines()
    lines = gpiod_lines(fake)
    fake.request.values[5] = Value.ACTIVE
    fake.request.values[6] = Value.INACTIVE
    assert lines.read_inputs(0) == {"reset_button": True, "fire_input": True}
    lines.write_outputs({"valve": True, "fault_relay": True})
    assert fake.request.values[17] == Value.ACTIVE
    assert fake.request.values[27] == Value.INACTIVE


def test_gpiod_read_error_is_unreadable_and_write_error_is_a_gpio_error():
    fake = FakeRequestLines()
    lines = gpiod_lines(fake)
    fake.request.fail = True
    assert lines.read_inputs(0) == {"reset_button": None, "fire_input": None}
    with pytest.raises(GpioError, match="GPIO17"):
        lines.write_outputs({"valve": True})


def test_gpiod_close_drives_safe_levels_then_releases_the_request():
    fake = FakeRequestLines()
    lines = gpiod_lines(fake)
    lines.write_outputs({"valve": True, "fault_relay": True})
    lines.close()
    assert fake.request.values[17] == Value.INACTIVE
    assert fake.request.values[27] == Value.ACTIVE
    assert fake.request.released


@pytest.mark.parametrize("error, hint", [
    (PermissionError(13, "Permission denied"), "gpio group"),
    (OSError(16, "Device or resource busy"), "gpioinfo"),
    (OSError(22, "Invalid argument"), "pin numbers"),
])
def test_gpiod_claim_errors_tell_the_installer_what_to_do(error, hint):
    with pytest.raises(GpioError, match=hint):
        gpiod_lines(FakeRequestLines(error))


def test_gpiod_with_no_such_chip_names_the_chip_and_gpiodetect(tmp_path):
    chip = str(tmp_path / "gpiochip9")
    with pytest.raises(GpioError, match="gpiochip9.*gpiodetect"):
        open_lines(make_cfg("gpiod", chip=chip))


def test_gpiod_on_a_file_that_is_not_a_gpio_chip_is_a_gpio_error(tmp_path):
    not_a_chip = tmp_path / "gpiochip0"
    not_a_chip.write_bytes(b"")
    with pytest.raises(GpioError, match="cannot claim GPIO lines"):
        open_lines(make_cfg("gpiod", chip=str(not_a_chip)))


def test_without_the_gpiod_package_the_error_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiod", None)
    with pytest.raises(GpioError, match="pip install 'gpiod>=2.2'"):
        GpiodPins("/dev/gpiochip0")


def test_the_libgpiod_v1_bindings_are_refused_with_the_v2_package_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiod", type(sys)("gpiod"))  # v1: no request_lines
    with pytest.raises(GpioError, match="v1 API.*gpiod>=2.2"):
        GpiodPins("/dev/gpiochip0")


def test_the_real_gpiod_package_is_the_v2_api():
    assert hasattr(gpiod, "request_lines")


# ---- RPi.GPIO: the mapping, checked with a stand-in module ----

class FakeRpiGpio:
    """The part of RPi.GPIO the backend uses, with the library's constant values."""

    BCM, BOARD = 11, 10
    OUT, IN = 0, 1
    LOW, HIGH = 0, 1
    PUD_OFF, PUD_DOWN, PUD_UP = 20, 21, 22

    def __init__(self):
        self.calls = []
        self.levels = {}
        self.fail = False

    def setwarnings(self, flag):
        self.calls.append(("setwarnings", flag))

    def setmode(self, mode):
        self.calls.append(("setmode", mode))

    def setup(self, channel, direction, pull_up_down=None, initial=None):
        self.calls.append(("setup", channel, direction, pull_up_down, initial))
        if direction == self.OUT:
            self.levels[channel] = initial

    def input(self, channel):
        if self.fail:
            raise RuntimeError("You must setup() the GPIO channel first")
        return self.levels.get(channel, 0)

    def output(self, channel, level):
        if self.fail:
            raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
        self.calls.append(("output", channel, level))
        self.levels[channel] = level

    def cleanup(self, channels=None):
        self.calls.append(("cleanup", channels))


def rpi_lines(fake):
    return Lines(make_cfg("rpi"), RpiPins(fake))


def test_rpi_uses_bcm_numbers_and_sets_up_outputs_safe_before_any_input():
    fake = FakeRpiGpio()
    rpi_lines(fake)
    assert fake.calls == [
        ("setwarnings", False),
        ("setmode", FakeRpiGpio.BCM),
        ("setup", 27, FakeRpiGpio.OUT, None, FakeRpiGpio.HIGH),  # fault relay, active low: off is high
        ("setup", 17, FakeRpiGpio.OUT, None, FakeRpiGpio.LOW),  # valve, active high: off is low
        ("setup", 6, FakeRpiGpio.IN, FakeRpiGpio.PUD_DOWN, None),
        ("setup", 5, FakeRpiGpio.IN, FakeRpiGpio.PUD_DOWN, None),
    ]


def test_rpi_reads_and_writes_with_polarity_and_a_failed_read_is_unreadable():
    fake = FakeRpiGpio()
    lines = rpi_lines(fake)
    fake.levels[5] = 1
    fake.levels[6] = 1
    assert lines.read_inputs(0) == {"reset_button": True, "fire_input": False}
    lines.write_outputs({"valve": True})
    assert fake.levels[17] == FakeRpiGpio.HIGH
    fake.fail = True
    assert lines.read_inputs(1) == {"reset_button": None, "fire_input": None}
    with pytest.raises(GpioError, match="GPIO27"):
        lines.write_outputs({"fault_relay": True})


def test_rpi_close_leaves_outputs_driven_safe_and_cleans_up_only_inputs():
    fake = FakeRpiGpio()
    lines = rpi_lines(fake)
    lines.write_outputs({"valve": True, "fault_relay": True})
    lines.close()
    assert fake.levels[17] == FakeRpiGpio.LOW
    assert fake.levels[27] == FakeRpiGpio.HIGH
    assert fake.calls[-1] == ("cleanup", [6, 5])


def test_without_rpi_gpio_the_error_names_the_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "RPi", None)
    with pytest.raises(GpioError, match="RPi.GPIO.*rpi-lgpio"):
        open_lines(make_cfg("rpi"))


def test_rpi_gpio_refusing_to_run_off_a_pi_is_a_gpio_error(tmp_path, monkeypatch):
    package = tmp_path / "RPi"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "GPIO.py").write_text("raise RuntimeError('This module can only be run on a Raspberry Pi!')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "RPi", raising=False)
    monkeypatch.delitem(sys.modules, "RPi.GPIO", raising=False)
    try:
        with pytest.raises(GpioError, match="only be run on a Raspberry Pi.*gpio group"):
            open_lines(make_cfg("rpi"))
    finally:
        sys.modules.pop("RPi.GPIO", None)
        sys.modules.pop("RPi", None)
