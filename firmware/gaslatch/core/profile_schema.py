"""The detector profile format as data: SCHEMA, a JSON Schema (draft 2020-12 subset) of one profile file.

json_schema_subset.py interprets it (driven by profile_check.py), docs/profile.schema.json publishes it for editors.
"""

from gaslatch.core.constants import MEASURAND_COMBUSTIBLE, MEASURANDS, STATUS_NORMAL, STATUSES
from gaslatch.core.json_schema_subset import DRAFT, one_of_branch
from gaslatch.core.modbus_rtu import (BAUDS, MAX_READ_COUNT, MAX_REGISTER, MAX_SLAVE, MIN_SLAVE, PARITIES,
                                      READ_FUNCTIONS, STOP_BITS)

FORMAT_VERSION = 1

KIND_MODBUS = "modbus"
KIND_ANALOG = "analog"
KIND_CONTACT = "contact"
KINDS = (KIND_MODBUS, KIND_ANALOG, KIND_CONTACT)

# Units a device may report. %LEL, %VOL and ppm convert to %LEL; mg/m3 and ppb are toxic-gas units.
UNITS = ("pct_lel", "pct_vol", "ppm", "mg_m3", "ppb")
MAX_DECIMALS = 4

VALUE_TYPES = ("int", "float32")
WORD_ORDERS = ("big", "little")
RULE_TYPES = ("code", "bit")
MAX_BIT = 15  # a register's bits are 0..15; a shift moves at most that far
MAX_POLL_INTERVAL_MS = 60000
MAX_HEARTBEAT_FROZEN_MS = 3600000
MAX_FIXED_FULL_SCALE_PCT_LEL = 100
# A fixed full scale in ppm, for CO and CO2 channels: at most 10 %vol (CO2 sensors go to 5 or 10 %vol).
MAX_FIXED_FULL_SCALE_PPM = 100000
SPAN_GAS_RAW = "span_gas_raw"

READING_NONE = "none"
READING_ZERO = "zero"
READING_LINEAR = "linear"
READING_FULL_SCALE = "full_scale"
READINGS = (READING_NONE, READING_ZERO, READING_LINEAR, READING_FULL_SCALE)
MAX_LOOP_UA = 100000

# A code or a mask written as text: decimal ("12") or hexadecimal ("0x0C"), at most 6 digits, no sign.
# profile_check.py holds the hand-written checker (no `re` on MicroPython).
CODE_PATTERN = "^(0[xX][0-9a-fA-F]{1,6}|[0-9]{1,6})$"
# A contact or the lowest band of a loop never reads as normal.
NOT_NORMAL = [status for status in STATUSES if status != STATUS_NORMAL]


def _integer(minimum, maximum, description):
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": description}


def _text(description):
    return {"type": "string", "minLength": 1, "description": description}


def _choice(values, description, type_name="string"):
    return {"type": type_name, "enum": list(values), "description": description}


def _object(properties, required, description):
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": properties,
            "description": description}


def _register(description, maximum=MAX_REGISTER):
    return _integer(0, maximum, description + " The 0-based register address (manual 40103 is 102).")


def _status(description, values=STATUSES):
    return _choice(values, description)


MASK = {
    "type": ["integer", "string"],
    "minimum": 1,
    "maximum": MAX_REGISTER,
    "pattern": CODE_PATTERN,
    "description": "Bits of the register that hold the code, e.g. \"0xFF00\" or 65280; default 0xFFFF.",
}
SHIFT = _integer(0, MAX_BIT, "How far the masked bits are shifted right; default 0.")


def _codes(value_schema, description):
    return {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": CODE_PATTERN},
        "additionalProperties": value_schema,
        "description": description + " Codes are decimal (\"12\") or hexadecimal (\"0x0C\") text; a code the mask "
                                     "can never produce is an error.",
    }


def _coded(value_schema, what):
    """What a coded field holds besides its type: a register's masked bits looked up in codes."""
    return {
        "additionalProperties": False,
        "required": ["register", "codes"],
        "properties": {
            "register": _register("The register holding the code."),
            "mask": MASK,
            "shift": SHIFT,
            "codes": _codes(value_schema, "Code -> %s." % what),
        },
    }


