"""4-20 mA loop currents from an ADS1115 ADC on a Linux I2C bus (/dev/i2c-N), read by a background thread.

Conversions take milliseconds, so a sampler thread converts AIN0-AIN3 in turn and the scan reads the latest µA.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from typing import Any, Callable, Mapping, Protocol, Sequence

# linux/i2c-dev.h: set the 7-bit slave address for the following read()/write() calls on this fd.
I2C_SLAVE = 0x0703

# Register and bit layout from TI SBAS444E (ADS111x data sheet, rev. Dec 2024), section "Register Map":
# the Address Pointer Register table (P[1:0]) and the "Config Register Field Descriptions" table.
REG_CONVERSION = 0b00  # 16-bit two's complement result, MSB first
REG_CONFIG = 0b01
OS_START_SINGLE = 1 << 15  # write 1: start a single conversion; reads 1 when no conversion is in progress
MUX_SHIFT = 12
MUX_SINGLE_ENDED = {"ain0": 0b100, "ain1": 0b101, "ain2": 0b110, "ain3": 0b111}  # AINP = AINx, AINN = GND
PGA_SHIFT = 9
# PGA[2:0] -> full-scale range in µV (010, ±2.048 V, is the power-on default; 101-111 are all ±0.256 V).
PGA_FULL_SCALE_UV = ((0b101, 256_000), (0b100, 512_000), (0b011, 1_024_000), (0b010, 2_048_000),
                     (0b001, 4_096_000), (0b000, 6_144_000))
MODE_SINGLE_SHOT = 1 << 8
DR_SHIFT = 5
DR_128_SPS = 0b100  # the default data rate: 7.8 ms per conversion
DATA_RATE_SPS = 128
DATA_RATE_TOLERANCE = 1.1  # the data sheet gives the data rate within ±10 %
COMP_QUE_DISABLE = 0b11  # comparator off, ALERT/RDY pin high-impedance (the other comparator bits stay 0)
CODE_FULL_SCALE = 32768  # a code of 32767 means the input is at or above +full scale

CHANNELS = tuple(sorted(MUX_SINGLE_ENDED))
# NAMUR NE43 over-range starts at 21 mA: the range must reach it, so a clipped reading still reads >= 21 mA.
RANGE_TOP_UA = 21_000
STALE_AFTER_PERIODS = 3  # a value older than this many sample periods is no value
CONVERSION_TIMEOUT_FACTOR = 4  # give up on a conversion after 4 nominal conversion times
POLL_INTERVAL_S = 0.0005


class AdcError(Exception):
    """The ADC cannot be used as configured, or a conversion failed; the message says what to check."""


class I2cBus(Protocol):
    """A Linux I2C adapter file: ioctl(I2C_SLAVE, address) then plain reads and writes."""

    def ioctl(self, request: int, arg: int) -> None: ...

    def write(self, data: bytes) -> None: ...

    def read(self, count: int) -> bytes: ...

    def close(self) -> None: ...


class LinuxI2cBus:
    """/dev/i2c-N through os.read/os.write and fcntl.ioctl. Every method raises OSError on failure."""

    def __init__(self, path: str):
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def ioctl(self, request: int, arg: int) -> None:
        fcntl.ioctl(self._fd, request, arg)

    def write(self, data: bytes) -> None:
        if os.write(self._fd, data) != len(data):
            raise OSError(errno.EIO, "short I2C write")

    def read(self, count: int) -> bytes:
        data = os.read(self._fd, count)
        if len(data) != count:
            raise OSError(errno.EIO, "short I2C read (%d of %d bytes)" % (len(data), count))
        return data

    def close(self) -> None:
        os.close(self._fd)


def choose_gain(shunt_ohm: float) -> tuple[int, int]:
    """(PGA bits, full scale in µV) of the smallest range whose largest code reaches 21 mA across the shunt."""
    top_uv = RANGE_TOP_UA * shunt_ohm
    for bits, full_scale_uv in PGA_FULL_SCALE_UV:
        if full_scale_uv * (CODE_FULL_SCALE - 1) >= top_uv * CODE_FULL_SCALE:
            return bits, full_scale_uv
    raise AdcError("analog.shunt_ohm %s turns 21 mA into %.2f V, beyond the ADS1115's largest range (6.144 V); "
                   "use a smaller shunt (150 ohm gives 3.15 V, inside a 3.3 V supply)" % (shunt_ohm, top_uv / 1e6))


def config_word(channel: str, pga_bits: int) -> int:
    """Config register value that starts one single-ended single-shot conversion of channel."""
    return (OS_START_SINGLE | MUX_SINGLE_ENDED[channel] << MUX_SHIFT | pga_bits << PGA_SHIFT | MODE_SINGLE_SHOT
            | DR_128_SPS << DR_SHIFT | COMP_QUE_DISABLE)


def code_to_ua(code: int, full_scale_uv: int, shunt_ohm: float) -> int:
    """Signed conversion code -> loop current in µA (volts / shunt), rounded."""
    return round(code * full_scale_uv / (CODE_FULL_SCALE * shunt_ohm))


def _signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


def explain_os_error(path: str, address: int, error: OSError) -> str:
    """An I2C OSError in the installer's words."""
    where = "ADS1115 at 0x%02X on %s" % (address, path)
    if error.errno == errno.ENOENT:
        hint = "enable I2C (raspi-config, or dtparam=i2c_arm=on in /boot/firmware/config.txt) and check analog.i2c_bus"
    elif error.errno in (errno.EACCES, errno.EPERM):
        hint = "add the service user to the i2c group"
    elif error.errno == errno.EBUSY:
        hint = "a kernel driver owns this address (remove an ads1015/ads1115 dtoverlay) or analog.address is wrong"
    elif error.errno in (errno.ENXIO, errno.EREMOTEIO, errno.EIO):
        hint = "no answer: check the ADC's power, SDA/SCL wiring and ADDR pin (i2cdetect -y N lists the devices)"
    elif error.errno == errno.ENOTTY:
        hint = "this file is not an I2C adapter; check analog.i2c_bus"
    else:
        hint = "check the ADC's wiring and analog settings"
    return "%s: %s; %s" % (where, error, hint)


