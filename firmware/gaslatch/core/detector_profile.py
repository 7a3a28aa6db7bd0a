"""Detector profiles: each model's register map, loop-current bands or contacts, kept as JSON data.

Installers add a vendor with one file in profiles/ and no code; this module loads the file (profile_check
checks it) and turns what the wire, the loop or the relay says into one Sample the safety logic can act on.
"""

import json
import math
import os
import struct

from gaslatch.core.constants import (
    CENTI,
    LEL_PCT_VOL,
    MEASURAND_COMBUSTIBLE,
    MEASURAND_UNIT,
    STATUS_CALIBRATION,
    STATUS_END_OF_LIFE,
    STATUS_FAULT,
    STATUS_HIGH_ALARM,
    STATUS_LOW_ALARM,
    STATUS_NORMAL,
    STATUS_OVER_RANGE,
    STATUS_PRE_ALARM,
    STATUS_WARMUP,
)
from gaslatch.core.json_schema_subset import ROOT, Problem
from gaslatch.core.modbus_rtu import MAX_REGISTER
from gaslatch.core.text import N_
from gaslatch.core.profile_check import ProfileError, check_document
from gaslatch.core.profile_schema import (
    KIND_ANALOG,
    KIND_CONTACT,
    KIND_MODBUS,
    READING_FULL_SCALE,
    READING_LINEAR,
    READING_ZERO,
)

PROFILE_SUFFIX = ".json"

# When several rules speak at once the most severe wins. Over-range is gas beyond the sensor's
# range: danger, ranked above every alarm and never mistaken for a fault.
STATUS_PRIORITY = (
    STATUS_OVER_RANGE,
    STATUS_HIGH_ALARM,
    STATUS_LOW_ALARM,
    STATUS_PRE_ALARM,
    STATUS_FAULT,
    STATUS_CALIBRATION,
    STATUS_END_OF_LIFE,
    STATUS_WARMUP,
    STATUS_NORMAL,
)

# How each of profile_schema.UNITS is shown, and which convert to %LEL (mg/m3 and ppb are toxic-gas units).
UNIT_LABELS = {"pct_lel": "%LEL", "pct_vol": "%VOL", "ppm": "ppm", "mg_m3": "mg/m3", "ppb": "ppb"}
CONVERTIBLE_UNITS = ("pct_lel", "pct_vol", "ppm")
# Units a toxic-gas (ppm) reading may come in: each converts to ppm exactly, whatever the gas. %LEL never
# does (it is a fault on a CO or CO2 channel), nor mg/m3 (it depends on the temperature and the gas).
PPM_UNITS = ("ppm", "ppb", "pct_vol")

# Float readings are clamped to what fits a small int on 32-bit MicroPython ports; anything near it is
# physically meaningless, and keeping it a (huge) number lets the safety logic see gas, not silence.
MAX_ABS_CENTI_PCT_LEL = (1 << 30) - 1

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


class Sample:
    """What one complete poll of a detector produced.

    concentration_centi_pct_lel: int or None; status: one of constants.STATUSES; heartbeat: int or
    None; full_scale_centi_pct_lel: int or None; detail: str, why (for an event), "" when normal.
    A CO or CO2 channel's reading is in ppm, never %LEL: concentration_centi_ppm and full_scale_centi_ppm
    (hundredths of ppm), with the %LEL fields None; a combustible-gas sample has the ppm fields None.
    """

    def __init__(self, concentration_centi_pct_lel, status, heartbeat=None, full_scale_centi_pct_lel=None, detail="",
                 concentration_centi_ppm=None, full_scale_centi_ppm=None):
        self.concentration_centi_pct_lel = concentration_centi_pct_lel
        self.status = status
        self.heartbeat = heartbeat
        self.full_scale_centi_pct_lel = full_scale_centi_pct_lel
        self.detail = detail
        self.concentration_centi_ppm = concentration_centi_ppm
        self.full_scale_centi_ppm = full_scale_centi_ppm

    def _fields(self):
        return (
            self.concentration_centi_pct_lel,
            self.status,
            self.heartbeat,
            self.full_scale_centi_pct_lel,
            self.detail,
            self.concentration_centi_ppm,
            self.full_scale_centi_ppm,
        )

    def __eq__(self, other):
        return isinstance(other, Sample) and self._fields() == other._fields()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return ("Sample(%r, %r, heartbeat=%r, full_scale_centi_pct_lel=%r, detail=%r, concentration_centi_ppm=%r, "
                "full_scale_centi_ppm=%r)" % self._fields())


