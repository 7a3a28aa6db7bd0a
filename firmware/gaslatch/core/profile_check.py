"""Checks a detector profile against profile_schema.SCHEMA and the rules a schema cannot express, and reads it.

A bad profile is refused whole before anything decodes with it, every problem listed with its JSON path and a hint.
"""

from gaslatch.core.constants import MEASURAND_COMBUSTIBLE, STATUS_FAULT, STATUS_OVER_RANGE
from gaslatch.core.json_schema_subset import ROOT, Interpreter, Problem, child_path, show
from gaslatch.core.modbus_rtu import MAX_REGISTER, MAX_SLAVE, MIN_SLAVE
from gaslatch.core.profile_schema import CODE_PATTERN, KIND_ANALOG, KIND_CONTACT, KIND_MODBUS, KINDS, SCHEMA
from gaslatch.core.text import N_

# The keys whose const picks a oneOf branch: a profile's kind, a concentration's or a status rule's type.
DISCRIMINATORS = ("kind", "type")
_HEX_DIGITS = "0123456789abcdefABCDEF"
_MAX_CODE_DIGITS = 6


def format_problems(source, problems):
    """The installer-facing report: one line per problem (file, JSON path, what is wrong) and its hint."""
    lines = []
    for problem in problems:
        lines.append("%s: %s: %s" % (source, problem.path, problem.message))
        lines.append("    hint: %s" % problem.hint)
    return "\n".join(lines)


class ProfileError(Exception):
    """A profile cannot be used: `source` names the file ('cn-generic.json'), `problems` lists every reason (Problem)."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        super().__init__(format_problems(source, self.problems))


def parse_code(text):
    """'12' -> 12, '0x0C' -> 12, anything else -> None (no signs, spaces or underscores; at most 6 digits)."""
    if text[:2] in ("0x", "0X"):
        digits, base, allowed = text[2:], 16, _HEX_DIGITS
    else:
        digits, base, allowed = text, 10, "0123456789"
    if not digits or len(digits) > _MAX_CODE_DIGITS:
        return None
    for char in digits:
        if char not in allowed:
            return None
    return int(digits, base)


PATTERNS = {
    CODE_PATTERN: (
        lambda text: parse_code(text) is not None,
        N_("a code: decimal or hexadecimal (0x...) digits, at most 6, no sign or spaces"),
        "0x0C",
    ),
}

_SCHEMA_SUBSET = Interpreter(PATTERNS, DISCRIMINATORS)


def schema_problems(document):
    """The problems of `document` against profile_schema.SCHEMA alone: the structural phase of check_document()."""
    return _SCHEMA_SUBSET.problems(SCHEMA, document)


def check_document(document, source):
    """A parsed profile document -> its checked parts (dict) for Profile; raises ProfileError listing every problem.

    source: the file name the problems are reported for ('cn-generic.json').
    """
    structural = schema_problems(document)
    doc = _SCHEMA_SUBSET.with_defaults(SCHEMA, document)
    rules = _cross_rules(doc, structural)
    problems = structural + rules.out
    if problems:
        raise ProfileError(source, problems)
    return _parts(doc, rules.where)


# ---------------------------------------------------------------------------------------------
# Cross checks: what the schema cannot say. Each reads only a part the structural phase passed, so one
# mistake is reported once and every value read has the schema's type.

class _Rules:
    def __init__(self, structural):
        self.bad_paths = [problem.path for problem in structural]
        self.out = []
        self.where = {}  # register -> (read index, offset) of every register the profile decodes

    def trusted(self, path):
        """True when no structural problem lies at, below or above `path`."""
        for bad in self.bad_paths:
            if bad == path or _below(bad, path) or _below(path, bad):
                return False
        return True

    def add(self, path, message, hint):
        self.out.append(Problem(path, message, hint))


def _below(path, ancestor):
    return path.startswith(ancestor + ".") or path.startswith(ancestor + "[")


def _mask_value(mask):
    return parse_code(mask) if isinstance(mask, str) else mask


def _max_code(rules, field, path):
    """The largest code `field`'s mask and shift can give, or None (reported) when they give none."""
    mask = _mask_value(field.get("mask", MAX_REGISTER))
    if not 1 <= mask <= MAX_REGISTER:
        rules.add(child_path(path, "mask"), N_("%(mask)s is not a mask of 16-bit register bits",
                                               mask=show(field["mask"])),
                  N_("write a mask from 0x0001 to 0xFFFF, e.g. \"0xFF00\""))
        return None
    shift = field.get("shift", 0)
    if mask >> shift == 0:
        lowest = 0
        while not (mask >> lowest) & 1:
            lowest += 1
        rules.add(child_path(path, "shift"), N_("shifts every bit of the mask away"),
                  N_("shift by at most %(lowest)d, the mask's lowest set bit", lowest=lowest))
        return None
    return mask >> shift