class Ads1115:
    """Register access and one blocking single-shot conversion. For the sampler thread only."""

    def __init__(self, bus: I2cBus, address: int, shunt_ohm: float, sleep_s: Callable[[float], None] = time.sleep,
                 clock_s: Callable[[], float] = time.monotonic):
        self.bus = bus
        self.shunt_ohm = shunt_ohm
        self.pga_bits, self.full_scale_uv = choose_gain(shunt_ohm)
        self._sleep_s = sleep_s
        self._clock_s = clock_s
        bus.ioctl(I2C_SLAVE, address)

    def read_register(self, register: int) -> int:
        self.bus.write(bytes((register,)))
        return int.from_bytes(self.bus.read(2), "big")

    def write_register(self, register: int, value: int) -> None:
        self.bus.write(bytes((register, value >> 8, value & 0xFF)))

    def convert(self, channel: str) -> int:
        """Signed code of one conversion of channel. Raises OSError (I2C) or AdcError (device misbehaves)."""
        word = config_word(channel, self.pga_bits)
        self.write_register(REG_CONFIG, word)
        conversion_s = DATA_RATE_TOLERANCE / DATA_RATE_SPS
        deadline = self._clock_s() + CONVERSION_TIMEOUT_FACTOR * conversion_s
        self._sleep_s(conversion_s)
        while True:
            status = self.read_register(REG_CONFIG)
            if status & OS_START_SINGLE:
                break
            if self._clock_s() >= deadline:
                raise AdcError("%s: conversion did not finish within %d ms" % (
                    channel, round(CONVERSION_TIMEOUT_FACTOR * conversion_s * 1000)))
            self._sleep_s(POLL_INTERVAL_S)
        if status & ~OS_START_SINGLE != word & ~OS_START_SINGLE:
            # Another device at this address, or the ADC was reset mid-conversion: this code is not channel's.
            raise AdcError("%s: config register reads 0x%04X after writing 0x%04X; is this an ADS1115?" % (
                channel, status, word))
        return _signed16(self.read_register(REG_CONVERSION))

    def read_ua(self, channel: str) -> int:
        return code_to_ua(self.convert(channel), self.full_scale_uv, self.shunt_ohm)


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Ads1115Sampler:
    """Converts each channel every sample_period_ms in its own thread; latest() hands the values to the scan."""

    def __init__(self, i2c_bus: int, address: int, shunt_ohm: float, sample_period_ms: int,
                 channels: Sequence[str] = CHANNELS, open_bus: Callable[[str], I2cBus] = LinuxI2cBus,
                 clock_ms: Callable[[], int] = _monotonic_ms, sleep_s: Callable[[float], None] = time.sleep):
        """Raises AdcError for a channel other than ain0-ain3 or a shunt no range can measure."""
        for channel in channels:
            if channel not in MUX_SINGLE_ENDED:
                raise AdcError("analog channel %r does not exist: the ADS1115's inputs are %s" % (
                    channel, ", ".join(CHANNELS)))
        choose_gain(shunt_ohm)
        self.path = "/dev/i2c-%d" % i2c_bus
        self.address = address
        self.shunt_ohm = shunt_ohm
        self.sample_period_ms = sample_period_ms
        self.channels = tuple(sorted(set(channels)))
        self._open_bus = open_bus
        self._clock_ms = clock_ms
        self._sleep_s = sleep_s
        self._device: Ads1115 | None = None
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[int, int] | None] = {channel: None for channel in self.channels}
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def latest(self) -> dict[str, int | None]:
        """channel -> loop current in µA; None after a failed conversion or when older than 3 sample periods."""
        now_ms = self._clock_ms()
        stale_ms = STALE_AFTER_PERIODS * self.sample_period_ms
        with self._lock:
            entries = dict(self._latest)
        out: dict[str, int | None] = {}
        for channel, entry in entries.items():
            out[channel] = entry[0] if entry is not None and now_ms - entry[1] <= stale_ms else None
        return out

    @property
    def last_error(self) -> str | None:
        """Why the last failed conversion failed (for logs and status); None once a whole round succeeded."""
        with self._lock:
            return self._last_error

    def sample_once(self) -> None:
        """Convert every channel once and publish each result (blocks for the conversions: sampler thread)."""
        errors = []
        for channel in self.channels:
            try:
                value: tuple[int, int] | None = (self._device_or_open().read_ua(channel), self._clock_ms())
            except OSError as error:
                self._drop_device()
                errors.append(explain_os_error(self.path, self.address, error))
                value = None
            except AdcError as error:
                errors.append("ADS1115 at 0x%02X on %s: %s" % (self.address, self.path, error))
                value = None
            with self._lock:
                self._latest[channel] = value
                if errors:
                    self._last_error = errors[-1]
        if not errors:
            with self._lock:
                self._last_error = None

    def _device_or_open(self) -> Ads1115:
        if self._device is None:
            bus = self._open_bus(self.path)
            try:
                self._device = Ads1115(bus, self.address, self.shunt_ohm, self._sleep_s,
                                       lambda: self._clock_ms() / 1000)
            except OSError:
                bus.close()
                raise
        return self._device

    def _drop_device(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.bus.close()
            except OSError:
                pass

    def _run(self) -> None:
        next_ms = self._clock_ms()
        while not self._stop.is_set():
            self.sample_once()
            next_ms += self.sample_period_ms
            now_ms = self._clock_ms()
            if next_ms < now_ms:
                next_ms = now_ms  # overran: start the next round now, without a burst to catch up
            self._stop.wait((next_ms - now_ms) / 1000)

    def start(self) -> None:
        """Start the sampler thread (nothing to do without channels)."""
        if self._thread is None and self.channels:
            self._thread = threading.Thread(target=self._run, name="gaslatch-adc", daemon=True)
            self._thread.start()

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop the thread (it finishes the conversion under way) and close the bus."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._drop_device()


def analog_channels(cfg: Mapping[str, Any]) -> list[str]:
    """The channels the normalised config's analog detectors use."""
    return sorted({det["channel"] for det in cfg["detectors"].values() if det["kind"] == "analog"})


def open_adc(cfg: Mapping[str, Any], open_bus: Callable[[str], I2cBus] = LinuxI2cBus) -> Ads1115Sampler:
    """A started sampler for the channels the config's analog detectors use (none: no thread, no I2C)."""
    analog = cfg["analog"]
    sampler = Ads1115Sampler(analog["i2c_bus"], analog["address"], analog["shunt_ohm"], analog["sample_period_ms"],
                             analog_channels(cfg), open_bus)
    sampler.start()
    return sampler
