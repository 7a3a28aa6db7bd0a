"""Detector profiles: the shipped maps decode known register images, loop currents and contacts right.

Also: the loader lists every problem with its JSON path, and no device data or profile document crashes it.
"""

import copy
import json
import math
import shutil
import struct
import tempfile
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import constants
from gaslatch.core.detector_profile import (
    STATUS_PRIORITY,
    ProfileError,
    Sample,
    default_directory,
    list_profiles,
    load_profile,
    profile_from_document,
)
from gaslatch_tools.micropython_runner import run_micropython

PROFILES_DIR = Path(default_directory())
SHIPPED = [
    "analog-msa",
    "analog-ne43",
    "cn-generic",
    "contact-dry",
    "senseair-s8",
    "sensepoint-xcd",
    "sensepoint-xcl",
    "xgard-bright",
    "xgard-iq",
]
MODBUS = ["cn-generic", "sensepoint-xcd", "sensepoint-xcl", "xgard-bright", "xgard-iq"]
ANALOG = ["analog-msa", "analog-ne43"]
GASES = sorted(constants.LEL_PCT_VOL)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "detector-profiles.md"


def shipped_document(name):
    return json.loads((PROFILES_DIR / (name + ".json")).read_text(encoding="utf-8"))


def float_words(value):
    """float32 -> (high word, low word)."""
    return struct.unpack(">HH", struct.pack(">f", value))


def said(error):
    """A ProfileError's problems as 'json.path: what is wrong' lines."""
    return ["%s: %s" % (problem.path, problem.message) for problem in error.problems]


def problems_of(document, name="test"):
    with pytest.raises(ProfileError) as caught:
        profile_from_document(name, document)
    assert caught.value.source == name + ".json"
    return said(caught.value)


# --- cn-generic register images ----------------------------------------------------------------

UNIT_PPM, UNIT_LEL, UNIT_VOL, UNIT_MG, UNIT_PPB = 0x0, 0x2, 0x4, 0x6, 0x8
DECIMALS_CODE = {0: 0x0, 1: 0x4, 2: 0x8, 3: 0xC}


def cn_image(raw, unit=UNIT_LEL, decimals=0, status=0x01, full_scale=None, decimals_code=None):
    """One 10-register response; full scale defaults to 100 (50 with 3 decimals) in the image's unit."""
    code = DECIMALS_CODE[decimals] if decimals_code is None else decimals_code
    if full_scale is None:
        full_scale = 100 * 10**decimals if decimals < 3 else 50000
    reg0 = (unit << 12) | (code << 8)
    return [[reg0, raw, 10, 25, full_scale, status, 1234, 750, 11 << 8, 500]]


def cn_decode(image, gas="methane"):
    return load_profile("cn-generic").decode(image, gas)


# --- Loading -----------------------------------------------------------------------------------


def test_every_shipped_profile_is_listed_and_loads():
    assert list_profiles() == SHIPPED
    for name in SHIPPED:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.kind in ("modbus", "analog", "contact")
        assert profile.description


def test_profiles_folder_is_found_from_a_micropython_module_path():
    assert default_directory("/lib/gaslatch/core/detector_profile.py") == "/lib/gaslatch/profiles"
    assert default_directory("gaslatch/core/detector_profile.py") == "gaslatch/profiles"
    assert default_directory("detector_profile.py") == "../profiles"
    assert PROFILES_DIR.resolve() == (Path(__file__).resolve().parents[2] / "firmware" / "gaslatch" / "profiles")


def test_a_vendor_profile_loads_from_an_installers_folder(tmp_path):
    document = shipped_document("xgard-iq")
    document["description"] = "Site-specific copy"
    (tmp_path / "site-detector.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "readme.txt").write_text("not a profile", encoding="utf-8")

    assert list_profiles(str(tmp_path)) == ["site-detector"]
    assert load_profile("site-detector", str(tmp_path)).description == "Site-specific copy"


def test_a_missing_profile_names_the_profiles_that_exist(tmp_path):
    shutil.copy(PROFILES_DIR / "cn-generic.json", tmp_path / "cn-generic.json")

    with pytest.raises(ProfileError) as caught:
        load_profile("no-such-detector", str(tmp_path))

    assert "no-such-detector.json" in str(caught.value)
    assert "profiles there: cn-generic" in str(caught.value)


def test_listing_a_missing_folder_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError):
        list_profiles(str(tmp_path / "absent"))


@pytest.mark.parametrize("name", ["../secrets", "a/b", "", "x.json", "name with space"])
def test_a_profile_name_that_is_not_a_plain_name_is_refused(name):
    with pytest.raises(ProfileError):
        load_profile(name)


def test_bad_json_is_a_profile_error_naming_the_file(tmp_path):
    (tmp_path / "broken.json").write_text('{"format": 1, "kind": "modbus",', encoding="utf-8")

    with pytest.raises(ProfileError) as caught:
        load_profile("broken", str(tmp_path))

    assert str(caught.value).startswith("broken.json: $: not valid JSON")


def test_every_problem_is_listed_with_its_json_path(tmp_path):
    document = shipped_document("sensepoint-xcl")
    document["status"][2]["bit"] = 16
    document["serial"]["baud"] = "9600"
    document["reads"][0]["count"] = 0
    document["concentration"]["word_order"] = "middle"
    document["colour"] = "red"
    document["status"][0]["statuz"] = "low_alarm"
    (tmp_path / "sensepoint-xcl.json").write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(ProfileError) as caught:
        load_profile("sensepoint-xcl", str(tmp_path))

    problems = said(caught.value)
    assert "$.status[2].bit: 16 is above the maximum 15" in problems
    assert '$.serial.baud: expected a whole number, found text "9600"' in problems
    assert "$.reads[0].count: 0 is below the minimum 1" in problems
    assert '$.concentration.word_order: "middle" is not allowed here' in problems
    assert any(p.startswith("$.colour: unknown key") for p in problems)
    assert any(p.startswith("$.status[0].statuz: unknown key") for p in problems)
    assert len(problems) == 6
    bauds = "1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200"
    hints = [problem.hint for problem in caught.value.problems]
    assert "write a whole number from 0 to 15" in hints and "write one of %s, e.g. 1200 (without quotes)" % bauds in hints
    assert str(caught.value).split("\n")[::2] == ["sensepoint-xcl.json: " + problem for problem in problems]