def _codes(rules, codes, path, max_code):
    """{code text: meaning} -> {int: meaning}; a code the field cannot hold or written twice is a problem."""
    result = {}
    for key in sorted(codes):
        code = parse_code(key)
        key_path = child_path(path, key)
        if max_code is not None and code > max_code:
            rules.add(key_path, N_("code %(code)d can never occur: the field holds 0..%(max)d", code=code,
                                   max=max_code),
                      N_("remove the code, or correct the mask and shift"))
        elif code in result:
            rules.add(key_path, N_("code %(code)d is listed twice", code=code),
                      N_("keep one entry for code %(code)d", code=code))
        else:
            result[code] = codes[key]
    return result


def _coded_rules(rules, field, path, references, max_code=None):
    """A coded field's codes against its mask, its register among the references; {int: meaning} or None."""
    if not isinstance(field, dict) or not rules.trusted(path):
        return None
    references.append((child_path(path, "register"), field["register"], 1))
    if max_code is None:
        max_code = _max_code(rules, field, path)
    return _codes(rules, field["codes"], child_path(path, "codes"), max_code)


def _reads(rules, doc):
    """The reads when each is sound (they can locate registers), else None."""
    path = child_path(ROOT, "reads")
    if not rules.trusted(path):
        return None
    reads = doc["reads"]
    sound = True
    for index in range(len(reads)):
        read = reads[index]
        if read["address"] + read["count"] - 1 > MAX_REGISTER:
            rules.add(child_path(path, index), N_("reads past register %(register)d", register=MAX_REGISTER),
                      N_("start it at most at address %(address)d, or read fewer registers",
                         address=MAX_REGISTER + 1 - read["count"]))
            sound = False
    return reads if sound else None


def _resolve(rules, reads, references):
    """Each referenced register (path, first, width) must sit in exactly one read: {register: (read, offset)}."""
    where = {}
    for path, first, width in references:
        for register in range(first, first + width):
            holders = [index for index in range(len(reads))
                       if reads[index]["address"] <= register < reads[index]["address"] + reads[index]["count"]]
            if not holders:
                rules.add(path, N_("register %(register)d is in none of the reads: extend or add a read",
                                   register=register),
                          N_("add a read of register %(register)d to reads", register=register))
            elif len(holders) > 1:
                listed = ", ".join(["reads[%d]" % index for index in holders])
                rules.add(path, N_("register %(register)d is in more than one read (%(reads)s): make the reads not "
                                   "overlap", register=register, reads=listed), N_("read each register once"))
            else:
                where[register] = (holders[0], register - reads[holders[0]]["address"])
    return where


def _modbus_rules(rules, doc):
    references = []  # (json path, first register, number of registers)
    concentration_path = child_path(ROOT, "concentration")
    width = 1
    if rules.trusted(concentration_path):
        concentration = doc["concentration"]
        width = 2 if concentration["type"] == "float32" else 1
        references.append((child_path(concentration_path, "register"), concentration["register"], width))
        for key in ("unit", "decimals"):
            if key in concentration:
                _coded_rules(rules, concentration[key], child_path(concentration_path, key), references)
    full_scale_path = child_path(ROOT, "full_scale")
    full_scale = doc.get("full_scale")
    if isinstance(full_scale, dict) and "register" in full_scale and rules.trusted(full_scale_path):
        register_path = child_path(full_scale_path, "register")
        if full_scale["register"] + width - 1 > MAX_REGISTER:
            rules.add(register_path, N_("a float32 full scale takes registers %(first)d and %(second)d; the last is "
                                        "%(last)d", first=full_scale["register"],
                                        second=full_scale["register"] + 1, last=MAX_REGISTER),
                      N_("write a register of at most %(register)d", register=MAX_REGISTER - 1))
        else:
            references.append((register_path, full_scale["register"], width))
    status_path = child_path(ROOT, "status")
    for index in range(len(doc["status"]) if rules.trusted(status_path) else 0):
        rule = doc["status"][index]
        rule_path = child_path(status_path, index)
        if rule["type"] == "code":
            _coded_rules(rules, rule, rule_path, references)
        else:
            references.append((child_path(rule_path, "register"), rule["register"], 1))
    heartbeat_path = child_path(ROOT, "heartbeat")
    if doc.get("heartbeat") is not None and rules.trusted(heartbeat_path):
        references.append((child_path(heartbeat_path, "register"), doc["heartbeat"]["register"], 1))
    details_path = child_path(ROOT, "detail_registers")
    if "detail_registers" in doc and rules.trusted(details_path):
        for index in range(len(doc["detail_registers"])):
            references.append((child_path(child_path(details_path, index), "register"),
                               doc["detail_registers"][index]["register"], 1))
    if "gas_type" in doc:
        _coded_rules(rules, doc["gas_type"], child_path(ROOT, "gas_type"), references)
    _commissioning_rules(rules, doc.get("commissioning"))
    reads = _reads(rules, doc)
    if reads is not None:
        rules.where = _resolve(rules, reads, references)


