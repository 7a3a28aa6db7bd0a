"""A Modbus RTU gas detector built from a shipped profile: it encodes exactly what Profile.decode decodes.

On the bench the real controller and the commissioning CLI meet it as they would the device on site:
warm-up, heartbeat, calibration, address and baud changes, and register-level faults on demand.
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable

from gaslatch.core import modbus_rtu as rtu
from gaslatch.core.constants import (LEL_PCT_VOL, MEASURAND_COMBUSTIBLE, MEASURAND_UNIT, STATUS_FAULT, STATUS_NORMAL,
                                    STATUS_OVER_RANGE, STATUS_WARMUP, STATUSES)
from gaslatch.core.detector_profile import CONVERTIBLE_UNITS, STATUS_PRIORITY, load_profile, round_half_away
from gaslatch.core.profile_check import check_document
from gaslatch.core.profile_schema import KIND_MODBUS, SPAN_GAS_RAW
from gaslatch_tools.bench.gas_model import GasModel

# Without a heartbeat_period_s the counter steps this many times within the profile's frozen_after_ms
# (sensepoint-xcl: every 5 s, declared frozen after 20 s).
HEARTBEAT_STEPS_PER_FROZEN = 4
# A fault shows as the profile's sensor-fault code where it has one (cn-generic 0x03), else its first fault.
FAULT_LABEL_HINT = "sensor"
# A span is refused (exception 04) when the sensor shows less than this share of the span gas.
MIN_SPAN_RESPONSE = 0.1
_SEVERITY = {status: -index for index, status in enumerate(STATUS_PRIORITY)}  # higher is more severe


class DetectorFaults:
    """Register-level faults a scenario switches on and off; each shows as the real device would show it.

    stuck_value: the reading stays at the last value reported. warmup: warm-up status (where the
    profile has one) and a zero reading. The properties refuse what the profile cannot show.
    """

    def __init__(self, profile_name: str, statuses: tuple[str, ...], has_heartbeat: bool):
        self._profile_name = profile_name
        self._statuses = statuses
        self._has_heartbeat = has_heartbeat
        self.clear()

    def clear(self) -> None:
        self.stuck_value = False
        self.warmup = False
        self._frozen_heartbeat = False
        self._sensor_fault = False
        self._forced_status: str | None = None
        self._flapping_status: str | None = None
        self.flap_phase = False
        self._modbus_exception: int | None = None

    @property
    def frozen_heartbeat(self) -> bool:
        return self._frozen_heartbeat

    @frozen_heartbeat.setter
    def frozen_heartbeat(self, frozen: bool) -> None:
        if frozen and not self._has_heartbeat:
            raise ValueError("%s has no heartbeat register to freeze" % self._profile_name)
        self._frozen_heartbeat = bool(frozen)

    @property
    def sensor_fault(self) -> bool:
        """The device reports its sensor failed (fault status, reading 0)."""
        return self._sensor_fault

    @sensor_fault.setter
    def sensor_fault(self, failed: bool) -> None:
        if failed and STATUS_FAULT not in self._statuses:
            raise ValueError("%s cannot show a fault status" % self._profile_name)
        self._sensor_fault = bool(failed)

    @property
    def forced_status(self) -> str | None:
        """A status the device reports whatever the gas (its own alarm before the reading rises); None: off."""
        return self._forced_status

    @forced_status.setter
    def forced_status(self, status: str | None) -> None:
        self._forced_status = self._showable(status)

    @property
    def flapping_status(self) -> str | None:
        """A status the device reports on every other read, normal in between (a failing board); None: off."""
        return self._flapping_status

    @flapping_status.setter
    def flapping_status(self, status: str | None) -> None:
        self._flapping_status = self._showable(status)
        self.flap_phase = False

    def _showable(self, status: str | None) -> str | None:
        """status, if the profile can show it (None: off); ValueError naming what it can show."""
        if status is not None and status not in self._statuses:
            raise ValueError("%s cannot show status %r (it can show: %s)"
                             % (self._profile_name, status, ", ".join(self._statuses)))
        return status

    @property
    def modbus_exception(self) -> int | None:
        """Every request to the device gets this exception code; None: off."""
        return self._modbus_exception

    @modbus_exception.setter
    def modbus_exception(self, code: int | None) -> None:
        if code is not None and (isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 0xFF):
            raise ValueError("a Modbus exception code is 1..255, got %r" % (code,))
        self._modbus_exception = code


@dataclass
class Calibration:
    """Zero and span written through the commissioning registers; non-volatile (kept over a power cycle)."""

    zero_pct_lel: float = 0.0  # the sensed gas that reads 0
    gain: float = 1.0
    zero_written: int = 0  # the last value written to the zero register, read back there
    span_written: int = 0


# What an emulated CO or CO2 detector reads at full scale unless told (a 0-10000 ppm NDIR CO2 sensor).
DEFAULT_FULL_SCALE_PPM = 10000


class _ValueCodec:
    """%LEL (ppm for a CO or CO2 detector) to the concentration register(s), in one unit and scale the profile
    offers; a CO or CO2 detector reports ppm, never %LEL."""

    def __init__(
        self, spec: dict, unit: str | None, decimals: int | None, lel_pct_vol: float, full_scale_pct_lel: float,
        in_ppm: bool = False,
    ):
        self.fields: list[tuple[int, int, int]] = []  # (register, mask, value) of coded unit and decimals
        self.float32 = spec["type"] == "float32"
        self.little_endian = spec.get("word_order") == "little"
        self.signed = spec.get("signed", False)
        usable = ("ppm",) if in_ppm else CONVERTIBLE_UNITS
        offered = [name for name in self._offered(spec["unit"]) if name in usable]
        if unit is None:
            unit = "pct_lel" if "pct_lel" in offered else (offered[0] if offered else None)
        if unit not in offered:
            raise ValueError("the profile reports no usable unit %r (offers: %s)" % (unit, ", ".join(offered)))
        self.unit = unit
        self._choose(spec["unit"], unit)
        self.units_per_pct_lel = 1.0 if in_ppm else {
            "pct_lel": 1.0, "pct_vol": lel_pct_vol / 100.0, "ppm": lel_pct_vol * 100.0}[unit]
        self.decimals = 0
        if not self.float32:
            offered_decimals = self._offered(spec["decimals"])
            if decimals is None:
                limit = 0x7FFF if self.signed else 0xFFFF
                fits = [d for d in offered_decimals if full_scale_pct_lel * self.units_per_pct_lel * 10**d <= limit]
                decimals = max(fits) if fits else min(offered_decimals)
            if decimals not in offered_decimals:
                raise ValueError("the profile offers decimals %s, not %r" % (offered_decimals, decimals))
            self.decimals = decimals
            self._choose(spec["decimals"], decimals)

    @staticmethod
    def _offered(field: dict) -> list:
        if "fixed" in field:
            return [field["fixed"]]
        return sorted(set(field["codes"].values()), key=str)

    def _choose(self, field: dict, meaning) -> None:
        if "fixed" not in field:
            code = min(code for code, value in field["codes"].items() if value == meaning)
            self.fields.append((field["register"], field["mask"], code << field["shift"]))

    @property
    def resolution_centi_pct_lel(self) -> float:
        """One step of the raw value in hundredths of %LEL (0.0 for a float)."""
        return 0.0 if self.float32 else 100.0 / (self.units_per_pct_lel * 10**self.decimals)

    def words(self, pct_lel: float) -> list[int]:
        value = pct_lel * self.units_per_pct_lel
        if self.float32:
            high, low = struct.unpack(">HH", struct.pack(">f", value))
            return [low, high] if self.little_endian else [high, low]
        raw = round_half_away(value * 10**self.decimals)
        low, high = (-0x8000, 0x7FFF) if self.signed else (0, 0xFFFF)
        return [min(max(raw, low), high) & 0xFFFF]

    def pct_lel_from_raw(self, raw: int) -> float:
        """A span gas written "in the raw scale of the concentration" (a float profile: whole units)."""
        if self.signed and raw >= 0x8000:
            raw -= 0x10000
        return raw / 10**self.decimals / self.units_per_pct_lel


class _StatusCodec:
    """Register fields showing each status: every rule at its least severe value, plus one rule raised."""

    def __init__(self, rules: list[dict]):
        self.base: list[tuple[int, int, int]] = []
        offers: list[tuple[str, tuple[int, int, int], int]] = []  # (status, field, preference: lower first)
        for rule in rules:
            register = rule["register"]
            if rule["type"] == "bit":
                mask = 1 << rule["bit"]
                self.base.append((register, mask, 0))
                offers.append((rule["status"], (register, mask, mask), _preference(rule["status"], rule["label"])))
                continue
            mask, shift = rule["mask"], rule["shift"]
            codes = rule["codes"]
            choices = [(status, code, _preference(status, label)) for code, (status, label) in sorted(codes.items())]
            unused = next((code for code in range((mask >> shift) + 1) if code not in codes), None)
            if unused is not None:
                choices.append((rule["default"], unused, 2))
            least = min(choices, key=lambda choice: (_SEVERITY[choice[0]], choice[1]))
            self.base.append((register, mask, least[1] << shift))
            offers += [(status, (register, mask, code << shift), rank) for status, code, rank in choices]
        self.raised: dict[str, tuple[int, int, int]] = {}
        for status, field, _ in sorted(offers, key=lambda offer: offer[2]):
            self.raised.setdefault(status, field)

    def fields(self, status: str) -> list[tuple[int, int, int]]:
        raised = self.raised.get(status)
        return self.base + ([raised] if raised and status != STATUS_NORMAL else [])


def _preference(status: str, label: str) -> int:
    return 0 if status == STATUS_FAULT and FAULT_LABEL_HINT in label.lower() else 1


def _put(image: dict[int, int], register: int, mask: int, value: int) -> None:
    image[register] = (image.get(register, 0) & ~mask & 0xFFFF) | (value & mask)


class EmulatedDetector:
    """One detector at `address` answering whole RTU frames; `gas` None is clean air.

    measurand: what it measures (constants.MEASURANDS). A CO or CO2 detector's gas model, full scale and
    readings are in ppm (the `_pct` names then hold ppm) and it reports them in ppm, never %LEL.

    now_s everywhere is scenario time, the same scale as GasModel's t_s: give the bus and the detectors
    one clock. unit and decimals choose among the profile's coded units and scales (default %LEL, the
    most decimals that hold the full scale). Registers: one image; function 04 reads it at the addresses
    the profile reads with 04, function 03 at the rest of the map (commissioning and identity included).
    """

    def __init__(self, profile_name: str, address: int, gas: GasModel | None = None,
                 clock: Callable[[], float] = time.monotonic, baud: int | None = None, parity: str | None = None,
                 stop_bits: int | None = None, warmup_s: float = 0.0, full_scale_pct_lel: float = 100, *,
                 gas_name: str = "methane", unit: str | None = None, decimals: int | None = None,
                 heartbeat_period_s: float | None = None, span_gas_pct_lel: float = 50.0,
                 profile_dir: str | None = None, measurand: str = MEASURAND_COMBUSTIBLE):
        if isinstance(address, bool) or not isinstance(address, int) or not rtu.MIN_SLAVE <= address <= rtu.MAX_SLAVE:
            raise ValueError("address must be %d..%d, got %r" % (rtu.MIN_SLAVE, rtu.MAX_SLAVE, address))
        self.profile = load_profile(profile_name, profile_dir)
        if self.profile.kind != KIND_MODBUS:
            raise ValueError("%s is a %s profile, not a Modbus detector" % (profile_name, self.profile.kind))
        if measurand not in self.profile.measurands:
            raise ValueError("%s measures %s, not %s" % (profile_name, ", ".join(self.profile.measurands), measurand))
        parts = check_document(self.profile.document, profile_name + ".json")
        unit_key = MEASURAND_UNIT[measurand]
        fixed = (parts.get("full_scale") or {}).get(unit_key)
        if fixed is not None and fixed != full_scale_pct_lel:
            message = "%s has a fixed full scale of %d %s, not %r"
            raise ValueError(message % (profile_name, fixed, unit_key, full_scale_pct_lel))
        if gas_name not in LEL_PCT_VOL:
            raise ValueError("unknown gas %r (known: %s)" % (gas_name, ", ".join(sorted(LEL_PCT_VOL))))
        self.address = address
        self.gas = gas
        self.gas_name = gas_name
        self.measurand = measurand
        self.baud = baud or parts["serial"]["baud"]
        self.parity = parity or parts["serial"]["parity"]
        self.stop_bits = stop_bits or parts["serial"]["stop_bits"]
        self.warmup_s = warmup_s
        self.full_scale_pct_lel = full_scale_pct_lel
        self.span_gas_pct_lel = span_gas_pct_lel
        self.calibration = Calibration()
        concentration = parts["concentration"]
        self._codec = _ValueCodec(concentration, unit, decimals, LEL_PCT_VOL[gas_name], full_scale_pct_lel,
                                  in_ppm=unit_key == "ppm")
        self._concentration_register = concentration["register"]
        self._full_scale_register = (parts.get("full_scale") or {}).get("register")
        self._status_codec = _StatusCodec(parts["status"])
        heartbeat = parts.get("heartbeat")
        self._heartbeat_register = heartbeat["register"] if heartbeat else None
        self._heartbeat_period_s = heartbeat_period_s or (
            heartbeat["frozen_after_ms"] / 1000.0 / HEARTBEAT_STEPS_PER_FROZEN if heartbeat else None)
        self._commissioning = parts["commissioning"]
        self._gas_type = parts.get("gas_type")
        self._writable = {self._commissioning[kind]["register"]: kind
                          for kind in ("address", "baud", "zero", "span") if self._commissioning[kind]}
        self._readable = self._readable_registers(parts)
        self._base_image = self._build_base_image()
        self.expressible_statuses = tuple(status for status in STATUSES if self._shows(status))
        self.faults = DetectorFaults(profile_name, self.expressible_statuses, heartbeat is not None)
        self._lock = threading.Lock()
        self.power_cycle(clock())

    @property
    def unit(self) -> str:
        return self._codec.unit

    @property
    def decimals(self) -> int:
        return self._codec.decimals

    @property
    def resolution_centi_pct_lel(self) -> float:
        return self._codec.resolution_centi_pct_lel

    def power_cycle(self, now_s: float) -> None:
        """Power off and on at now_s: warm-up starts again, the heartbeat restarts at 0; calibration stays."""
        with self._lock:
            self._power_on_s = now_s
            self._heartbeat_running_s = 0.0
            self._heartbeat_seen_s = now_s
            self._last_reading_pct: float | None = None
            self._stuck_pct: float | None = None

    def in_warmup(self, now_s: float) -> bool:
        return self.faults.warmup or now_s - self._power_on_s < self.warmup_s

    def registers(self, now_s: float) -> dict[int, int]:
        """The register image at now_s, by address (like a read, it moves the heartbeat and stuck value on)."""
        with self._lock:
            return dict(sorted(self._image(now_s).items()))

    def respond(self, frame: bytes, now_s: float) -> bytes | None:
        """The whole reply frame to a whole request frame, or None where the device stays silent."""
        with self._lock:
            try:
                slave, function, start, quantity = rtu.parse_request(frame)
            except rtu.FrameError as exc:
                if exc.exception_code is None or exc.slave != self.address:
                    return None
                return rtu.build_exception_response(self.address, exc.function, exc.exception_code)
            if slave not in (self.address, rtu.BROADCAST_ADDRESS):
                return None
            broadcast = slave == rtu.BROADCAST_ADDRESS
            forced_code = self.faults.modbus_exception
            if forced_code is not None:
                return None if broadcast else rtu.build_exception_response(slave, function, forced_code)
            if function in rtu.READ_FUNCTIONS:
                code = self._read_problem(function, start, quantity)
                if code:
                    return rtu.build_exception_response(slave, function, code)
                image = self._image(now_s)
                return rtu.build_read_response(slave, function, [image[a] for a in range(start, start + quantity)])
            code = self._write(start, [quantity] if function == rtu.FUNCTION_WRITE_SINGLE else quantity, now_s)
            if broadcast:
                return None
            if code:
                return rtu.build_exception_response(slave, function, code)
            return rtu.build_write_response(frame)

    def _write(self, start: int, values: list[int], now_s: float) -> int:
        """Applies the writes in order up to the first refused; its exception code, or 0.

        The reply is built from the request, so a new address takes effect after it.
        """
        kinds = [self._writable.get(start + offset) for offset in range(len(values))]
        if None in kinds:
            return rtu.ILLEGAL_DATA_ADDRESS
        for kind, value in zip(kinds, values):
            code = self._write_problem(kind, value, now_s)
            if code:
                return code
            self._apply_write(kind, value, now_s)
        return 0

    def _readable_registers(self, parts: dict) -> dict[int, set[int]]:
        readable: dict[int, set[int]] = {rtu.FUNCTION_READ_HOLDING: set(self._writable), rtu.FUNCTION_READ_INPUT: set()}
        for function, first, count in parts["reads"]:
            readable[function].update(range(first, first + count))
        for item in self._commissioning["identity"]:
            readable[item["function"]].add(item["register"])
        return readable

    def _build_base_image(self) -> dict[int, int]:
        image = dict.fromkeys(self._readable[rtu.FUNCTION_READ_HOLDING] | self._readable[rtu.FUNCTION_READ_INPUT], 0)
        for item in self._commissioning["identity"]:
            _put(image, item["register"], item["mask"], item["one_of"][0] << item["shift"])
        for register, mask, value in self._codec.fields:
            _put(image, register, mask, value)
        gas_type = self._gas_type
        if gas_type is not None:  # the device says what it measures: the emulator's own measurand
            codes = [code for code, measurand in gas_type["codes"].items() if measurand == self.measurand]
            _put(image, gas_type["register"], gas_type["mask"], min(codes) << gas_type["shift"])
        return image

    def _shows(self, status: str) -> bool:
        """True if the register image composed for status decodes to it (checked with the real decoder)."""
        image = self._compose(status, 0.0, 0)
        blocks = [[image[register] for register in range(first, first + n)] for _, first, n in self.profile.reads]
        return self.profile.decode(blocks, self.gas_name, self.measurand).status == status

    def _compose(self, status: str, reading_pct: float, heartbeat: int) -> dict[int, int]:
        image = dict(self._base_image)
        for register, mask, value in self._status_codec.fields(status):
            _put(image, register, mask, value)
        for offset, word in enumerate(self._codec.words(reading_pct)):
            image[self._concentration_register + offset] = word
        if self._full_scale_register is not None:
            for offset, word in enumerate(self._codec.words(self.full_scale_pct_lel)):
                image[self._full_scale_register + offset] = word
        if self._heartbeat_register is not None:
            image[self._heartbeat_register] = heartbeat
        for register, kind in self._writable.items():
            image[register] = self._commissioning_value(kind)
        return image

    def _image(self, now_s: float) -> dict[int, int]:
        heartbeat = self._heartbeat(now_s)
        status, reading_pct = self._state(now_s)
        return self._compose(status, reading_pct, heartbeat)

    def _state(self, now_s: float) -> tuple[str, float]:
        """(status the device reports, its reading in %LEL)."""
        if self.in_warmup(now_s):
            return STATUS_WARMUP, 0.0
        if self.faults.sensor_fault:
            return STATUS_FAULT, 0.0
        reading_pct = self._reading_pct(now_s)
        over_range = reading_pct > self.full_scale_pct_lel
        reading_pct = min(reading_pct, self.full_scale_pct_lel)
        if self.faults.forced_status is not None:
            return self.faults.forced_status, reading_pct
        if self.faults.flapping_status is not None:
            self.faults.flap_phase = not self.faults.flap_phase
            if self.faults.flap_phase:
                return self.faults.flapping_status, reading_pct
        return (STATUS_OVER_RANGE if over_range else STATUS_NORMAL), reading_pct

    def _net_pct(self, now_s: float) -> float:
        """Sensed gas less the calibrated zero, %LEL."""
        return (self.gas.sensed_pct(now_s) if self.gas else 0.0) - self.calibration.zero_pct_lel

    def _reading_pct(self, now_s: float) -> float:
        reading_pct = self._net_pct(now_s) * self.calibration.gain
        if not self.faults.stuck_value:
            self._stuck_pct = None
            self._last_reading_pct = reading_pct
            return reading_pct
        if self._stuck_pct is None:
            self._stuck_pct = reading_pct if self._last_reading_pct is None else self._last_reading_pct
        return self._stuck_pct

    def _heartbeat(self, now_s: float) -> int:
        if self._heartbeat_period_s is None:
            return 0
        if now_s > self._heartbeat_seen_s:
            if not self.faults.frozen_heartbeat:
                self._heartbeat_running_s += now_s - self._heartbeat_seen_s
            self._heartbeat_seen_s = now_s
        return int(self._heartbeat_running_s // self._heartbeat_period_s) & 0xFFFF

    def _commissioning_value(self, kind: str) -> int:
        if kind == "address":
            return self.address
        if kind == "baud":
            codes = self._commissioning["baud"]["codes"]
            return min([code for code, baud in codes.items() if baud == self.baud] or [0])
        return self.calibration.zero_written if kind == "zero" else self.calibration.span_written

    def _read_problem(self, function: int, start: int, count: int) -> int:
        readable = self._readable[function]
        if not readable:
            return rtu.ILLEGAL_FUNCTION
        if any(register not in readable for register in range(start, start + count)):
            return rtu.ILLEGAL_DATA_ADDRESS
        return 0

    def _write_problem(self, kind: str, value: int, now_s: float) -> int:
        """The exception code refusing one register write, 0 if it is accepted."""
        spec = self._commissioning[kind]
        if kind == "address":
            return 0 if spec["min"] <= value <= spec["max"] else rtu.ILLEGAL_DATA_VALUE
        if kind == "baud":
            return 0 if value in spec["codes"] else rtu.ILLEGAL_DATA_VALUE
        if spec["write"] != SPAN_GAS_RAW and value != spec["write"]:
            return rtu.ILLEGAL_DATA_VALUE
        span_pct = self._span_pct(value) if kind == "span" else 0.0
        if kind == "span" and span_pct <= 0:
            return rtu.ILLEGAL_DATA_VALUE
        if self.in_warmup(now_s):
            return rtu.SLAVE_DEVICE_BUSY
        if self.faults.sensor_fault or (kind == "span" and self._net_pct(now_s) < MIN_SPAN_RESPONSE * span_pct):
            return rtu.SLAVE_DEVICE_FAILURE
        return 0

    def _span_pct(self, value: int) -> float:
        if self._commissioning["span"]["write"] == SPAN_GAS_RAW:
            return self._codec.pct_lel_from_raw(value)
        return self.span_gas_pct_lel

    def _apply_write(self, kind: str, value: int, now_s: float) -> None:
        if kind == "address":
            self.address = value
        elif kind == "baud":
            self.baud = self._commissioning["baud"]["codes"][value]
        elif kind == "zero":
            self.calibration.zero_pct_lel += self._net_pct(now_s)
            self.calibration.zero_written = value
        else:
            self.calibration.gain = self._span_pct(value) / self._net_pct(now_s)
            self.calibration.span_written = value