def test_wrong_types_are_reported_not_coerced():
    document = shipped_document("cn-generic")
    document["concentration"]["signed"] = "no"
    document["concentration"]["register"] = 1.5
    document["serial"]["stop_bits"] = True
    document["min_poll_interval_ms"] = "500"
    document["reads"][0]["function"] = "3"
    document["format"] = "1"

    problems = problems_of(document, "cn-generic")

    assert '$.concentration.signed: expected true or false, found text "no"' in problems
    assert "$.concentration.register: expected a whole number, found 1.5" in problems
    assert "$.serial.stop_bits: expected a whole number, found true" in problems
    assert '$.min_poll_interval_ms: expected a whole number, found text "500"' in problems
    assert '$.reads[0].function: expected a whole number, found text "3"' in problems
    assert any(p.startswith("$.format: must be 1") for p in problems)


def test_whole_numbers_written_with_a_point_read_as_integers_as_in_the_config():
    document = shipped_document("cn-generic")
    document["concentration"]["register"] = 1.0
    document["reads"][0]["function"] = 3.0

    profile = profile_from_document("cn-generic", document)

    assert profile.reads == [(3, 0, 10)] and type(profile.reads[0][0]) is int
    assert profile.decode(cn_image(1234, decimals=2), "methane") == cn_decode(cn_image(1234, decimals=2))


def test_missing_keys_are_reported_for_the_profiles_kind():
    problems = problems_of({"format": 1, "kind": "analog", "description": "x"})

    assert problems == [
        "$.zero_ua: missing; it is required",
        "$.full_scale_ua: missing; it is required",
        "$.bands: missing; it is required",
    ]


def test_a_profile_that_is_not_an_object_is_refused():
    assert problems_of([1, 2]) == ["$: expected an object {...}, found a list"]


def test_an_unknown_kind_is_reported_with_the_choices():
    problems = problems_of({"format": 1, "kind": "zigbee", "description": "x"})

    assert problems == ['$.kind: "zigbee" is not a known kind']
    with pytest.raises(ProfileError) as caught:
        profile_from_document("test", {"format": 1, "kind": "zigbee", "description": "x"})
    assert caught.value.problems[0].hint == 'write one of "modbus", "analog", "contact"'


def test_a_register_outside_every_read_is_an_error():
    document = shipped_document("sensepoint-xcl")
    document["heartbeat"]["register"] = 200

    problems = problems_of(document)

    assert problems == ["$.heartbeat.register: register 200 is in none of the reads: extend or add a read"]


def test_the_second_word_of_a_float_must_be_read_too():
    document = shipped_document("xgard-bright")
    document["reads"][0]["count"] = 1

    problems = problems_of(document)

    assert problems == [
        "$.concentration.register: register 1001 is in none of the reads: extend or add a read"
    ]


def test_a_register_in_two_reads_is_ambiguous():
    document = shipped_document("cn-generic")
    document["reads"].append({"function": 4, "address": 5, "count": 1})

    problems = problems_of(document)

    assert problems == [
        "$.status[0].register: register 5 is in more than one read (reads[0], reads[1]): "
        "make the reads not overlap"
    ]


def test_codes_that_the_mask_can_never_produce_are_errors():
    document = shipped_document("cn-generic")
    document["status"][0]["codes"]["0x100"] = {"status": "fault", "label": "impossible"}
    document["concentration"]["unit"]["codes"]["0x10"] = "pct_lel"

    problems = problems_of(document)

    assert "$.status[0].codes.0x100: code 256 can never occur: the field holds 0..255" in problems
    assert "$.concentration.unit.codes.0x10: code 16 can never occur: the field holds 0..15" in problems


def test_the_same_code_written_twice_is_an_error():
    document = shipped_document("cn-generic")
    document["status"][0]["codes"]["10"] = {"status": "fault", "label": "timeout again"}

    problems = problems_of(document)

    assert len(problems) == 1
    assert problems[0].endswith("code 10 is listed twice")


def test_codes_that_are_not_numbers_are_errors():
    document = shipped_document("cn-generic")
    document["status"][0]["codes"]["-1"] = {"status": "fault", "label": "x"}
    document["status"][0]["codes"]["0xZZ"] = {"status": "fault", "label": "x"}

    problems = problems_of(document)

    assert len(problems) == 2
    assert problems == ['$.status[0].codes.-1: the name "-1" is not allowed',
                        '$.status[0].codes.0xZZ: the name "0xZZ" is not allowed']


def test_unknown_statuses_and_units_are_errors():
    document = shipped_document("xgard-iq")
    document["status"][0]["codes"]["3"]["status"] = "broken"
    document["concentration"]["unit"] = "percent"

    problems = problems_of(document)

    assert '$.status[0].codes.3.status: "broken" is not allowed here' in problems
    assert '$.concentration.unit: "percent" is not allowed here' in problems


def test_commissioning_data_is_checked():
    document = shipped_document("cn-generic")
    document["commissioning"]["address"]["max"] = 300
    document["commissioning"]["baud"]["codes"]["7"] = 250000
    document["commissioning"]["zero"]["write"] = "span_gas_raw"
    document["commissioning"]["identity"][0]["one_of"] = [99]

    problems = problems_of(document)

    assert problems == [
        "$.commissioning.address.max: 300 is above the maximum 247",
        "$.commissioning.baud.codes.7: 250000 is not allowed here",
        '$.commissioning.zero.write: expected a whole number, found text "span_gas_raw"',
        "$.commissioning.identity[0].one_of[0]: 99 can never occur: the field holds 0..15",
    ]


def test_analog_bands_must_rise_and_end_in_over_range():
    document = shipped_document("analog-ne43")
    document["bands"][2]["below_ua"] = 3500
    document["bands"][-1]["status"] = "fault"
    document["bands"][0]["status"] = "normal"
    del document["bands"][3]["at_most_ua"]

    problems = problems_of(document)

    assert problems == [
        "$.bands[0].status: the lowest band must be fault: no current is an open loop",
        "$.bands[2].below_ua: must be above the bound of the band before",
        "$.bands[3]: needs exactly one of below_ua, at_most_ua (only the top band has no upper bound)",
        "$.bands[5].status: the top band must be over_range: high loop current is gas, never a fault",
    ]