def _commissioning_rules(rules, commissioning):
    path = child_path(ROOT, "commissioning")
    if not isinstance(commissioning, dict):
        return
    address = commissioning.get("address")
    address_path = child_path(path, "address")
    if address is not None and rules.trusted(address_path):
        if address.get("min", MIN_SLAVE) > address.get("max", MAX_SLAVE):
            rules.add(address_path, N_("min %(min)d is above max %(max)d", min=address.get("min", MIN_SLAVE),
                                       max=address.get("max", MAX_SLAVE)),
                      N_("write a min no greater than the max"))
    baud = commissioning.get("baud")
    baud_path = child_path(path, "baud")
    if baud is not None and rules.trusted(baud_path):
        _codes(rules, baud["codes"], child_path(baud_path, "codes"), None)
    identity_path = child_path(path, "identity")
    identity = commissioning.get("identity", [])
    for index in range(len(identity) if rules.trusted(identity_path) else 0):
        field_path = child_path(identity_path, index)
        max_code = _max_code(rules, identity[index], field_path)
        one_of = identity[index]["one_of"]
        for item in range(len(one_of) if max_code is not None else 0):
            if one_of[item] > max_code:
                rules.add(child_path(child_path(field_path, "one_of"), item),
                          N_("%(value)d can never occur: the field holds 0..%(max)d", value=one_of[item],
                             max=max_code),
                          N_("remove the value, or correct the mask and shift"))


def _analog_rules(rules, doc):
    zero_path = child_path(ROOT, "zero_ua")
    full_path = child_path(ROOT, "full_scale_ua")
    if rules.trusted(zero_path) and rules.trusted(full_path) and doc["zero_ua"] >= doc["full_scale_ua"]:
        rules.add(full_path, N_("%(full)d µA is not above zero_ua %(zero)d µA", full=doc["full_scale_ua"],
                                zero=doc["zero_ua"]),
                  N_("write the loop currents of zero gas (4000) and full scale (20000)"))
    bands_path = child_path(ROOT, "bands")
    bands = doc["bands"] if rules.trusted(bands_path) else []
    last_upper = None
    for index in range(len(bands)):
        band = bands[index]
        band_path = child_path(bands_path, index)
        bounds = [key for key in ("below_ua", "at_most_ua") if key in band]
        if index == len(bands) - 1:
            for key in bounds:
                rules.add(child_path(band_path, key), N_("the top band has no upper bound"),
                          N_("remove %(key)s, or add a band above this one", key=key))
        elif len(bounds) != 1:
            rules.add(band_path, N_("needs exactly one of below_ua, at_most_ua (only the top band has no upper "
                                    "bound)"),
                      N_("give the band its upper bound as below_ua (currents below it) or at_most_ua (at or below "
                         "it)"))
        else:
            upper = band[bounds[0]]
            if last_upper is not None and upper <= last_upper:
                rules.add(child_path(band_path, bounds[0]), N_("must be above the bound of the band before"),
                          N_("list the bands from the lowest current up, each bound above the one before"))
            last_upper = upper
        status_path = child_path(band_path, "status")
        if index == 0 and band["status"] != STATUS_FAULT:
            rules.add(status_path, N_("the lowest band must be fault: no current is an open loop"),
                      N_("write \"status\": \"%(status)s\"", status=STATUS_FAULT))
        if index == len(bands) - 1 and band["status"] != STATUS_OVER_RANGE:
            rules.add(status_path, N_("the top band must be over_range: high loop current is gas, never a fault"),
                      N_("write \"status\": \"%(status)s\"", status=STATUS_OVER_RANGE))


def _cross_rules(doc, structural):
    """The rules the schema cannot express, checked in `doc` (defaults filled) past the `structural` problems."""
    rules = _Rules(structural)
    if not isinstance(doc, dict) or doc.get("kind") not in KINDS or not _within_kind(structural):
        return rules
    if doc["kind"] == KIND_MODBUS:
        _modbus_rules(rules, doc)
    elif doc["kind"] == KIND_ANALOG:
        _analog_rules(rules, doc)
    return rules


def _within_kind(structural):
    """False when a problem is the whole document's or its kind's: then no part of it was checked."""
    for problem in structural:
        if problem.path in (ROOT, child_path(ROOT, "kind")):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# The parts a Profile decodes with, read from a document with no problem.