def measured_sample(measurand, concentration, status, heartbeat, full_scale, detail):
    """A Sample whose concentration and full scale (hundredths of the measurand's unit) sit in the fields of
    that unit: %LEL for combustible gas, ppm for CO and CO2."""
    if MEASURAND_UNIT.get(measurand) == "pct_lel":
        return Sample(concentration, status, heartbeat, full_scale, detail)
    return Sample(None, status, heartbeat, None, detail, concentration, full_scale)


class Profile:
    """One validated detector profile; build it with load_profile().

    Common: name, description, kind, notes (list of str), document (the JSON as loaded), measurands (what the
    detector model can measure: constants.MEASURANDS, combustible when the file does not say).
    modbus: reads [(function, address, count)], min_poll_interval_ms, serial {baud, parity,
    stop_bits}, heartbeat_frozen_after_ms (int or None), commissioning (dict, see the docs).
    analog: zero_ua, full_scale_ua, bands [{"upper_ua", "inclusive", "status", "reading", "label"}].
    """

    def __init__(self, name, document, parts):
        self.name = name
        self.document = document
        self.description = parts["description"]
        self.kind = parts["kind"]
        self.notes = parts["notes"]
        self.measurands = parts["measurands"]
        self.reads = parts.get("reads", [])
        self.min_poll_interval_ms = parts.get("min_poll_interval_ms")
        self.serial = parts.get("serial")
        heartbeat = parts.get("heartbeat")
        self.heartbeat_frozen_after_ms = heartbeat["frozen_after_ms"] if heartbeat else None
        self.commissioning = parts.get("commissioning")
        self.zero_ua = parts.get("zero_ua")
        self.full_scale_ua = parts.get("full_scale_ua")
        self.bands = parts.get("bands", [])
        self._heartbeat_register = heartbeat["register"] if heartbeat else None
        self._concentration = parts.get("concentration")
        self._full_scale = parts.get("full_scale")
        self._status_rules = parts.get("status", [])
        self._detail_registers = parts.get("detail_registers", [])
        self._where = parts.get("where", {})
        self._gas_type = parts.get("gas_type")
        self._alarm_contact = parts.get("alarm")
        self._fault_contact = parts.get("fault")

    def __repr__(self):
        return "Profile(%r, kind=%r)" % (self.name, self.kind)

    def _require_kind(self, kind, method):
        if self.kind != kind:
            raise ProfileError(self.name + PROFILE_SUFFIX, [Problem(
                ROOT, N_("is a %(kind)s profile; %(method)s() is for %(wanted)s profiles", kind=self.kind,
                         method=method, wanted=kind),
                N_("use a %(kind)s profile for this detector", kind=kind))])

    def decode(self, blocks, gas, measurand=MEASURAND_COMBUSTIBLE):
        """Register blocks (lists of ints, in the order of reads) -> Sample; gas: 'methane'|'propane'|'lpg'.

        measurand: what the channel measures (constants.MEASURANDS): combustible readings in %LEL, CO and
        CO2 in ppm (never %LEL: a %LEL reading on such a channel is a fault). Never raises on device data:
        a malformed response decodes to a fault Sample. Raises ValueError for a gas or a measurand it does
        not know (a configuration mistake).
        """
        self._require_kind(KIND_MODBUS, "decode")
        lel_centi_pct_vol = lel_centi_pct_vol_for(gas)
        if measurand not in MEASURAND_UNIT:
            raise ValueError("unknown measurand %r" % (measurand,))
        if measurand not in self.measurands:
            # A tool that reads a CO2 sensor as combustible gas (or the reverse) gets a fault, never a conversion.
            return Sample(None, STATUS_FAULT, None, None, "profile %s measures %s, not %s" % (
                self.name, ", ".join(self.measurands), measurand))
        in_ppm = MEASURAND_UNIT[measurand] == "ppm"
        problem = self._blocks_problem(blocks)
        if problem:
            return Sample(None, STATUS_FAULT, None, None, problem)
        found = []
        spec = self._concentration
        concentration, why = self._decode_value(spec, spec["register"], blocks, lel_centi_pct_vol, measurand)
        if why:
            found.append((STATUS_FAULT, why))
        full_scale = None
        if self._full_scale is not None:
            if "register" in self._full_scale:
                full_scale = self._decode_value(spec, self._full_scale["register"], blocks, lel_centi_pct_vol,
                                                measurand)[0]
            elif in_ppm and "ppm" in self._full_scale:
                full_scale = self._full_scale["ppm"] * CENTI
            elif not in_ppm and "pct_lel" in self._full_scale:
                full_scale = self._full_scale["pct_lel"] * CENTI
        for rule in self._status_rules:
            found.append(_apply_rule(rule, self._register(blocks, rule["register"])))
        if self._gas_type is not None:
            reported, code = self._field(self._gas_type, blocks)
            if reported is not None and reported != measurand:
                found.append((STATUS_FAULT, "the device reports gas type code 0x%02X (%s), the channel is configured "
                                            "for %s" % (code, reported, measurand)))
        heartbeat = None
        if self._heartbeat_register is not None:
            heartbeat = self._register(blocks, self._heartbeat_register)
        status, detail = most_severe(found)
        if status != STATUS_NORMAL:
            for extra in self._detail_registers:
                value = self._register(blocks, extra["register"])
                detail = _join_detail(detail, "%s %d" % (extra["name"], value))
        return measured_sample(measurand, concentration, status, heartbeat, full_scale, detail)

    def decode_current(self, current_ua, full_scale_pct_lel, measurand=MEASURAND_COMBUSTIBLE):
        """Loop current in µA (int or float) -> Sample, for a channel whose 20 mA means full_scale_pct_lel.

        For a CO or CO2 channel (measurand) the full scale and the reading are in ppm instead (the argument is
        then the channel's full scale in ppm, e.g. 5000 or 10000). Never raises on the measured current; raises
        ValueError if the full scale (a configuration value, int or float) is not a positive finite number.
        """
        self._require_kind(KIND_ANALOG, "decode_current")
        full_scale = _full_scale_centi_pct_lel(full_scale_pct_lel)
        if isinstance(current_ua, bool) or not isinstance(current_ua, (int, float)):
            return measured_sample(measurand, None, STATUS_FAULT, None, full_scale,
                                   "no loop current measured (%r)" % (current_ua,))
        if isinstance(current_ua, float) and math.isnan(current_ua):
            return measured_sample(measurand, None, STATUS_FAULT, None, full_scale, "loop current is not a number")
        band = self._band_for(current_ua)
        reading = band["reading"]
        if reading == READING_ZERO:
            concentration = 0
        elif reading == READING_FULL_SCALE:
            concentration = full_scale
        elif reading == READING_LINEAR:
            concentration = self._linear(current_ua, full_scale)
        else:
            concentration = None
        detail = "" if band["status"] == STATUS_NORMAL else band["label"]
        return measured_sample(measurand, concentration, band["status"], None, full_scale, detail)

    def decode_contact(self, alarm_active, fault_active=None):
        """Relay inputs of a stand-alone detector -> Sample; fault_active None when no fault contact is wired.

        Both arguments are logical (active = the detector signals), after the input's polarity.
        """
        self._require_kind(KIND_CONTACT, "decode_contact")
        found = []
        if alarm_active:
            found.append((self._alarm_contact["status"], self._alarm_contact["label"]))
        if fault_active:
            found.append((self._fault_contact["status"], self._fault_contact["label"]))
        status, detail = most_severe(found)
        return Sample(None, status, None, None, detail)

    def _blocks_problem(self, blocks):
        if not isinstance(blocks, (list, tuple)):
            return "no register blocks in the response"
        if len(blocks) != len(self.reads):
            return "got %d register blocks, the profile reads %d" % (len(blocks), len(self.reads))
        for index in range(len(blocks)):
            block = blocks[index]
            count = self.reads[index][2]
            if not isinstance(block, (list, tuple)) or len(block) != count:
                return "reads[%d]: expected %d registers" % (index, count)
            for value in block:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_REGISTER:
                    return "reads[%d]: register value %r is not 0..65535" % (index, value)
        return ""

    def _register(self, blocks, address):
        where = self._where[address]
        return blocks[where[0]][where[1]]

    def _field(self, field, blocks):
        """(decoded value or None for an unknown code, raw code or None)."""
        if "fixed" in field:
            return field["fixed"], None
        code = (self._register(blocks, field["register"]) & field["mask"]) >> field["shift"]
        return field["codes"].get(code), code

    def _decode_value(self, spec, address, blocks, lel_centi_pct_vol, measurand=MEASURAND_COMBUSTIBLE):
        """(hundredths of the measurand's unit or None, why it could not be decoded or "")."""
        unit, unit_code = self._field(spec["unit"], blocks)
        if unit is None:
            return None, "unsupported unit code 0x%02X" % unit_code
        if MEASURAND_UNIT[measurand] == "ppm":
            return self._decode_ppm(spec, address, blocks, unit, measurand)
        if unit not in CONVERTIBLE_UNITS:
            return None, "unsupported unit %s (a toxic-gas unit, not a combustible-gas reading)" % UNIT_LABELS[unit]
        if spec["type"] == "float32":
            value, why = self._float32(spec, address, blocks)
            if why:
                return None, why
            return _float_to_centi_pct_lel(value, unit, lel_centi_pct_vol), ""
        raw, decimals, why = self._scaled_int(spec, address, blocks)
        if why:
            return None, why
        return _int_to_centi_pct_lel(raw, decimals, unit, lel_centi_pct_vol), ""

    def _decode_ppm(self, spec, address, blocks, unit, measurand):
        """A CO or CO2 reading: (hundredths of ppm or None, why it could not be decoded or ""). Never %LEL."""
        if unit not in PPM_UNITS:
            return None, "unit %s on a %s channel: a toxic-gas reading must be in ppm, never converted" % (
                UNIT_LABELS[unit], measurand)
        # Hundredths of ppm per raw unit, as a fraction: ppm 100/1, ppb 1/10, %vol 1000000/1.
        numerator = {"ppm": CENTI, "ppb": 1, "pct_vol": 10000 * CENTI}[unit]
        denominator = 10 if unit == "ppb" else 1
        if spec["type"] == "float32":
            value, why = self._float32(spec, address, blocks)
            if why:
                return None, why
            return _clamped_centi(value * numerator / denominator), ""
        raw, decimals, why = self._scaled_int(spec, address, blocks)
        if why:
            return None, why
        return div_round_half_away(raw * numerator, denominator * 10**decimals), ""

    def _scaled_int(self, spec, address, blocks):
        """(raw integer, its decimals, "") of an int reading, or (None, None, why it is no reading)."""
        decimals, decimals_code = self._field(spec["decimals"], blocks)
        if decimals is None:
            return None, None, "unsupported decimals code 0x%02X" % decimals_code
        raw = self._register(blocks, address)
        if spec["signed"] and raw >= 0x8000:
            raw -= 0x10000
        return raw, decimals, ""

    def _float32(self, spec, address, blocks):
        """(the float32 at address, "") or (None, why it is no reading)."""
        first = self._register(blocks, address)
        second = self._register(blocks, address + 1)
        if spec["word_order"] == "little":
            first, second = second, first
        value = struct.unpack(">f", struct.pack(">HH", first, second))[0]
        if math.isnan(value):
            return None, "reading is not a number (float32 NaN)"
        if math.isinf(value):
            return None, "reading is infinite (float32)"
        return value, ""

    def _band_for(self, current_ua):
        for band in self.bands:
            upper = band["upper_ua"]
            if upper is None or current_ua < upper or (band["inclusive"] and current_ua == upper):
                return band
        return self.bands[-1]

    def _linear(self, current_ua, full_scale_centi_pct_lel):
        span_ua = self.full_scale_ua - self.zero_ua
        if isinstance(current_ua, int):
            return div_round_half_away((current_ua - self.zero_ua) * full_scale_centi_pct_lel, span_ua)
        return _clamped_centi((current_ua - self.zero_ua) * full_scale_centi_pct_lel / span_ua)