def test_a_contact_alarm_cannot_decode_as_normal():
    document = shipped_document("contact-dry")
    document["alarm"]["status"] = "normal"

    problems = problems_of(document)

    assert len(problems) == 1
    assert problems == ['$.alarm.status: "normal" is not allowed here']


def test_the_commissioning_data_of_cn_generic_is_exposed_for_the_cli():
    commissioning = load_profile("cn-generic").commissioning

    assert commissioning["address"] == {"register": 0x10, "min": 1, "max": 247}
    assert commissioning["baud"]["register"] == 0x11
    assert commissioning["baud"]["codes"][2] == 9600
    assert commissioning["zero"] == {"register": 0x12, "write": 1}
    assert commissioning["span"] == {"register": 0x13, "write": "span_gas_raw"}
    assert commissioning["identity"][2]["one_of"] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15]


def test_profiles_without_commissioning_registers_say_so_with_none():
    commissioning = load_profile("sensepoint-xcl").commissioning

    assert commissioning["address"] is None
    assert commissioning["baud"] is None
    assert commissioning["zero"] is None
    assert commissioning["span"] is None
    assert commissioning["identity"][0] == {"function": 3, "register": 110, "mask": 0xFF, "shift": 0, "one_of": [1]}


def test_decoding_with_the_wrong_kind_of_profile_is_refused():
    with pytest.raises(ProfileError):
        load_profile("analog-ne43").decode([[0]], "methane")
    with pytest.raises(ProfileError):
        load_profile("cn-generic").decode_current(12000, 100)
    with pytest.raises(ProfileError):
        load_profile("cn-generic").decode_contact(True)


def test_an_unknown_gas_is_a_configuration_error():
    with pytest.raises(ValueError, match="unknown gas 'hydrogen'"):
        cn_decode(cn_image(10), gas="hydrogen")


# --- cn-generic --------------------------------------------------------------------------------


def test_cn_generic_matches_the_documented_module():
    profile = load_profile("cn-generic")

    assert profile.serial == {"baud": 9600, "parity": "N", "stop_bits": 1}
    assert profile.reads == [(3, 0, 10)]
    assert profile.min_poll_interval_ms == 500
    assert profile.heartbeat_frozen_after_ms is None


CN_STATUS_CODES = [
    (0x00, "warmup", "status code 0x00 warm-up"),
    (0x01, "normal", ""),
    (0x02, "fault", "status code 0x02 data error"),
    (0x03, "fault", "status code 0x03 sensor fault"),
    (0x04, "pre_alarm", "status code 0x04 pre-alarm"),
    (0x05, "low_alarm", "status code 0x05 low alarm"),
    (0x06, "high_alarm", "status code 0x06 high alarm"),
    (0x07, "fault", "status code 0x07 access fault"),
    (0x08, "over_range", "status code 0x08 over-range"),
    (0x09, "calibration", "status code 0x09 needs calibration"),
    (0x0A, "fault", "status code 0x0A timeout"),
    (0x0F, "fault", "status code 0x0F comms fault"),
]


@pytest.mark.parametrize("code,status,detail", CN_STATUS_CODES)
def test_cn_generic_decodes_every_status_code(code, status, detail):
    sample = cn_decode(cn_image(123, decimals=1, status=code))

    assert sample == Sample(1230, status, None, 10000, detail)


@pytest.mark.parametrize("code", [0x0B, 0x0C, 0x0D, 0x0E, 0x10, 0x42, 0xFF])
def test_cn_generic_unknown_status_codes_are_faults(code):
    sample = cn_decode(cn_image(0, status=code))

    assert sample.status == "fault"
    assert sample.detail == "status code 0x%02X unknown status code" % code


def test_cn_generic_ignores_the_high_byte_of_the_status_register():
    assert cn_decode(cn_image(5, status=0xAB06)).status == "high_alarm"


@pytest.mark.parametrize(
    "raw,decimals,expected",
    [(12, 0, 1200), (123, 1, 1230), (1234, 2, 1234), (12345, 3, 1235), (12344, 3, 1234), (5, 3, 1), (4, 3, 0)],
)
def test_cn_generic_scales_lel_readings_exactly(raw, decimals, expected):
    assert cn_decode(cn_image(raw, decimals=decimals)).concentration_centi_pct_lel == expected


def test_cn_generic_converts_volume_percent_with_the_gas_lel():
    # 0.50 %VOL methane (LEL 5 %VOL) = 10 %LEL; propane (LEL 2.1 %VOL) = 23.81 %LEL.
    image = cn_image(50, unit=UNIT_VOL, decimals=2, full_scale=500)

    assert cn_decode(image, "methane").concentration_centi_pct_lel == 1000
    assert cn_decode(image, "propane").concentration_centi_pct_lel == 2381
    assert cn_decode(image, "lpg").concentration_centi_pct_lel == 2381
    assert cn_decode(image, "methane").full_scale_centi_pct_lel == 10000


def test_cn_generic_converts_ppm_with_the_gas_lel():
    # 5000 ppm methane = 0.5 %VOL = 10 %LEL; 1000 ppm propane = 4.7619 %LEL.
    assert cn_decode(cn_image(5000, unit=UNIT_PPM), "methane").concentration_centi_pct_lel == 1000
    assert cn_decode(cn_image(1000, unit=UNIT_PPM), "propane").concentration_centi_pct_lel == 476


@pytest.mark.parametrize("unit,label", [(UNIT_MG, "mg/m3"), (UNIT_PPB, "ppb")])
def test_cn_generic_toxic_gas_units_are_faults(unit, label):
    sample = cn_decode(cn_image(10, unit=unit))

    assert sample.status == "fault"
    assert sample.concentration_centi_pct_lel is None
    assert sample.full_scale_centi_pct_lel is None
    assert sample.detail.startswith("unsupported unit %s" % label)


def test_cn_generic_unknown_unit_and_decimals_codes_are_faults():
    assert cn_decode(cn_image(10, unit=0x1)).detail == "unsupported unit code 0x01"
    assert cn_decode(cn_image(10, decimals_code=0x2)).detail == "unsupported decimals code 0x02"


def test_cn_generic_device_alarm_outranks_an_unreadable_unit():
    sample = cn_decode(cn_image(10, unit=UNIT_MG, status=0x06))

    assert sample.status == "high_alarm"
    assert sample.concentration_centi_pct_lel is None
    assert sample.detail == "status code 0x06 high alarm"