UNIT = {
    "type": ["string", "object"],
    "description": "The unit of the reading: one of %s, or a coded field {\"register\", \"mask\", \"shift\", "
                   "\"codes\"}." % ", ".join(UNITS),
    "if": {"type": "string"},
    "then": {"enum": list(UNITS)},
    "else": _coded(_choice(UNITS, "A unit."), "unit"),
}

DECIMALS = {
    "type": ["integer", "object"],
    "minimum": 0,
    "maximum": MAX_DECIMALS,
    "description": "Decimals of the raw integer (2: raw 1234 is 12.34), 0-4, or a coded field.",
}
DECIMALS.update(_coded(_integer(0, MAX_DECIMALS, "Decimals."), "decimals"))

INT_VALUE = _object(
    {
        "type": {"const": "int", "description": "A scaled integer in one register."},
        "register": _register("The register holding the raw integer."),
        "signed": {"type": "boolean", "description": "true: two's complement (0xFFFF is -1); false (default): "
                                                     "0..65535. A signed high reading would turn negative."},
        "decimals": DECIMALS,
        "unit": UNIT,
    },
    ["type", "register", "decimals", "unit"],
    "int: a scaled integer in one register.",
)

FLOAT_VALUE = _object(
    {
        "type": {"const": "float32", "description": "An IEEE-754 float in two registers."},
        "register": _register("The first of the float's two registers.", MAX_REGISTER - 1),
        "word_order": _choice(WORD_ORDERS, "big: the first register holds the high word (ABCD); little: the low "
                                           "word (CDAB)."),
        "unit": UNIT,
    },
    ["type", "register", "word_order", "unit"],
    "float32: an IEEE-754 float in two registers.",
)

CONCENTRATION = {
    "type": "object",
    "description": "How the reading is decoded: type int (a scaled integer) or float32.",
    "oneOf": [INT_VALUE, FLOAT_VALUE],
}

FULL_SCALE = {
    "type": ["object", "null"],
    "description": "{\"register\": N}: read and decoded like the concentration; {\"pct_lel\": N}: fixed, for "
                   "combustible-gas channels; {\"ppm\": N}: fixed, for CO and CO2 channels; null: unknown.",
    "if": {"required": ["pct_lel"]},
    "then": {"additionalProperties": False,
             "properties": {"pct_lel": _integer(1, MAX_FIXED_FULL_SCALE_PCT_LEL, "The fixed full scale in %LEL.")}},
    "else": {
        "if": {"required": ["ppm"]},
        "then": {"additionalProperties": False,
                 "properties": {"ppm": _integer(1, MAX_FIXED_FULL_SCALE_PPM, "The fixed full scale in ppm.")}},
        "else": {"additionalProperties": False, "required": ["register"],
                 "properties": {"register": _register("The register holding the full scale.")}},
    },
}

LABELLED_STATUS = _object(
    {"status": _status("The status of the code."), "label": _text("The code's meaning, for the event's detail.")},
    ["status", "label"],
    "What a code means.",
)

CODE_RULE = _object(
    {
        "type": {"const": "code", "description": "A code in bits of a register, looked up in codes."},
        "name": _text("What the register is, e.g. \"status code\", for the detail."),
        "register": _register("The register holding the code."),
        "mask": MASK,
        "shift": SHIFT,
        "codes": _codes(LABELLED_STATUS, "Code -> {\"status\", \"label\"}."),
        "default": _status("The status of a code not listed; fault if left out (an unknown code is never normal)."),
        "default_label": _text("The label of a code not listed; \"unknown code\" if left out."),
    },
    ["type", "name", "register", "codes"],
    "code: a value in bits of a register, looked up in a table.",
)

BIT_RULE = _object(
    {
        "type": {"const": "bit", "description": "One bit of a register."},
        "name": _text("What the register is, e.g. \"flags\", for the detail."),
        "register": _register("The register holding the bit."),
        "bit": _integer(0, MAX_BIT, "The bit, 0-15."),
        "status": _status("The status while the bit is set."),
        "label": _text("The bit's meaning, for the detail."),
    },
    ["type", "name", "register", "bit", "status", "label"],
    "bit: one bit of a register gives a status while it is set.",
)

