"""What a valid detector profile document is: the format's vocabulary and limits, and the checker.

A bad profile is refused whole before anything decodes with it, every problem listed with its JSON path.
"""

from gaslatch.core.constants import STATUS_FAULT, STATUS_NORMAL, STATUS_OVER_RANGE, STATUSES
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
MAX_POLL_INTERVAL_MS = 60000
MAX_HEARTBEAT_FROZEN_MS = 3600000
MAX_FIXED_FULL_SCALE_PCT_LEL = 100
SPAN_GAS_RAW = "span_gas_raw"

READING_NONE = "none"
READING_ZERO = "zero"
READING_LINEAR = "linear"
READING_FULL_SCALE = "full_scale"
READINGS = (READING_NONE, READING_ZERO, READING_LINEAR, READING_FULL_SCALE)
MAX_LOOP_UA = 100000

_COMMON_REQUIRED = ("format", "kind", "description")
_COMMON_OPTIONAL = ("notes",)
_KIND_REQUIRED = {
    KIND_MODBUS: ("serial", "min_poll_interval_ms", "reads", "concentration", "status"),
    KIND_ANALOG: ("zero_ua", "full_scale_ua", "bands"),
    KIND_CONTACT: ("alarm",),
}
_KIND_OPTIONAL = {
    KIND_MODBUS: ("full_scale", "heartbeat", "detail_registers", "commissioning"),
    KIND_ANALOG: (),
    KIND_CONTACT: ("fault",),
}
_BAUD_MESSAGE = "must be one of " + ", ".join([str(baud) for baud in BAUDS])
_FUNCTION_MESSAGE = "must be 3 (holding registers) or 4 (input registers)"
_HEX_DIGITS = "0123456789abcdefABCDEF"