def test_cn_generic_reads_the_concentration_unsigned():
    assert cn_decode(cn_image(0xFFFF)).concentration_centi_pct_lel == 6553500


@pytest.mark.parametrize(
    "blocks,detail",
    [
        (None, "no register blocks in the response"),
        ([], "got 0 register blocks, the profile reads 1"),
        ([[1, 2, 3]], "reads[0]: expected 10 registers"),
        ([[0x2000, 1, 2, 3, 4, 1, 0, 0, 0, 70000]], "reads[0]: register value 70000 is not 0..65535"),
        ([[0x2000, 1, 2, 3, 4, 1, 0, 0, 0, -1]], "reads[0]: register value -1 is not 0..65535"),
    ],
)
def test_a_malformed_response_decodes_to_a_fault(blocks, detail):
    assert cn_decode(blocks) == Sample(None, "fault", None, None, detail)


@given(
    raw=st.integers(0, 0xFFFF),
    decimals=st.sampled_from([0, 1, 2, 3]),
    unit=st.sampled_from([UNIT_PPM, UNIT_LEL, UNIT_VOL]),
    gas=st.sampled_from(GASES),
)
def test_scaled_integers_are_converted_exactly(raw, decimals, unit, gas):
    value = Fraction(raw, 10**decimals)
    lel = Fraction(str(constants.LEL_PCT_VOL[gas]))
    pct_lel = {UNIT_LEL: value, UNIT_VOL: value / lel * 100, UNIT_PPM: value / 10000 / lel * 100}[unit]
    centi = pct_lel * 100
    expected = math.floor(centi + Fraction(1, 2))  # raw is never negative here: half away = half up

    assert cn_decode(cn_image(raw, unit=unit, decimals=decimals), gas).concentration_centi_pct_lel == expected


# --- Honeywell Sensepoint XCL ------------------------------------------------------------------


def xcl_image(reading=12.5, code=0, flags=0, state=1, heartbeat=77, unit=1):
    high, low = float_words(reading)
    return [[high, low, code, flags, state, heartbeat, 0, 0, unit]]


def xcl_decode(image, gas="methane"):
    return load_profile("sensepoint-xcl").decode(image, gas)


def test_sensepoint_xcl_reads_a_big_endian_float_and_the_heartbeat():
    profile = load_profile("sensepoint-xcl")

    assert profile.reads == [(3, 102, 9)]
    assert profile.heartbeat_frozen_after_ms == 20000
    assert xcl_decode(xcl_image(12.5)) == Sample(1250, "normal", 77, 10000, "")


def test_sensepoint_xcl_negative_readings_pass_through():
    assert xcl_decode(xcl_image(-1.5)).concentration_centi_pct_lel == -150


def test_sensepoint_xcl_rounds_floats_half_away_from_zero():
    assert xcl_decode(xcl_image(0.125)).concentration_centi_pct_lel == 13
    assert xcl_decode(xcl_image(-0.125)).concentration_centi_pct_lel == -13


@pytest.mark.parametrize(
    "flags,status,detail",
    [
        (0x01, "low_alarm", "flags b0 AL1 alarm 1; fault/warning code 0"),
        (0x02, "high_alarm", "flags b1 AL2 alarm 2; fault/warning code 0"),
        (0x03, "high_alarm", "flags b1 AL2 alarm 2; fault/warning code 0"),
        (0x10, "normal", ""),
        (0x40, "fault", "flags b6 fault; fault/warning code 0"),
        (0x42, "high_alarm", "flags b1 AL2 alarm 2; fault/warning code 0"),
        (0xAC, "normal", ""),
    ],
)
def test_sensepoint_xcl_flags(flags, status, detail):
    sample = xcl_decode(xcl_image(flags=flags))

    assert (sample.status, sample.detail) == (status, detail)


def test_sensepoint_xcl_fault_names_the_fault_code():
    assert xcl_decode(xcl_image(code=1203, flags=0x40)).detail == "flags b6 fault; fault/warning code 1203"


@pytest.mark.parametrize(
    "state,status,detail",
    [
        (1, "normal", ""),
        (2, "warmup", "state 0x02 warm-up"),
        (3, "calibration", "state 0x03 inhibit"),
        (12, "calibration", "state 0x0C calibration"),
        (7, "fault", "state 0x07 unknown state"),
    ],
)
def test_sensepoint_xcl_states(state, status, detail):
    sample = xcl_decode(xcl_image(state=state))

    assert (sample.status, sample.detail) == (status, detail + ("; fault/warning code 0" if detail else ""))


@pytest.mark.parametrize(
    "reading,detail", [(float("nan"), "not a number"), (float("inf"), "infinite"), (float("-inf"), "infinite")]
)
def test_sensepoint_xcl_non_finite_reading_is_a_fault(reading, detail):
    sample = xcl_decode(xcl_image(reading))

    assert sample.status == "fault"
    assert sample.concentration_centi_pct_lel is None
    assert detail in sample.detail


def test_sensepoint_xcl_unknown_unit_is_a_fault():
    assert xcl_decode(xcl_image(unit=6)).detail == "unsupported unit code 0x06; fault/warning code 0"


def test_a_huge_float_reading_is_clamped_not_crashed():
    sample = xcl_decode(xcl_image(3.0e38))

    assert sample.concentration_centi_pct_lel == (1 << 30) - 1
    assert sample.status == "normal"


# --- Honeywell Sensepoint XCD ------------------------------------------------------------------


def xcd_image(reading=10.0, flags=0, state=1, unit=5, code=0):
    high, low = float_words(reading)
    return [[high, low, code, flags, state, 0, 0, 0, unit]]


def xcd_decode(image, gas="methane"):
    return load_profile("sensepoint-xcd").decode(image, gas)


def test_sensepoint_xcd_defaults_to_19200_baud():
    profile = load_profile("sensepoint-xcd")

    assert profile.serial["baud"] == 19200
    assert profile.reads == [(3, 2, 9)]
    assert profile.heartbeat_frozen_after_ms is None