READ = _object(
    {
        "function": _choice(READ_FUNCTIONS, "3: holding registers, 4: input registers.", "integer"),
        "address": _register("The first register of the block."),
        "count": _integer(1, MAX_READ_COUNT, "Registers in the block, 1-%d." % MAX_READ_COUNT),
    },
    ["function", "address", "count"],
    "One block of registers read in each poll.",
)

SERIAL = _object(
    {
        "baud": _choice(BAUDS, "The detector's factory line speed.", "integer"),
        "parity": _choice(PARITIES, "N none, E even, O odd."),
        "stop_bits": _choice(STOP_BITS, "1 or 2; always 8 data bits.", "integer"),
    },
    ["baud", "parity", "stop_bits"],
    "The detector's factory serial settings.",
)

HEARTBEAT = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["register", "frozen_after_ms"],
    "properties": {
        "register": _register("The register of a counter the detector increments."),
        "frozen_after_ms": _integer(1, MAX_HEARTBEAT_FROZEN_MS, "A counter unchanged this long is a fault."),
    },
    "description": "A counter the detector increments; null when it has none.",
}

DETAIL_REGISTER = _object(
    {"register": _register("A register added to the detail of a non-normal sample."),
     "name": _text("What it holds, e.g. \"fault/warning code\".")},
    ["register", "name"],
    "A register whose raw value is added to the detail of a non-normal sample.",
)


def _nullable_object(properties, required, description):
    schema = _object(properties, required, description)
    schema["type"] = ["object", "null"]
    return schema


COMMISSIONING = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "address": _nullable_object(
            {"register": _register("Where the new slave address is written."),
             "min": _integer(MIN_SLAVE, MAX_SLAVE, "The lowest address the detector takes (default %d)." % MIN_SLAVE),
             "max": _integer(MIN_SLAVE, MAX_SLAVE, "The highest address the detector takes (default %d)." % MAX_SLAVE)},
            ["register"], "The slave address register."),
        "baud": _nullable_object(
            {"register": _register("Where the code of the new baud rate is written."),
             "codes": _codes(_choice(BAUDS, "A baud rate.", "integer"), "Code -> baud rate.")},
            ["register", "codes"], "The baud rate register."),
        "zero": _nullable_object(
            {"register": _register("The zero calibration register."),
             "write": _integer(0, MAX_REGISTER, "The value that starts zero calibration (clean air).")},
            ["register", "write"], "Zero calibration."),
        "span": _nullable_object(
            {"register": _register("The span calibration register."),
             "write": {"type": ["integer", "string"], "minimum": 0, "maximum": MAX_REGISTER,
                       "if": {"type": "string"}, "then": {"const": SPAN_GAS_RAW},
                       "description": "The value that starts span calibration, or \"%s\": the span gas in the "
                                      "raw scale of the concentration register." % SPAN_GAS_RAW}},
            ["register", "write"], "Span calibration."),
        "identity": {
            "type": "array",
            "items": _object(
                {"function": _choice(READ_FUNCTIONS, "3: holding registers, 4: input registers.", "integer"),
                 "register": _register("The register read."),
                 "mask": MASK,
                 "shift": SHIFT,
                 "one_of": {"type": "array", "minItems": 1,
                            "items": _integer(0, MAX_REGISTER, "A value the field holds on this model."),
                            "description": "The values the field may hold."}},
                ["function", "register", "one_of"],
                "A field that holds one of the values on this detector model."),
            "description": "In a bus scan a device matches this profile when every listed field holds one of its "
                           "values.",
        },
    },
    "description": "Registers the commissioning tools write and read; leave out what the manual does not give.",
}

BAND = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status", "reading", "label"],
    "properties": {
        "below_ua": _integer(0, MAX_LOOP_UA, "The band's upper bound: currents below it, in µA."),
        "at_most_ua": _integer(0, MAX_LOOP_UA, "The band's upper bound: currents at or below it, in µA."),
        "status": _status("The status in this band."),
        "reading": _choice(READINGS, "none, zero, linear (zero_ua to full_scale_ua) or full_scale."),
        "label": _text("What the band means, for the detail."),
    },
    "description": "One band of loop current; every band but the top has one upper bound (below_ua or at_most_ua).",
}