class ProfileError(Exception):
    """A profile cannot be used; .problems lists each as 'file: json.path: what is wrong'."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def check_document(document, source):
    """A parsed profile document -> its checked parts (dict) for Profile; raises ProfileError listing every problem.

    source: the file name the problems start with ('cn-generic.json').
    """
    checker = _Checker(source)
    parts = _check_root(checker, document)
    if checker.problems:
        raise ProfileError(checker.problems)
    return parts


class _Checker:
    """Collects every problem with its JSON path, so an installer fixes a file in one pass."""

    def __init__(self, source):
        self.source = source
        self.problems = []

    def fail(self, path, message):
        self.problems.append("%s: %s: %s" % (self.source, path or "(top level)", message))

    def keys(self, value, path, required, optional):
        """True if value is an object; reports missing and unknown keys."""
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return False
        for key in required:
            if key not in value:
                self.fail(_key_path(path, key), "is required")
        allowed = tuple(required) + tuple(optional)
        for key in sorted([key for key in value if key not in allowed], key=str):
            self.fail(_key_path(path, str(key)), "unknown key (allowed: %s)" % ", ".join(sorted(allowed)))
        return True

    def integer(self, value, path, low, high):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be an integer")
            return None
        if value < low or value > high:
            self.fail(path, "must be %d..%d" % (low, high))
            return None
        return value

    def member_int(self, value, path, key, low, high):
        """value[key] checked as integer(), or None (reported elsewhere as missing) when absent."""
        return self.integer(value[key], _key_path(path, key), low, high) if key in value else None

    def member_text(self, value, path, key, choices=None):
        """value[key] checked as text(), or None when absent."""
        return self.text(value[key], _key_path(path, key), choices) if key in value else None

    def choice(self, value, path, choices, message):
        """An integer from choices (not a float or a bool that compares equal)."""
        if not _is_int(value) or value not in choices:
            self.fail(path, message)
            return None
        return value

    def boolean(self, value, path):
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return None
        return value

    def text(self, value, path, choices=None):
        if not isinstance(value, str) or not value:
            self.fail(path, "must be a non-empty string")
            return None
        if choices is not None and value not in choices:
            self.fail(path, "must be one of %s" % ", ".join(choices))
            return None
        return value

    def items(self, value, path, allow_empty=True):
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return None
        if not allow_empty and not value:
            self.fail(path, "must not be empty")
            return None
        return value

    def mask(self, value, path):
        """An int or a "0x..." string, 1..0xFFFF."""
        if isinstance(value, str):
            parsed = _parse_code(value)
            if parsed is None:
                self.fail(path, "must be an integer or a hex string like \"0xFF00\"")
                return None
            value = parsed
        return self.integer(value, path, 1, MAX_REGISTER)

    def codes(self, value, path, max_code, check_value):
        """An object of code ("12" or "0x0C") -> check_value(value, path); returns {int: checked}."""
        if not isinstance(value, dict):
            self.fail(path, "must be an object of code -> meaning")
            return None
        if not value:
            self.fail(path, "must not be empty")
            return None
        result = {}
        for key in sorted(value, key=str):
            key_path = _key_path(path, str(key))
            code = _parse_code(key) if isinstance(key, str) else None
            if code is None:
                self.fail(key_path, "a code is a decimal (\"12\") or hex (\"0x0C\") string")
                continue
            if max_code is not None and code > max_code:
                self.fail(key_path, "code %d can never occur: the field holds 0..%d" % (code, max_code))
                continue
            if code in result:
                self.fail(key_path, "code %d is listed twice" % code)
                continue
            checked = check_value(value[key], key_path)
            if checked is not None:
                result[code] = checked
        return result


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _key_path(path, key):
    return key if not path else path + "." + key


def _index_path(path, index):
    return "%s[%d]" % (path, index)


def _parse_code(text):
    """'12' -> 12, '0x0C' -> 12, anything else -> None (no signs, spaces or underscores)."""
    if text[:2] in ("0x", "0X"):
        digits, base, allowed = text[2:], 16, _HEX_DIGITS
    else:
        digits, base, allowed = text, 10, "0123456789"
    if not digits or len(digits) > 6:
        return None
    for char in digits:
        if char not in allowed:
            return None
    return int(digits, base)


def _check_root(c, doc):
    parts = {"description": None, "kind": None, "notes": []}
    if not isinstance(doc, dict):
        c.fail("", "a profile must be a JSON object")
        return parts
    kind = doc.get("kind")
    if "kind" not in doc:
        c.fail("kind", "is required")
        kind = None
    elif c.text(kind, "kind", KINDS) is None:
        kind = None
    if kind is None:
        c.keys(doc, "", ("format", "description"), ("kind",) + _COMMON_OPTIONAL + _all_kind_keys())
    else:
        c.keys(doc, "", _COMMON_REQUIRED + _KIND_REQUIRED[kind], _COMMON_OPTIONAL + _KIND_OPTIONAL[kind])
    parts["kind"] = kind
    if "format" in doc:
        if not _is_int(doc["format"]) or doc["format"] != FORMAT_VERSION:
            c.fail("format", "must be %d (this firmware reads profile format %d)" % (FORMAT_VERSION, FORMAT_VERSION))
    if "description" in doc:
        parts["description"] = c.text(doc["description"], "description")
    if "notes" in doc:
        notes = c.items(doc["notes"], "notes")
        if notes is not None:
            for index in range(len(notes)):
                c.text(notes[index], _index_path("notes", index))
            parts["notes"] = [note for note in notes if isinstance(note, str)]
    if kind == KIND_MODBUS:
        _check_modbus(c, doc, parts)
    elif kind == KIND_ANALOG:
        _check_analog(c, doc, parts)
    elif kind == KIND_CONTACT:
        _check_contact(c, doc, parts)
    return parts


def _all_kind_keys():
    keys = []
    for kind in KINDS:
        keys.extend(_KIND_REQUIRED[kind])
        keys.extend(_KIND_OPTIONAL[kind])
    return tuple(keys)


def _check_status(c, value, path, allow_normal=True):
    choices = STATUSES if allow_normal else tuple(s for s in STATUSES if s != STATUS_NORMAL)
    return c.text(value, path, choices)


def _check_modbus(c, doc, parts):
    references = []  # (json path, first register, number of registers)
    if "serial" in doc:
        parts["serial"] = _check_serial(c, doc["serial"], "serial")
    parts["min_poll_interval_ms"] = c.member_int(doc, "", "min_poll_interval_ms", 0, MAX_POLL_INTERVAL_MS)
    reads = _check_reads(c, doc["reads"], "reads") if "reads" in doc else None
    parts["reads"] = reads or []
    concentration = None
    if "concentration" in doc:
        concentration = _check_value(c, doc["concentration"], "concentration", references)
        parts["concentration"] = concentration
    if doc.get("full_scale") is not None:
        parts["full_scale"] = _check_full_scale(c, doc["full_scale"], "full_scale", concentration, references)
    if "status" in doc:
        parts["status"] = _check_rules(c, doc["status"], "status", references)
    if doc.get("heartbeat") is not None:
        parts["heartbeat"] = _check_heartbeat(c, doc["heartbeat"], "heartbeat", references)
    if "detail_registers" in doc:
        parts["detail_registers"] = _check_detail_registers(c, doc["detail_registers"], "detail_registers", references)
    parts["commissioning"] = _check_commissioning(c, doc.get("commissioning"), "commissioning")
    if reads is not None:
        parts["where"] = _resolve(c, reads, references)


def _check_serial(c, value, path):
    if not c.keys(value, path, ("baud", "parity", "stop_bits"), ()):
        return None
    serial = {}
    if "baud" in value:
        serial["baud"] = c.choice(value["baud"], _key_path(path, "baud"), BAUDS, _BAUD_MESSAGE)
    if "parity" in value:
        serial["parity"] = c.text(value["parity"], _key_path(path, "parity"), PARITIES)
    if "stop_bits" in value:
        serial["stop_bits"] = c.choice(value["stop_bits"], _key_path(path, "stop_bits"), STOP_BITS, "must be 1 or 2")
    return serial


def _check_reads(c, value, path):
    reads = c.items(value, path, allow_empty=False)
    if reads is None:
        return None
    result = []
    for index in range(len(reads)):
        item_path = _index_path(path, index)
        item = reads[index]
        if not c.keys(item, item_path, ("function", "address", "count"), ()):
            continue
        function = None
        if "function" in item:
            function = c.choice(item["function"], _key_path(item_path, "function"), READ_FUNCTIONS, _FUNCTION_MESSAGE)
        address = c.member_int(item, item_path, "address", 0, MAX_REGISTER)
        count = c.member_int(item, item_path, "count", 1, MAX_READ_COUNT)
        if address is not None and count is not None and address + count - 1 > MAX_REGISTER:
            c.fail(item_path, "reads past register 65535")
            count = None
        if function is not None and address is not None and count is not None:
            result.append((function, address, count))
        else:
            result.append(None)
    return result


def _member_register(c, value, path, references, width=1):
    if "register" not in value:
        return None
    return _check_register(c, value["register"], _key_path(path, "register"), references, width)


def _check_register(c, value, path, references, width=1):
    register = c.integer(value, path, 0, MAX_REGISTER - width + 1)
    if register is not None and references is not None:
        references.append((path, register, width))
    return register


def _check_field(c, value, path, references, check_code_value, fixed_check):
    """A value given either fixed (fixed_check) or as a coded field of a register."""
    if not isinstance(value, dict):
        fixed = fixed_check(value, path)
        return {"fixed": fixed} if fixed is not None else None
    if not c.keys(value, path, ("register", "codes"), ("mask", "shift")):
        return None
    register = _member_register(c, value, path, references)
    mask = c.mask(value["mask"], _key_path(path, "mask")) if "mask" in value else MAX_REGISTER
    shift = c.integer(value["shift"], _key_path(path, "shift"), 0, 15) if "shift" in value else 0
    max_code = (mask >> shift) if (mask is not None and shift is not None) else None
    if max_code == 0:
        c.fail(_key_path(path, "shift"), "shifts every bit of the mask away")
        max_code = None
    codes = None
    if "codes" in value:
        codes = c.codes(value["codes"], _key_path(path, "codes"), max_code, check_code_value)
    if register is None or mask is None or shift is None or codes is None or max_code is None:
        return None
    return {"register": register, "mask": mask, "shift": shift, "codes": codes}


def _check_unit(c, value, path, references):
    def unit_name(item, item_path):
        return c.text(item, item_path, UNITS)

    return _check_field(c, value, path, references, unit_name, unit_name)


def _check_decimals(c, value, path, references):
    def decimals(item, item_path):
        return c.integer(item, item_path, 0, MAX_DECIMALS)

    return _check_field(c, value, path, references, decimals, decimals)


def _check_value(c, value, path, references):
    if not isinstance(value, dict):
        c.fail(path, "must be an object")
        return None
    value_type = c.member_text(value, path, "type", VALUE_TYPES)
    if value_type == "float32":
        required = ("type", "register", "word_order", "unit")
        c.keys(value, path, required, ())
    elif value_type == "int":
        required = ("type", "register", "decimals", "unit")
        c.keys(value, path, required, ("signed",))
    else:
        if "type" not in value:
            c.fail(_key_path(path, "type"), "is required (\"int\" or \"float32\")")
        return None
    width = 2 if value_type == "float32" else 1
    spec = {"type": value_type}
    if "register" in value:
        spec["register"] = _check_register(c, value["register"], _key_path(path, "register"), references, width)
    if "unit" in value:
        spec["unit"] = _check_unit(c, value["unit"], _key_path(path, "unit"), references)
    if value_type == "float32" and "word_order" in value:
        spec["word_order"] = c.text(value["word_order"], _key_path(path, "word_order"), WORD_ORDERS)
    if value_type == "int":
        if "decimals" in value:
            spec["decimals"] = _check_decimals(c, value["decimals"], _key_path(path, "decimals"), references)
        spec["signed"] = c.boolean(value["signed"], _key_path(path, "signed")) if "signed" in value else False
    for key in required + tuple(spec):
        if spec.get(key) is None:
            return None
    return spec


def _check_full_scale(c, value, path, concentration, references):
    if not isinstance(value, dict) or len(value) != 1 or ("register" not in value and "pct_lel" not in value):
        c.fail(path, "must be {\"register\": N} (read like the concentration) or {\"pct_lel\": N}")
        return None
    if "pct_lel" in value:
        fixed = c.integer(value["pct_lel"], _key_path(path, "pct_lel"), 1, MAX_FIXED_FULL_SCALE_PCT_LEL)
        return {"pct_lel": fixed} if fixed is not None else None
    width = 2 if concentration is not None and concentration["type"] == "float32" else 1
    register = _check_register(c, value["register"], _key_path(path, "register"), references, width)
    return {"register": register} if register is not None else None


def _check_labelled_status(c, value, path, allow_normal=True):
    if not c.keys(value, path, ("status", "label"), ()):
        return None
    status = _check_status(c, value["status"], _key_path(path, "status"), allow_normal) if "status" in value else None
    label = c.member_text(value, path, "label")
    if status is None or label is None:
        return None
    return (status, label)


def _check_rules(c, value, path, references):
    rules = c.items(value, path)
    if rules is None:
        return None
    result = []
    for index in range(len(rules)):
        rule = _check_rule(c, rules[index], _index_path(path, index), references)
        if rule is not None:
            result.append(rule)
    return result


def _check_rule(c, value, path, references):
    if not isinstance(value, dict):
        c.fail(path, "must be an object")
        return None
    rule_type = c.member_text(value, path, "type", RULE_TYPES)
    if rule_type is None:
        if "type" not in value:
            c.fail(_key_path(path, "type"), "is required (\"code\" or \"bit\")")
        return None
    if rule_type == "bit":
        c.keys(value, path, ("type", "name", "register", "bit", "status", "label"), ())
        rule = {"type": "bit"}
        if "bit" in value:
            rule["bit"] = c.integer(value["bit"], _key_path(path, "bit"), 0, 15)
        if "status" in value:
            rule["status"] = _check_status(c, value["status"], _key_path(path, "status"))
        if "label" in value:
            rule["label"] = c.text(value["label"], _key_path(path, "label"))
    else:
        c.keys(value, path, ("type", "name", "register", "codes"), ("mask", "shift", "default", "default_label"))
        rule = {"type": "code"}
        rule["mask"] = c.mask(value["mask"], _key_path(path, "mask")) if "mask" in value else MAX_REGISTER
        rule["shift"] = c.integer(value["shift"], _key_path(path, "shift"), 0, 15) if "shift" in value else 0
        max_code = None
        if rule["mask"] is not None and rule["shift"] is not None:
            max_code = rule["mask"] >> rule["shift"]
            if max_code == 0:
                c.fail(_key_path(path, "shift"), "shifts every bit of the mask away")
                rule["shift"] = None
                max_code = None
        if "codes" in value:

            def labelled(item, item_path):
                return _check_labelled_status(c, item, item_path)

            rule["codes"] = c.codes(value["codes"], _key_path(path, "codes"), max_code, labelled)
        rule["default"] = STATUS_FAULT
        if "default" in value:
            rule["default"] = _check_status(c, value["default"], _key_path(path, "default"))
        rule["default_label"] = "unknown code"
        if "default_label" in value:
            rule["default_label"] = c.text(value["default_label"], _key_path(path, "default_label"))
    if "name" in value:
        rule["name"] = c.text(value["name"], _key_path(path, "name"))
    if "register" in value:
        rule["register"] = _check_register(c, value["register"], _key_path(path, "register"), references)
    required = ("bit", "status", "label") if rule_type == "bit" else ("codes",)
    for key in required + ("name", "register"):
        if rule.get(key) is None:
            return None
    for key in rule:
        if rule[key] is None:
            return None
    return rule


def _check_heartbeat(c, value, path, references):
    if not c.keys(value, path, ("register", "frozen_after_ms"), ()):
        return None
    register = _member_register(c, value, path, references)
    frozen_after_ms = c.member_int(value, path, "frozen_after_ms", 1, MAX_HEARTBEAT_FROZEN_MS)
    if register is None or frozen_after_ms is None:
        return None
    return {"register": register, "frozen_after_ms": frozen_after_ms}


def _check_detail_registers(c, value, path, references):
    items = c.items(value, path)
    if items is None:
        return None
    result = []
    for index in range(len(items)):
        item_path = _index_path(path, index)
        item = items[index]
        if not c.keys(item, item_path, ("register", "name"), ()):
            continue
        register = _member_register(c, item, item_path, references)
        name = c.member_text(item, item_path, "name")
        if register is not None and name is not None:
            result.append({"register": register, "name": name})
    return result


def _resolve(c, reads, references):
    """Maps each referenced register to (read index, offset); each must sit in exactly one read."""
    where = {}
    for path, first, width in references:
        for register in range(first, first + width):
            holders = []
            for index in range(len(reads)):
                read = reads[index]
                if read is not None and read[1] <= register < read[1] + read[2]:
                    holders.append(index)
            if not holders:
                if all(read is not None for read in reads):
                    c.fail(path, "register %d is in none of the reads: extend or add a read" % register)
            elif len(holders) > 1:
                listed = ", ".join([_index_path("reads", index) for index in holders])
                message = "register %d is in more than one read (%s): make the reads not overlap"
                c.fail(path, message % (register, listed))
            else:
                read = reads[holders[0]]
                where[register] = (holders[0], register - read[1])
    return where


def _check_commissioning(c, value, path):
    result = {"address": None, "baud": None, "zero": None, "span": None, "identity": []}
    if value is None:
        return result
    if not c.keys(value, path, (), ("address", "baud", "zero", "span", "identity")):
        return result
    if value.get("address") is not None:
        result["address"] = _check_address_register(c, value["address"], _key_path(path, "address"))
    if value.get("baud") is not None:
        result["baud"] = _check_baud_register(c, value["baud"], _key_path(path, "baud"))
    for key in ("zero", "span"):
        if value.get(key) is not None:
            result[key] = _check_calibration(c, value[key], _key_path(path, key), key == "span")
    if "identity" in value:
        result["identity"] = _check_identity(c, value["identity"], _key_path(path, "identity"))
    return result


def _check_address_register(c, value, path):
    if not c.keys(value, path, ("register",), ("min", "max")):
        return None
    register = c.member_int(value, path, "register", 0, MAX_REGISTER)
    low = MIN_SLAVE
    high = MAX_SLAVE
    if "min" in value:
        low = c.integer(value["min"], _key_path(path, "min"), MIN_SLAVE, MAX_SLAVE)
    if "max" in value:
        high = c.integer(value["max"], _key_path(path, "max"), MIN_SLAVE, MAX_SLAVE)
    if low is not None and high is not None and low > high:
        c.fail(path, "min must not be above max")
        return None
    if register is None or low is None or high is None:
        return None
    return {"register": register, "min": low, "max": high}


def _check_baud_register(c, value, path):
    if not c.keys(value, path, ("register", "codes"), ()):
        return None
    register = c.member_int(value, path, "register", 0, MAX_REGISTER)

    def baud(item, item_path):
        return c.choice(item, item_path, BAUDS, _BAUD_MESSAGE)

    codes = c.codes(value["codes"], _key_path(path, "codes"), MAX_REGISTER, baud) if "codes" in value else None
    if register is None or codes is None:
        return None
    return {"register": register, "codes": codes}


def _check_calibration(c, value, path, is_span):
    if not c.keys(value, path, ("register", "write"), ()):
        return None
    register = c.member_int(value, path, "register", 0, MAX_REGISTER)
    write = None
    if "write" in value:
        write = value["write"]
        if is_span and write == SPAN_GAS_RAW:
            pass
        elif not _is_int(write) or not 0 <= write <= MAX_REGISTER:
            hint = " or \"%s\"" % SPAN_GAS_RAW if is_span else ""
            c.fail(_key_path(path, "write"), "must be 0..65535%s" % hint)
            write = None
    if register is None or write is None:
        return None
    return {"register": register, "write": write}


def _check_identity(c, value, path):
    items = c.items(value, path)
    if items is None:
        return []
    result = []
    for index in range(len(items)):
        item_path = _index_path(path, index)
        item = items[index]
        if not c.keys(item, item_path, ("function", "register", "one_of"), ("mask", "shift")):
            continue
        function = None
        if "function" in item:
            function = c.choice(item["function"], _key_path(item_path, "function"), READ_FUNCTIONS, _FUNCTION_MESSAGE)
        register = c.member_int(item, item_path, "register", 0, MAX_REGISTER)
        mask = c.mask(item["mask"], _key_path(item_path, "mask")) if "mask" in item else MAX_REGISTER
        shift = c.integer(item["shift"], _key_path(item_path, "shift"), 0, 15) if "shift" in item else 0
        max_code = mask >> shift if mask is not None and shift is not None else MAX_REGISTER
        one_of = None
        if "one_of" in item:
            one_of = c.items(item["one_of"], _key_path(item_path, "one_of"), allow_empty=False)
            if one_of is not None:
                one_of_path = _key_path(item_path, "one_of")
                checked = [c.integer(one_of[i], _index_path(one_of_path, i), 0, max_code) for i in range(len(one_of))]
                one_of = None if None in checked else sorted(checked)
        if None in (function, register, mask, shift, one_of):
            continue
        result.append({"function": function, "register": register, "mask": mask, "shift": shift, "one_of": one_of})
    return result


def _check_analog(c, doc, parts):
    zero_ua = c.member_int(doc, "", "zero_ua", 0, MAX_LOOP_UA)
    full_scale_ua = c.member_int(doc, "", "full_scale_ua", 0, MAX_LOOP_UA)
    if zero_ua is not None and full_scale_ua is not None and zero_ua >= full_scale_ua:
        c.fail("full_scale_ua", "must be above zero_ua")
    parts["zero_ua"] = zero_ua
    parts["full_scale_ua"] = full_scale_ua
    if "bands" in doc:
        parts["bands"] = _check_bands(c, doc["bands"], "bands")


def _check_bands(c, value, path):
    bands = c.items(value, path, allow_empty=False)
    if bands is None:
        return []
    result = []
    last_upper = None
    for index in range(len(bands)):
        item_path = _index_path(path, index)
        item = bands[index]
        is_top = index == len(bands) - 1
        if not c.keys(item, item_path, ("status", "reading", "label"), () if is_top else ("below_ua", "at_most_ua")):
            continue
        band = {"upper_ua": None, "inclusive": False}
        if not is_top:
            if ("below_ua" in item) == ("at_most_ua" in item):
                c.fail(item_path, "needs exactly one of below_ua, at_most_ua (only the top band has no upper bound)")
            else:
                key = "below_ua" if "below_ua" in item else "at_most_ua"
                band["upper_ua"] = c.integer(item[key], _key_path(item_path, key), 0, MAX_LOOP_UA)
                band["inclusive"] = key == "at_most_ua"
                if band["upper_ua"] is not None:
                    if last_upper is not None and band["upper_ua"] <= last_upper:
                        c.fail(_key_path(item_path, key), "must be above the bound of the band before")
                    last_upper = band["upper_ua"]
        band["status"] = _check_status(c, item["status"], _key_path(item_path, "status")) if "status" in item else None
        band["reading"] = c.member_text(item, item_path, "reading", READINGS)
        band["label"] = c.member_text(item, item_path, "label")
        if index == 0 and band["status"] not in (None, STATUS_FAULT):
            c.fail(_key_path(item_path, "status"), "the lowest band must be fault: no current is an open loop")
        if is_top and band["status"] not in (None, STATUS_OVER_RANGE):
            message = "the top band must be over_range: high loop current is gas, never a fault"
            c.fail(_key_path(item_path, "status"), message)
        result.append(band)
    return result


def _check_contact(c, doc, parts):
    if "alarm" in doc:
        alarm = _check_labelled_status(c, doc["alarm"], "alarm", allow_normal=False)
        if alarm is not None:
            parts["alarm"] = {"status": alarm[0], "label": alarm[1]}
    parts["fault"] = {"status": STATUS_FAULT, "label": "fault contact active"}
    if "fault" in doc:
        fault = _check_labelled_status(c, doc["fault"], "fault", allow_normal=False)
        if fault is not None:
            parts["fault"] = {"status": fault[0], "label": fault[1]}