def test_sensepoint_xcd_decodes_each_unit():
    assert xcd_decode(xcd_image(10.0, unit=5)).concentration_centi_pct_lel == 1000
    assert xcd_decode(xcd_image(2.5, unit=3)).concentration_centi_pct_lel == 5000
    assert xcd_decode(xcd_image(1000.0, unit=4), "propane").concentration_centi_pct_lel == 476
    assert xcd_decode(xcd_image(10.0, unit=1)).detail.startswith("unsupported unit mg/m3")


@pytest.mark.parametrize(
    "flags,state,status",
    [
        (0x01, 1, "low_alarm"),
        (0x02, 1, "high_alarm"),
        (0x10, 1, "normal"),
        (0x20, 1, "fault"),
        (0, 2, "warmup"),
        (0x20, 2, "fault"),
    ],
)
def test_sensepoint_xcd_flags_and_states(flags, state, status):
    assert xcd_decode(xcd_image(flags=flags, state=state)).status == status


def test_sensepoint_xcd_is_recognised_by_its_type_code():
    assert load_profile("sensepoint-xcd").commissioning["identity"] == [
        {"function": 3, "register": 0, "mask": 0xFF00, "shift": 8, "one_of": [0x25]}
    ]


# --- Crowcon -----------------------------------------------------------------------------------


def iq_image(reading=20.0, status=0, alarm1=0, alarm2=0):
    high, low = float_words(reading)
    return [[high, low, status, alarm1, alarm2]]


def iq_decode(image):
    return load_profile("xgard-iq").decode(image, "methane")


def test_xgard_iq_serial_and_map():
    profile = load_profile("xgard-iq")

    assert profile.serial == {"baud": 38400, "parity": "N", "stop_bits": 2}
    assert profile.reads == [(3, 301, 5)]


@pytest.mark.parametrize(
    "status_code,status,detail",
    [
        (0, "normal", ""),
        (1, "normal", ""),
        (2, "normal", ""),
        (3, "fault", "status 0x0003 fault"),
        (9, "fault", "status 0x0009 unknown status"),
    ],
)
def test_xgard_iq_status_register(status_code, status, detail):
    assert iq_decode(iq_image(status=status_code)) == Sample(2000, status, None, 10000, detail)


def test_xgard_iq_alarm_registers():
    assert iq_decode(iq_image(alarm1=1)).status == "low_alarm"
    assert iq_decode(iq_image(alarm1=1, alarm2=5)) == Sample(2000, "high_alarm", None, 10000, "alarm 2 0x0005 active")
    assert iq_decode(iq_image(alarm2=1, status=3)).status == "high_alarm"


def test_xgard_bright_reports_only_the_reading():
    profile = load_profile("xgard-bright")
    high, low = float_words(42.0)

    assert profile.serial == {"baud": 9600, "parity": "N", "stop_bits": 2}
    assert profile.decode([[high, low]], "propane") == Sample(4200, "normal", None, 10000, "")


def test_little_endian_word_order_swaps_the_words():
    document = shipped_document("xgard-bright")
    document["concentration"]["word_order"] = "little"
    profile = profile_from_document("little", document)
    high, low = float_words(42.0)

    assert profile.decode([[low, high]], "methane").concentration_centi_pct_lel == 4200


def test_signed_scaled_integer_with_fixed_decimals():
    document = shipped_document("cn-generic")
    document["concentration"] = {"type": "int", "register": 1, "signed": True, "decimals": 1, "unit": "pct_lel"}
    document["full_scale"] = {"pct_lel": 100}
    profile = profile_from_document("signed", document)

    def reading(raw):
        return profile.decode([[0, raw, 0, 0, 0, 1, 0, 0, 0, 0]], "methane").concentration_centi_pct_lel

    assert reading(0xFFF6) == -100
    assert reading(0x8000) == -327680
    assert reading(0x7FFF) == 327670


# --- 4-20 mA -----------------------------------------------------------------------------------

NE43_CASES = [
    (0, "fault", None, "open wire"),
    (2999, "fault", None, "open wire"),
    (3000, "fault", None, "failure signal (at or below 3.6 mA)"),
    (3600, "fault", None, "failure signal (at or below 3.6 mA)"),
    (3601, "normal", 0, ""),
    (3999, "normal", 0, ""),
    (4000, "normal", 0, ""),
    (12000, "normal", 5000, ""),
    (4016, "normal", 10, ""),
    (20000, "normal", 10000, ""),
    (20999, "normal", 10000, ""),
    (21000, "over_range", 10000, "over-range (21 mA or more)"),
    (24000, "over_range", 10000, "over-range (21 mA or more)"),
]


@pytest.mark.parametrize("current_ua,status,concentration,detail", NE43_CASES)
def test_ne43_bands(current_ua, status, concentration, detail):
    sample = load_profile("analog-ne43").decode_current(current_ua, 100)

    assert sample == Sample(concentration, status, None, 10000, detail)


def test_ne43_scales_to_the_channels_full_scale():
    profile = load_profile("analog-ne43")

    assert profile.decode_current(12000, 50) == Sample(2500, "normal", None, 5000, "")
    assert profile.decode_current(12004.8, 100).concentration_centi_pct_lel == 5003
    assert profile.decode_current(4008, 100).concentration_centi_pct_lel == 5


MSA_CASES = [
    (0, "fault", "open wire"),
    (3000, "fault", "detector fault signal (3.0 mA)"),
    (3750, "warmup", "warm-up or calibration signal (3.75 mA)"),
    (3900, "normal", ""),
    (12000, "normal", ""),
    (21000, "over_range", "over-range (21 mA or more)"),
]


@pytest.mark.parametrize("current_ua,status,detail", MSA_CASES)
def test_msa_bands(current_ua, status, detail):
    sample = load_profile("analog-msa").decode_current(current_ua, 100)

    assert (sample.status, sample.detail) == (status, detail)


def test_a_current_that_is_not_a_number_is_a_fault():
    profile = load_profile("analog-ne43")

    assert profile.decode_current(float("nan"), 100).status == "fault"
    assert profile.decode_current(None, 100).status == "fault"
    assert profile.decode_current(float("-inf"), 100).detail == "open wire"
    assert profile.decode_current(float("inf"), 100).status == "over_range"