LABELLED_CONTACT = _object(
    {"status": _status("The status while the contact is active (anything but normal).", NOT_NORMAL),
     "label": _text("What the contact means, for the detail.")},
    ["status", "label"],
    "What an active contact means.",
)

COMMON = {
    "format": {"const": FORMAT_VERSION, "description": "%d: the profile format this firmware reads." % FORMAT_VERSION},
    "description": _text("One line naming the detector."),
    "notes": {"type": "array", "items": _text("A note."),
              "description": "Assumptions, things to verify, site advice."},
    "measurands": {"type": "array", "minItems": 1, "uniqueItems": True,
                   "items": _choice(MEASURANDS, "What the detector measures: combustible (%LEL), co or co2 (ppm)."),
                   "description": "What the detector model can measure; a detector configured for another "
                                  "measurand is refused. Default [\"%s\"]." % MEASURAND_COMBUSTIBLE},
}


def _kind(kind, description, properties, required):
    schema = one_of_branch("kind", kind, description, COMMON, properties, ["format", "description"] + list(required))
    schema["description"] = description
    return schema


GAS_TYPE = {
    "type": "object",
    "description": "A coded field naming what the device says it measures, checked against the detector's "
                   "configured measurand: a device that says CO on a combustible-gas channel decodes as a fault. "
                   "Codes not listed name other gases and are not checked.",
}
GAS_TYPE.update(_coded(_choice(MEASURANDS, "A measurand."), "the measurand the device reports"))

MODBUS_PROFILE = _kind(
    KIND_MODBUS,
    "modbus: a detector read over RS-485 Modbus RTU.",
    {
        "serial": SERIAL,
        "min_poll_interval_ms": _integer(0, MAX_POLL_INTERVAL_MS, "Shortest time between two polls of one "
                                                                  "detector (vendor advice), in ms."),
        "reads": {"type": "array", "minItems": 1, "items": READ,
                  "description": "The register blocks read in each poll, in order. Every register the profile "
                                 "decodes lies in exactly one."},
        "concentration": CONCENTRATION,
        "full_scale": FULL_SCALE,
        "status": {"type": "array", "items": {"type": "object", "oneOf": [CODE_RULE, BIT_RULE],
                                              "description": "A status rule: type code or bit."},
                   "description": "Status rules, all evaluated on every poll; the most severe status wins."},
        "heartbeat": HEARTBEAT,
        "detail_registers": {"type": "array", "items": DETAIL_REGISTER,
                             "description": "Registers added to the detail of any non-normal sample."},
        "commissioning": COMMISSIONING,
        "gas_type": GAS_TYPE,
    },
    ["serial", "min_poll_interval_ms", "reads", "concentration", "status"],
)

ANALOG_PROFILE = _kind(
    KIND_ANALOG,
    "analog: a 4-20 mA loop current read in bands.",
    {
        "zero_ua": _integer(0, MAX_LOOP_UA, "The loop current meaning zero gas, in µA (4000)."),
        "full_scale_ua": _integer(0, MAX_LOOP_UA, "The loop current meaning full scale, in µA (20000)."),
        "bands": {"type": "array", "minItems": 1, "items": BAND,
                  "description": "Bands from the lowest current up: the lowest is fault (no current is an open "
                                 "loop), the top over_range (a high current is gas, never a fault)."},
    },
    ["zero_ua", "full_scale_ua", "bands"],
)

CONTACT_PROFILE = _kind(
    KIND_CONTACT,
    "contact: a stand-alone detector's relay contacts.",
    {
        "alarm": LABELLED_CONTACT,
        "fault": LABELLED_CONTACT,
    },
    ["alarm"],
)

SCHEMA = {
    "$schema": DRAFT,
    "title": "gaslatch detector profile",
    "description": "How gaslatch reads one detector model: a Modbus register map, 4-20 mA bands or relay "
                   "contacts (docs/detector-profiles.md). Unknown keys are errors.",
    "type": "object",
    "oneOf": [MODBUS_PROFILE, ANALOG_PROFILE, CONTACT_PROFILE],
}