def _full_scale_centi_pct_lel(full_scale_pct_lel):
    value = full_scale_pct_lel
    finite = isinstance(value, int) or (isinstance(value, float) and not math.isinf(value))
    if isinstance(value, bool) or not finite or not value > 0:
        raise ValueError("full_scale_pct_lel must be a positive number, got %r" % (value,))
    if isinstance(value, int):
        return value * CENTI
    return max(1, round_half_away(value * CENTI))


def lel_centi_pct_vol_for(gas):
    """The gas's LEL in hundredths of %vol (methane 500); raises ValueError for an unknown gas."""
    if gas not in LEL_PCT_VOL:
        raise ValueError("unknown gas %r (known: %s)" % (gas, ", ".join(sorted(LEL_PCT_VOL))))
    return int(round(LEL_PCT_VOL[gas] * CENTI))


def div_round_half_away(numerator, denominator):
    """Integer numerator / positive integer denominator, rounded half away from zero, exactly."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if numerator < 0 else quotient


def round_half_away(value):
    """A finite float rounded half away from zero to an int."""
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    whole = int(whole)
    return -whole if value < 0 else whole


def most_severe(found):
    """[(status, detail)] -> (the most severe status, its details joined by '; '); normal gives ""."""
    for status in STATUS_PRIORITY:
        details = [detail for entry_status, detail in found if entry_status == status and detail]
        if any(entry_status == status for entry_status, _ in found):
            if status == STATUS_NORMAL:
                return STATUS_NORMAL, ""
            return status, "; ".join(details)
    return STATUS_NORMAL, ""


def _join_detail(detail, extra):
    return extra if not detail else detail + "; " + extra


def _int_to_centi_pct_lel(raw, decimals, unit, lel_centi_pct_vol):
    scale = 10**decimals
    if unit == "pct_lel":
        return div_round_half_away(raw * CENTI, scale)
    if unit == "pct_vol":
        # %LEL = %vol / LEL%vol * 100, in hundredths of %LEL with the LEL in hundredths of %vol.
        return div_round_half_away(raw * 1000000, scale * lel_centi_pct_vol)
    # 1 %vol = 10000 ppm.
    return div_round_half_away(raw * CENTI, scale * lel_centi_pct_vol)


def _float_to_centi_pct_lel(value, unit, lel_centi_pct_vol):
    if unit == "pct_lel":
        centi = value * CENTI
    elif unit == "pct_vol":
        centi = value * 1000000 / lel_centi_pct_vol
    else:
        centi = value * CENTI / lel_centi_pct_vol
    return _clamped_centi(centi)


def _clamped_centi(centi):
    """A float in hundredths of %LEL (finite or infinite, never NaN) -> int within MAX_ABS_CENTI_PCT_LEL."""
    if centi > MAX_ABS_CENTI_PCT_LEL:
        return MAX_ABS_CENTI_PCT_LEL
    if centi < -MAX_ABS_CENTI_PCT_LEL:
        return -MAX_ABS_CENTI_PCT_LEL
    return round_half_away(centi)


def _apply_rule(rule, register_value):
    if rule["type"] == "bit":
        if (register_value >> rule["bit"]) & 1:
            return rule["status"], "%s b%d %s" % (rule["name"], rule["bit"], rule["label"])
        return STATUS_NORMAL, ""
    code = (register_value & rule["mask"]) >> rule["shift"]
    entry = rule["codes"].get(code)
    if entry is None:
        status, label = rule["default"], rule["default_label"]
    else:
        status, label = entry
    code_format = "%s 0x%02X %s" if (rule["mask"] >> rule["shift"]) <= 0xFF else "%s 0x%04X %s"
    return status, code_format % (rule["name"], code, label)


# ---------------------------------------------------------------------------------------------
# Loading


def default_directory(module_file=None):
    """The profiles/ folder beside the core package, found from this module's path.

    String operations only: MicroPython has no os.path ('/lib/gaslatch/core/x.py' -> '/lib/gaslatch/profiles').
    """
    parts = (module_file or __file__).replace("\\", "/").split("/")[:-1]
    if parts and parts[-1] not in ("", ".", ".."):
        parts = parts[:-1]
    else:
        parts.append("..")
    if parts == [""]:
        return "/profiles"
    return "/".join(parts + ["profiles"]) if parts else "profiles"


def _file_path(directory, file_name):
    if directory.endswith("/"):
        return directory + file_name
    return directory + "/" + file_name


def list_profiles(directory=None):
    """Sorted names of the profiles in directory (default: the shipped profiles/ folder)."""
    if directory is None:
        directory = default_directory()
    try:
        entries = os.listdir(directory)
    except OSError as exc:
        raise ProfileError(directory, [Problem(ROOT, N_("cannot list profiles (%(error)s)", error=exc),
                                               N_("check that the profiles folder exists and is readable"))])
    names = []
    for entry in entries:
        if entry.endswith(PROFILE_SUFFIX) and _valid_name(entry[: -len(PROFILE_SUFFIX)]):
            names.append(entry[: -len(PROFILE_SUFFIX)])
    return sorted(names)


def _valid_name(name):
    if not isinstance(name, str) or not name:
        return False
    for char in name:
        if char not in _NAME_CHARS:
            return False
    return True


def load_profile(name, directory=None):
    """Reads and validates <directory>/<name>.json -> Profile; raises ProfileError listing every problem."""
    if directory is None:
        directory = default_directory()
    if not _valid_name(name):
        raise ProfileError("%r" % (name,), [Problem(ROOT, N_("not a profile name"),
                                                    N_("a profile name is letters, digits, '-' and '_' only"))])
    source = name + PROFILE_SUFFIX
    try:
        with open(_file_path(directory, source), "rb") as handle:
            data = handle.read()
    except OSError as exc:
        try:
            known = ", ".join(list_profiles(directory)) or "none"
        except ProfileError:
            known = "none"
        raise ProfileError(source, [Problem(ROOT, N_("cannot read it from %(directory)s (%(error)s)",
                                                     directory=directory, error=exc),
                                            N_("profiles there: %(profiles)s", profiles=known))])
    try:
        document = json.loads(data.decode("utf-8"))
    except (ValueError, RuntimeError) as exc:
        raise ProfileError(source, [Problem(ROOT, N_("not valid JSON (%(error)s)", error=exc),
                                            N_("look for a missing or extra comma, quote or bracket"))])
    return profile_from_document(name, document, source)


def profile_from_document(name, document, source=None):
    """Validates an already parsed profile document -> Profile; raises ProfileError listing every problem."""
    parts = check_document(document, source or (str(name) + PROFILE_SUFFIX))
    return Profile(name, document, parts)