def test_a_linear_top_band_clamps_absurd_currents_instead_of_crashing():
    document = shipped_document("analog-ne43")
    document["bands"][-1]["reading"] = "linear"
    profile = profile_from_document("linear-top", document)

    assert profile.decode_current(1e308, 100).concentration_centi_pct_lel == (1 << 30) - 1
    assert profile.decode_current(float("inf"), 100).concentration_centi_pct_lel == (1 << 30) - 1
    assert profile.decode_current(22000, 100).concentration_centi_pct_lel == 11250


def test_a_fractional_channel_full_scale_is_accepted():
    assert load_profile("analog-ne43").decode_current(12000, 12.5) == Sample(625, "normal", None, 1250, "")


@pytest.mark.parametrize("full_scale", [0, -5, 0.0, float("nan"), float("inf"), True, None, "100"])
def test_a_bad_channel_full_scale_is_a_configuration_error(full_scale):
    with pytest.raises(ValueError):
        load_profile("analog-ne43").decode_current(12000, full_scale)


# --- Dry contacts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alarm,fault,status,detail",
    [
        (False, None, "normal", ""),
        (False, False, "normal", ""),
        (True, None, "high_alarm", "alarm contact active"),
        (False, True, "fault", "fault contact active"),
        (True, True, "high_alarm", "alarm contact active"),
    ],
)
def test_dry_contacts(alarm, fault, status, detail):
    assert load_profile("contact-dry").decode_contact(alarm, fault) == Sample(None, status, None, None, detail)


# --- Properties: device data never crashes a decoder -------------------------------------------

REGISTER = st.integers(0, 0xFFFF)


@st.composite
def register_blocks(draw, profile):
    return [draw(st.lists(REGISTER, min_size=count, max_size=count)) for _, _, count in profile.reads]


def assert_valid(sample):
    assert isinstance(sample, Sample)
    assert sample.status in constants.STATUSES
    assert sample.concentration_centi_pct_lel is None or type(sample.concentration_centi_pct_lel) is int
    assert sample.full_scale_centi_pct_lel is None or type(sample.full_scale_centi_pct_lel) is int
    assert isinstance(sample.detail, str)
    assert (sample.detail == "") == (sample.status == "normal")


@pytest.mark.parametrize("name", MODBUS)
@given(data=st.data(), gas=st.sampled_from(GASES))
def test_any_register_values_decode_to_a_valid_sample(name, data, gas):
    profile = load_profile(name)

    assert_valid(profile.decode(data.draw(register_blocks(profile)), gas))


@given(
    blocks=st.one_of(
        st.none(),
        st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=12), max_size=3),
        st.lists(st.one_of(st.text(max_size=3), st.lists(st.booleans(), max_size=10)), max_size=2),
    )
)
def test_any_malformed_response_decodes_to_a_fault(blocks):
    sample = cn_decode(blocks)

    assert_valid(sample)
    shaped = isinstance(blocks, list) and len(blocks) == 1 and isinstance(blocks[0], list) and len(blocks[0]) == 10
    if not shaped or not all(type(v) is int and 0 <= v <= 0xFFFF for v in blocks[0]):
        assert sample.status == "fault"


CURRENTS = st.one_of(st.integers(-(10**7), 10**7), st.floats(allow_nan=True, allow_infinity=True))


@pytest.mark.parametrize("name", ANALOG)
@given(current_ua=CURRENTS, full_scale_pct_lel=st.integers(1, 100))
def test_any_loop_current_maps_to_a_valid_status(name, current_ua, full_scale_pct_lel):
    sample = load_profile(name).decode_current(current_ua, full_scale_pct_lel)

    assert_valid(sample)
    if current_ua >= 21000:
        assert sample.status == "over_range"
        assert sample.status not in ("fault", "normal")


@pytest.mark.parametrize("name", ANALOG)
@given(current_ua=st.integers(4000, 20000), full_scale_pct_lel=st.integers(1, 100))
def test_linear_band_reads_between_zero_and_full_scale(name, current_ua, full_scale_pct_lel):
    sample = load_profile(name).decode_current(current_ua, full_scale_pct_lel)

    assert sample.status == "normal"
    assert 0 <= sample.concentration_centi_pct_lel <= full_scale_pct_lel * 100


@given(alarm=st.booleans(), fault=st.one_of(st.none(), st.booleans()))
def test_any_contact_state_maps_to_a_valid_status(alarm, fault):
    sample = load_profile("contact-dry").decode_contact(alarm, fault)

    assert_valid(sample)
    assert (sample.status == "high_alarm") == alarm


def test_status_priority_ranks_every_status_with_over_range_first():
    assert sorted(STATUS_PRIORITY) == sorted(constants.STATUSES)
    assert STATUS_PRIORITY[0] == "over_range"
    assert STATUS_PRIORITY.index("high_alarm") < STATUS_PRIORITY.index("fault") < STATUS_PRIORITY.index("warmup")


# --- Properties: no profile document crashes the loader ----------------------------------------

KNOWN_KEYS = sorted(
    {
        "format", "kind", "description", "notes", "serial", "baud", "parity", "stop_bits", "min_poll_interval_ms",
        "reads", "function", "address", "count", "concentration", "type", "register", "signed", "decimals", "unit",
        "mask", "shift", "codes", "word_order", "full_scale", "pct_lel", "status", "name", "bit", "label", "default",
        "default_label", "heartbeat", "frozen_after_ms", "detail_registers", "commissioning", "identity", "one_of",
        "zero", "span", "write", "min", "max", "zero_ua", "full_scale_ua", "bands", "below_ua", "at_most_ua",
        "reading", "alarm", "fault",
    }
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.sampled_from([0, 1, 2, 3, 4, 15, 16, 125, 255, 0xFFFF, 9600, 20000]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["modbus", "analog", "contact", "int", "float32", "big", "code", "bit", "fault", "0x0A"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=6)), children, max_size=5),
    ),
    max_leaves=25,
)


def load_from_text(text):
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "candidate.json").write_text(text, encoding="utf-8")
        return load_profile("candidate", directory)


@given(document=JSON_VALUES)
def test_any_json_document_loads_or_raises_profile_error(document):
    try:
        profile = load_from_text(json.dumps(document))
    except ProfileError as error:
        assert error.problems
        assert error.source == "candidate.json"
        assert all(problem.path.startswith("$") and problem.message and problem.hint for problem in error.problems)
    else:
        assert profile.kind in ("modbus", "analog", "contact")