def _field(field):
    if not isinstance(field, dict):
        return {"fixed": field}
    codes = {}
    for key in field["codes"]:
        codes[parse_code(key)] = field["codes"][key]
    return {"register": field["register"], "mask": _mask_value(field.get("mask", MAX_REGISTER)),
            "shift": field.get("shift", 0), "codes": codes}


def _rule(rule):
    if rule["type"] == "bit":
        return {"type": "bit", "name": rule["name"], "register": rule["register"], "bit": rule["bit"],
                "status": rule["status"], "label": rule["label"]}
    checked = _field(rule)
    codes = {}
    for code in checked["codes"]:
        codes[code] = (checked["codes"][code]["status"], checked["codes"][code]["label"])
    return {"type": "code", "name": rule["name"], "register": rule["register"], "mask": checked["mask"],
            "shift": checked["shift"], "codes": codes, "default": rule.get("default", STATUS_FAULT),
            "default_label": rule.get("default_label", "unknown code")}


def _concentration(value):
    spec = {"type": value["type"], "register": value["register"], "unit": _field(value["unit"])}
    if value["type"] == "float32":
        spec["word_order"] = value["word_order"]
    else:
        spec["decimals"] = _field(value["decimals"])
        spec["signed"] = value.get("signed", False)
    return spec


def _commissioning(value):
    result = {"address": None, "baud": None, "zero": None, "span": None, "identity": []}
    if value is None:
        return result
    address = value.get("address")
    if address is not None:
        result["address"] = {"register": address["register"], "min": address.get("min", MIN_SLAVE),
                             "max": address.get("max", MAX_SLAVE)}
    if value.get("baud") is not None:
        result["baud"] = {"register": value["baud"]["register"], "codes": _field(value["baud"])["codes"]}
    for key in ("zero", "span"):
        if value.get(key) is not None:
            result[key] = {"register": value[key]["register"], "write": value[key]["write"]}
    for item in value.get("identity", []):
        result["identity"].append({"function": item["function"], "register": item["register"],
                                   "mask": _mask_value(item.get("mask", MAX_REGISTER)), "shift": item.get("shift", 0),
                                   "one_of": sorted(item["one_of"])})
    return result


def _band(band):
    upper, inclusive = None, False
    if "below_ua" in band:
        upper = band["below_ua"]
    elif "at_most_ua" in band:
        upper, inclusive = band["at_most_ua"], True
    return {"upper_ua": upper, "inclusive": inclusive, "status": band["status"], "reading": band["reading"],
            "label": band["label"]}


def _labelled(value):
    return {"status": value["status"], "label": value["label"]}


def _modbus_parts(doc, parts):
    parts["serial"] = {"baud": doc["serial"]["baud"], "parity": doc["serial"]["parity"],
                       "stop_bits": doc["serial"]["stop_bits"]}
    parts["min_poll_interval_ms"] = doc["min_poll_interval_ms"]
    parts["reads"] = [(read["function"], read["address"], read["count"]) for read in doc["reads"]]
    parts["concentration"] = _concentration(doc["concentration"])
    if doc.get("full_scale") is not None:
        parts["full_scale"] = dict(doc["full_scale"])
    parts["status"] = [_rule(rule) for rule in doc["status"]]
    if doc.get("heartbeat") is not None:
        parts["heartbeat"] = {"register": doc["heartbeat"]["register"],
                              "frozen_after_ms": doc["heartbeat"]["frozen_after_ms"]}
    if "detail_registers" in doc:
        parts["detail_registers"] = [{"register": item["register"], "name": item["name"]}
                                     for item in doc["detail_registers"]]
    parts["commissioning"] = _commissioning(doc.get("commissioning"))
    if "gas_type" in doc:
        parts["gas_type"] = _field(doc["gas_type"])


def _parts(doc, where):
    parts = {"description": doc["description"], "kind": doc["kind"], "notes": list(doc.get("notes", [])),
             "measurands": tuple(doc.get("measurands", [MEASURAND_COMBUSTIBLE]))}
    if doc["kind"] == KIND_MODBUS:
        _modbus_parts(doc, parts)
        parts["where"] = where
    elif doc["kind"] == KIND_ANALOG:
        parts["zero_ua"] = doc["zero_ua"]
        parts["full_scale_ua"] = doc["full_scale_ua"]
        parts["bands"] = [_band(band) for band in doc["bands"]]
    elif doc["kind"] == KIND_CONTACT:
        parts["alarm"] = _labelled(doc["alarm"])
        parts["fault"] = _labelled(doc["fault"]) if "fault" in doc else {"status": STATUS_FAULT,
                                                                          "label": "fault contact active"}
    return parts