@given(text=st.text(max_size=60))
def test_any_text_loads_or_raises_profile_error(text):
    try:
        load_from_text(text)
    except ProfileError:
        pass


def json_paths(value, prefix=()):
    paths = [prefix]
    if isinstance(value, dict):
        for key in value:
            paths.extend(json_paths(value[key], prefix + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.extend(json_paths(item, prefix + (index,)))
    return paths


@st.composite
def mutated_profiles(draw):
    document = copy.deepcopy(shipped_document(draw(st.sampled_from(SHIPPED))))
    for _ in range(draw(st.integers(1, 3))):
        paths = [path for path in json_paths(document) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(KNOWN_KEYS))] = draw(JSON_VALUES)
        else:
            parent.append(draw(JSON_VALUES))
    return document


@given(document=mutated_profiles(), data=st.data())
def test_any_damaged_shipped_profile_loads_or_raises_profile_error_and_still_decodes(document, data):
    try:
        profile = load_from_text(json.dumps(document))
    except ProfileError as error:
        assert error.problems
        return
    if profile.kind == "modbus":
        assert_valid(profile.decode(data.draw(register_blocks(profile)), data.draw(st.sampled_from(GASES))))
    elif profile.kind == "analog":
        assert_valid(profile.decode_current(data.draw(CURRENTS), 100))
    else:
        assert_valid(profile.decode_contact(data.draw(st.booleans()), data.draw(st.booleans())))


@st.composite
def valid_modbus_documents(draw):
    """Random but valid modbus profiles: every decoder path over one read block."""
    address = draw(st.integers(0, 2000))
    count = draw(st.integers(2, 16))
    registers = st.integers(address, address + count - 1)
    masks = st.sampled_from([0xFFFF, 0x00FF, 0xFF00, 0xF000, 0x0F00, 0x0001, 0x8000])

    def coded(values):
        mask = draw(masks)
        shift = draw(st.integers(0, 15).filter(lambda bits: mask >> bits))
        codes = draw(st.dictionaries(st.integers(0, mask >> shift), values, min_size=1, max_size=4))
        codes = {str(code): meaning for code, meaning in codes.items()}
        return {"register": draw(registers), "mask": mask, "shift": shift, "codes": codes}

    units = st.sampled_from(["pct_lel", "pct_vol", "ppm", "mg_m3", "ppb"])
    unit = coded(units) if draw(st.booleans()) else draw(units)
    if draw(st.booleans()):
        register = draw(st.integers(address, address + count - 2))
        word_order = draw(st.sampled_from(["big", "little"]))
        concentration = {"type": "float32", "register": register, "word_order": word_order, "unit": unit}
        full_scale_register = st.integers(address, address + count - 2)
    else:
        decimals = coded(st.integers(0, 4)) if draw(st.booleans()) else draw(st.integers(0, 4))
        register = draw(registers)
        signed = draw(st.booleans())
        concentration = {"type": "int", "register": register, "signed": signed, "decimals": decimals, "unit": unit}
        full_scale_register = registers
    labelled = st.fixed_dictionaries(
        {"status": st.sampled_from(constants.STATUSES), "label": st.text(min_size=1, max_size=5)}
    )
    rules = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            rule = {"type": "bit", "name": "flags", "register": draw(registers), "bit": draw(st.integers(0, 15))}
            rule.update(draw(labelled))
        else:
            rule = coded(labelled)
            rule.update({"type": "code", "name": "state", "default": draw(st.sampled_from(constants.STATUSES))})
        rules.append(rule)
    document = {
        "format": 1,
        "kind": "modbus",
        "description": "generated",
        "serial": {"baud": 9600, "parity": "E", "stop_bits": 1},
        "min_poll_interval_ms": 500,
        "reads": [{"function": draw(st.sampled_from([3, 4])), "address": address, "count": count}],
        "concentration": concentration,
        "status": rules,
        "full_scale": draw(
            st.one_of(
                st.none(),
                st.fixed_dictionaries({"register": full_scale_register}),
                st.fixed_dictionaries({"pct_lel": st.integers(1, 100)}),
            )
        ),
        "heartbeat": draw(
            st.one_of(st.none(), st.fixed_dictionaries({"register": registers, "frozen_after_ms": st.just(20000)}))
        ),
        "detail_registers": draw(st.lists(st.builds(lambda r: {"register": r, "name": "code"}, registers), max_size=2)),
    }
    return document


@given(document=valid_modbus_documents(), data=st.data())
def test_any_valid_modbus_profile_loads_and_decodes_any_registers(document, data):
    profile = load_from_text(json.dumps(document))

    assert_valid(profile.decode(data.draw(register_blocks(profile)), data.draw(st.sampled_from(GASES))))


# --- Same answers on MicroPython ---------------------------------------------------------------

PARITY_CASES = {
    "cn-generic": [cn_image(123, decimals=1, status=code)[0] for code, _, _ in CN_STATUS_CODES]
    + [
        cn_image(50, unit=UNIT_VOL, decimals=2)[0],
        cn_image(5000, unit=UNIT_PPM)[0],
        cn_image(1, unit=UNIT_MG)[0],
        cn_image(12345, decimals=3)[0],
    ],
    "sensepoint-xcl": [
        xcl_image(12.345, flags=flags, state=state, code=1203)[0]
        for flags in (0, 1, 2, 0x10, 0x40)
        for state in (1, 2, 3, 12, 9)
    ]
    + [xcl_image(float("nan"))[0], xcl_image(-0.125)[0], xcl_image(3.0e38)[0]],
    "sensepoint-xcd": [xcd_image(2.5, unit=u)[0] for u in (1, 3, 4, 5, 9)],
    "xgard-iq": [iq_image(33.3, status=s, alarm1=a, alarm2=b)[0] for s in (0, 3, 7) for a in (0, 1) for b in (0, 2)],
    "xgard-bright": [[*float_words(42.42)]],
}
PARITY_SCRIPT = """
import json
from gaslatch.core.detector_profile import load_profile, list_profiles
cases = json.loads(CASES)
out = {"names": list_profiles(), "samples": []}
def row(s):
    return [s.concentration_centi_pct_lel, s.status, s.heartbeat, s.full_scale_centi_pct_lel, s.detail]
for name in sorted(cases):
    profile = load_profile(name)
    for gas in ("methane", "propane"):
        for image in cases[name]:
            out["samples"].append(row(profile.decode([image], gas)))
for name in ("analog-ne43", "analog-msa"):
    profile = load_profile(name)
    for current in (0, 2999, 3000, 3600, 3750, 3999, 4000, 12000, 12000.5, 19999.9, 20500, 21000, 1e9):
        out["samples"].append(row(profile.decode_current(current, 100)))
contact = load_profile("contact-dry")
for alarm, fault in ((False, None), (True, None), (False, True), (True, True)):
    out["samples"].append(row(contact.decode_contact(alarm, fault)))
print(json.dumps(out))
"""


def test_micropython_decodes_every_shipped_profile_as_cpython_does():
    cases = json.dumps(PARITY_CASES)
    script = "CASES = %r\n%s" % (cases, PARITY_SCRIPT)
    namespace = {}
    printed = []
    namespace["print"] = printed.append
    exec(script, namespace)

    micropython = json.loads(run_micropython(script))

    assert micropython == json.loads(printed[0])
    assert micropython["names"] == SHIPPED


# --- Docs --------------------------------------------------------------------------------------


def test_the_installer_docs_describe_every_shipped_profile():
    text = DOCS.read_text(encoding="utf-8")

    for name in SHIPPED:
        assert "`%s`" % name in text


# --- CO and CO2 channels: ppm, never %LEL ------------------------------------------------------------


def s8_decode(meter_status, co2_ppm, measurand="co2"):
    return load_profile("senseair-s8").decode([[meter_status, 0, 0, co2_ppm]], "methane", measurand)


def test_senseair_s8_reads_co2_in_ppm_and_names_its_measurand():
    assert load_profile("senseair-s8").measurands == ("co2",)
    assert s8_decode(0, 2850) == Sample(None, "normal", None, None, "", 285000, 1000000)


@pytest.mark.parametrize("bit, status, label", [
    (0, "fault", "fatal error"), (1, "fault", "offset regulation error"), (2, "fault", "algorithm error"),
    (3, "fault", "output error"), (4, "fault", "self-diagnostics error"), (5, "over_range", "out of range"),
    (6, "fault", "memory error"),
])
def test_senseair_s8_meter_status_flags_are_faults_and_out_of_range_is_danger(bit, status, label):
    sample = s8_decode(1 << bit, 400)

    assert (sample.status, sample.detail) == (status, "meter status b%d %s" % (bit, label))


def test_profiles_without_measurands_measure_combustible_gas_and_cn_generic_also_co_and_co2():
    assert load_profile("sensepoint-xcl").measurands == ("combustible",)
    assert load_profile("cn-generic").measurands == ("combustible", "co", "co2")


@given(raw=st.integers(0, 0xFFFF), decimals=st.sampled_from([0, 1, 2, 3]), measurand=st.sampled_from(["co", "co2"]))
def test_a_toxic_channel_keeps_ppm_exactly_and_never_fills_the_pct_lel_fields(raw, decimals, measurand):
    sample = cn_decode_measurand(cn_image(raw, unit=0x0, decimals=decimals), measurand)

    assert sample.concentration_centi_pct_lel is None and sample.full_scale_centi_pct_lel is None
    assert Fraction(sample.concentration_centi_ppm) == round_fraction(Fraction(raw * 100, 10**decimals))


@pytest.mark.parametrize("unit, label", [(0x2, "%LEL"), (0x6, "mg/m3")])
@pytest.mark.parametrize("measurand", ["co", "co2"])
def test_a_toxic_channel_reporting_pct_lel_or_mg_m3_is_a_fault_never_a_converted_reading(unit, label, measurand):
    sample = cn_decode_measurand(cn_image(50, unit=unit), measurand)

    assert sample.status == "fault" and sample.concentration_centi_ppm is None
    assert sample.detail.startswith("unit %s on a %s channel" % (label, measurand))


def test_a_toxic_channel_converts_ppb_and_pct_vol_to_ppm_exactly():
    assert cn_decode_measurand(cn_image(2500, unit=0x8), "co").concentration_centi_ppm == 250  # 2500 ppb = 2.5 ppm
    assert cn_decode_measurand(cn_image(28, unit=0x4, decimals=2), "co2").concentration_centi_ppm == 280000


def test_a_co2_loop_reads_its_full_scale_in_ppm():
    sample = load_profile("analog-ne43").decode_current(12000, 5000, "co2")

    assert sample == Sample(None, "normal", None, None, "", 250000, 500000)


# cn-generic's gas type codes (register 8, high byte).
GAS_TYPE_CODE = {"combustible": 11, "co": 5, "co2": 6}


def cn_decode_measurand(image, measurand, gas_code=None):
    """Decoded as a channel of `measurand`, the module reporting that gas type unless gas_code says otherwise."""
    image[0][8] = (GAS_TYPE_CODE[measurand] if gas_code is None else gas_code) << 8
    return load_profile("cn-generic").decode(image, "methane", measurand)


def round_fraction(value):
    """Half away from zero, as the decoder rounds."""
    whole = int(abs(value) + Fraction(1, 2))
    return whole if value >= 0 else -whole


def test_a_profile_read_as_a_measurand_it_cannot_measure_gives_a_fault_never_a_converted_reading():
    sample = load_profile("senseair-s8").decode([[0, 0, 0, 2850]], "methane")

    assert (sample.status, sample.concentration_centi_pct_lel, sample.concentration_centi_ppm) == ("fault", None, None)
    assert sample.detail == "profile senseair-s8 measures co2, not combustible"
    assert load_profile("sensepoint-xcl").decode([[0] * 9], "methane", "co").status == "fault"


@pytest.mark.parametrize("code, measurand, fault", [
    (5, "co", False), (6, "co2", False), (11, "combustible", False), (0x21, "co2", False),
    (5, "co2", True), (6, "combustible", True), (11, "co", True),
])
def test_a_cn_generic_module_whose_gas_type_disagrees_with_the_channel_is_a_fault(code, measurand, fault):
    unit = 0x2 if measurand == "combustible" else 0x0
    sample = cn_decode_measurand(cn_image(20, unit=unit), measurand, code)

    assert (sample.status == "fault") == fault
    if fault:
        assert sample.detail.startswith("the device reports gas type code 0x%02X" % code)
