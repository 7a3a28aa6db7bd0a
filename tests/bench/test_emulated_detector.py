"""The profile-driven emulated detector, tested through the wire: real requests in, replies parsed and decoded."""

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gaslatch.core import modbus_rtu as rtu
from gaslatch.core.constants import LEL_PCT_VOL
from gaslatch.core.detector_profile import list_profiles, load_profile, round_half_away
from gaslatch_tools.bench.emulated_detector import EmulatedDetector
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.kitchen_sim import STATUS_SENSOR_FAULT, SimDetector, reply_to

MODBUS_PROFILES = [name for name in list_profiles() if load_profile(name).kind == "modbus"]


def detector(profile_name="cn-generic", gas=None, address=1, **options):
    """An emulated detector of the profile's first measurand (combustible gas, or CO2 for senseair-s8)."""
    options.setdefault("measurand", load_profile(profile_name).measurands[0])
    if options["measurand"] != "combustible":
        options.setdefault("full_scale_pct_lel", 10000)  # in ppm for a CO or CO2 detector
    return EmulatedDetector(profile_name, address, gas, clock=lambda: 0.0, **options)


def reading(decoded):
    """A sample's reading in its own unit: hundredths of %LEL, or of ppm for a CO or CO2 detector."""
    if decoded.concentration_centi_ppm is not None:
        return decoded.concentration_centi_ppm
    return decoded.concentration_centi_pct_lel


def poll(det, now_s, slave=None):
    """The profile's reads sent as real requests; the register blocks parsed from the replies."""
    blocks = []
    for function, first, count in det.profile.reads:
        request = rtu.read_registers_request(slave or det.address, function, first, count)
        blocks.append(rtu.parse_response(request, det.respond(request, now_s)))
    return blocks


def sample(det, now_s, gas_name="methane"):
    return det.profile.decode(poll(det, now_s), gas_name, det.measurand)


def exception_code(det, request, now_s=1.0):
    with pytest.raises(rtu.FrameError) as caught:
        rtu.parse_response(request, det.respond(request, now_s))
    return caught.value.exception_code


def write(det, register, value, now_s=1.0):
    request = rtu.write_register_request(det.address, register, value)
    return rtu.parse_response(request, det.respond(request, now_s))


def broadcast(function, address, value):
    body = bytes((0, function, address >> 8, address & 0xFF, value >> 8, value & 0xFF))
    crc = rtu.crc16(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def test_every_shipped_modbus_profile_is_emulated():
    assert {"cn-generic", "sensepoint-xcl", "xgard-iq"} <= set(MODBUS_PROFILES)
    for name in MODBUS_PROFILES:
        value = 12.5 if load_profile(name).measurands[0] == "combustible" else 1250.0
        assert reading(sample(detector(name, GasModel(value)), 1.0)) == value * 100


@given(tenths_pct_lel=st.integers(0, 1500), failed=st.booleans(), warming_up=st.booleans())
@example(tenths_pct_lel=1000, failed=False, warming_up=False)  # exactly full scale: not yet over-range
def test_kitchen_sims_cn_generic_detector_reports_what_the_emulated_one_reports(tenths_pct_lel, failed, warming_up):
    """kitchen_sim keeps its own cn-generic detector (it must run under MicroPython, which the emulator's
    imports do not); on the wire it agrees with the one detector model, warming up, failed, at and above full
    scale included."""
    sim = SimDetector(1, warmup_polls=1 if warming_up else 0)
    sim.gas_tenths_pct_lel = tenths_pct_lel
    emulated = detector("cn-generic", GasModel(tenths_pct_lel / 10.0) if tenths_pct_lel else None,
                        warmup_s=10.0 if warming_up else 0.0)
    if failed:
        sim.status = STATUS_SENSOR_FAULT
        emulated.faults.sensor_fault = True
    blocks = []
    for function, first, count in emulated.profile.reads:
        request = rtu.read_registers_request(1, function, first, count)
        blocks.append(rtu.parse_response(request, reply_to({1: sim}, request)))
    from_sim = emulated.profile.decode(blocks, "methane")
    from_emulated = sample(emulated, 1.0)
    assert from_sim == from_emulated


@given(name=st.sampled_from(MODBUS_PROFILES), pct=st.floats(0.0, 100.0), data=st.data())
def test_decoding_what_the_emulator_sends_gives_back_the_gas_and_each_status_it_can_show(name, pct, data):
    det = detector(name, GasModel(pct))
    status = data.draw(st.sampled_from(det.expressible_statuses))
    if status != "normal":
        det.faults.forced_status = status
    decoded = sample(det, 1.0)
    assert decoded.status == status
    expected = round_half_away(pct * 100)
    assert abs(reading(decoded) - expected) <= det.resolution_centi_pct_lel / 2 + 1


@given(unit=st.sampled_from(["pct_lel", "pct_vol", "ppm"]), gas_name=st.sampled_from(sorted(LEL_PCT_VOL)),
       pct=st.floats(0.0, 100.0))
def test_each_coded_unit_and_scale_round_trips_for_each_gas(unit, gas_name, pct):
    det = detector("cn-generic", GasModel(pct), unit=unit, gas_name=gas_name)
    decoded = sample(det, 1.0, gas_name)
    assert decoded.status == "normal"
    assert abs(decoded.concentration_centi_pct_lel - round_half_away(pct * 100)) <= det.resolution_centi_pct_lel / 2 + 1
    assert decoded.full_scale_centi_pct_lel == pytest.approx(10000, abs=det.resolution_centi_pct_lel / 2 + 1)


def test_the_scale_defaults_to_the_most_decimals_that_hold_full_scale_and_can_be_chosen():
    assert (detector().unit, detector().decimals) == ("pct_lel", 2)
    assert detector(unit="ppm").decimals == 0  # 100 %LEL methane = 50000 ppm
    one_decimal = detector(gas=GasModel(12.34), decimals=1)
    assert one_decimal.registers(1.0)[1] == 123
    with pytest.raises(ValueError, match="decimals"):
        detector(decimals=4)
    with pytest.raises(ValueError, match="unit"):
        detector("xgard-iq", unit="ppm")


@pytest.mark.parametrize("name", MODBUS_PROFILES)
def test_a_bus_scan_recognises_the_emulated_model_by_its_identity_registers(name):
    det = detector(name)
    for item in det.profile.commissioning["identity"]:
        request = rtu.read_registers_request(det.address, item["function"], item["register"], 1)
        value = rtu.parse_response(request, det.respond(request, 1.0))[0]
        assert (value & item["mask"]) >> item["shift"] in item["one_of"]


def test_serial_settings_default_to_the_profile_and_can_be_given():
    det = detector("xgard-iq")
    assert (det.baud, det.parity, det.stop_bits) == (38400, "N", 2)
    det = detector("xgard-iq", baud=9600, parity="E", stop_bits=1)
    assert (det.baud, det.parity, det.stop_bits) == (9600, "E", 1)


def test_gas_above_full_scale_reads_full_scale_with_the_over_range_status():
    decoded = sample(detector("cn-generic", GasModel(150.0)), 1.0)
    assert (decoded.concentration_centi_pct_lel, decoded.status) == (10000, "over_range")


def test_a_profile_without_an_over_range_status_shows_over_range_gas_at_full_scale():
    decoded = sample(detector("xgard-iq", GasModel(150.0)), 1.0)
    assert (decoded.concentration_centi_pct_lel, decoded.status) == (10000, "normal")


def test_the_detector_warms_up_after_power_on_and_after_a_power_cycle():
    det = EmulatedDetector("cn-generic", 1, GasModel(20.0), clock=lambda: 100.0, warmup_s=60.0)
    assert (sample(det, 130.0).status, sample(det, 130.0).concentration_centi_pct_lel) == ("warmup", 0)
    assert (sample(det, 160.0).status, sample(det, 160.0).concentration_centi_pct_lel) == ("normal", 2000)
    det.power_cycle(200.0)
    assert sample(det, 259.9).status == "warmup"
    assert sample(det, 260.0).status == "normal"


def test_a_profile_without_a_warm_up_status_reads_zero_while_warming_up():
    det = detector("xgard-iq", GasModel(20.0), warmup_s=30.0)
    assert (sample(det, 10.0).status, sample(det, 10.0).concentration_centi_pct_lel) == ("normal", 0)


def test_the_warm_up_fault_shows_warm_up_until_cleared():
    det = detector("sensepoint-xcl", GasModel(5.0))
    det.faults.warmup = True
    assert sample(det, 50.0).status == "warmup"
    det.faults.warmup = False
    assert sample(det, 51.0).status == "normal"


def test_the_heartbeat_steps_at_the_profiles_pace_and_stops_while_frozen():
    det = detector("sensepoint-xcl")  # frozen after 20 s: steps every 5 s
    assert [sample(det, t).heartbeat for t in (0.0, 4.9, 5.0, 12.0)] == [0, 0, 1, 2]
    det.faults.frozen_heartbeat = True
    assert sample(det, 40.0).heartbeat == 2
    det.faults.frozen_heartbeat = False
    assert sample(det, 43.0).heartbeat == 3
    det.power_cycle(50.0)
    assert sample(det, 50.0).heartbeat == 0


def test_a_heartbeat_period_can_be_given_and_a_profile_without_one_cannot_freeze():
    det = detector("sensepoint-xcl", heartbeat_period_s=1.0)
    assert sample(det, 3.5).heartbeat == 3
    with pytest.raises(ValueError, match="no heartbeat"):
        detector("xgard-iq").faults.frozen_heartbeat = True


def test_a_stuck_value_holds_the_last_reading_while_the_gas_rises():
    det = detector("cn-generic", GasModel().ramp(0.0, 100.0, 50.0))
    assert sample(det, 20.0).concentration_centi_pct_lel == 1000
    det.faults.stuck_value = True
    assert sample(det, 60.0).concentration_centi_pct_lel == 1000
    det.faults.stuck_value = False
    assert sample(det, 60.0).concentration_centi_pct_lel == 3000


def test_a_sensor_fault_shows_the_profiles_sensor_fault_code():
    det = detector("cn-generic", GasModel(30.0))
    det.faults.sensor_fault = True
    decoded = sample(det, 1.0)
    assert (decoded.status, decoded.concentration_centi_pct_lel) == ("fault", 0)
    assert "sensor fault" in decoded.detail
    with pytest.raises(ValueError, match="cannot show a fault"):
        detector("xgard-bright").faults.sensor_fault = True


@pytest.mark.parametrize("name", ["cn-generic", "sensepoint-xcl", "xgard-iq"])
def test_a_forced_high_alarm_shows_before_the_reading_rises(name):
    det = detector(name, GasModel(0.0))
    det.faults.forced_status = "high_alarm"
    decoded = sample(det, 1.0)
    assert (decoded.status, decoded.concentration_centi_pct_lel) == ("high_alarm", 0)


@pytest.mark.parametrize("name", ["cn-generic", "sensepoint-xcl", "xgard-iq"])
def test_a_flapping_status_alternates_with_normal_on_every_read(name):
    det = detector(name, GasModel(2.0))
    det.faults.flapping_status = "high_alarm"
    assert [sample(det, 1.0 + i).status for i in range(6)] == ["high_alarm", "normal"] * 3
    det.faults.flapping_status = None
    assert sample(det, 7.0).status == "normal"


def test_a_status_the_profile_cannot_show_cannot_be_forced():
    with pytest.raises(ValueError, match="cannot show status 'pre_alarm'"):
        detector("xgard-iq").faults.forced_status = "pre_alarm"
    with pytest.raises(ValueError, match="cannot show status 'pre_alarm'"):
        detector("xgard-iq").faults.flapping_status = "pre_alarm"


def test_the_modbus_exception_fault_answers_every_request_with_its_code():
    det = detector()
    det.faults.modbus_exception = rtu.SLAVE_DEVICE_BUSY
    assert exception_code(det, rtu.read_registers_request(1, 3, 0, 10)) == rtu.SLAVE_DEVICE_BUSY
    det.faults.clear()
    assert sample(det, 1.0).status == "normal"


def test_unmapped_registers_and_functions_get_the_proper_exceptions():
    det = detector()
    assert exception_code(det, rtu.read_registers_request(1, 3, 8, 4)) == rtu.ILLEGAL_DATA_ADDRESS
    assert exception_code(det, rtu.read_registers_request(1, 4, 0, 10)) == rtu.ILLEGAL_FUNCTION
    assert exception_code(det, rtu.write_register_request(1, 1, 5)) == rtu.ILLEGAL_DATA_ADDRESS
    body = bytes((1, 0x2B, 0x0E, 0x01, 0x00))
    crc = rtu.crc16(body)
    reply = det.respond(body + bytes((crc & 0xFF, crc >> 8)), 1.0)
    assert reply[:3] == bytes((1, 0x2B | 0x80, rtu.ILLEGAL_FUNCTION))
    commissioning = rtu.read_registers_request(1, 3, 16, 4)
    assert rtu.parse_response(commissioning, det.respond(commissioning, 1.0)) == [1, 2, 0, 0]


def test_bad_crc_other_addresses_and_broadcast_reads_get_no_reply():
    det = detector()
    request = rtu.read_registers_request(1, 3, 0, 10)
    assert det.respond(request[:-1] + bytes((request[-1] ^ 0xFF,)), 1.0) is None
    assert det.respond(rtu.read_registers_request(2, 3, 0, 10), 1.0) is None
    assert det.respond(broadcast(3, 0, 10), 1.0) is None


@given(frame=st.binary(max_size=40), with_crc=st.booleans(), address_it=st.booleans())
def test_any_bytes_get_silence_or_a_well_formed_reply_from_the_detectors_address(frame, with_crc, address_it):
    det = detector()
    if address_it and frame:
        frame = bytes((1,)) + frame[1:]
    if with_crc:
        crc = rtu.crc16(frame)
        frame += bytes((crc & 0xFF, crc >> 8))
    reply = det.respond(frame, 1.0)
    if reply is not None:
        assert reply[0] == 1
        assert rtu.crc16(reply[:-2]) == reply[-2] | (reply[-1] << 8)


def test_a_zero_calibration_reads_zero_and_survives_a_power_cycle():
    det = detector("cn-generic", GasModel().drift(6.0))  # +1 %LEL after 10 min
    assert sample(det, 600.0).concentration_centi_pct_lel == 100
    assert write(det, 18, 1, 600.0) == (18, 1)
    assert sample(det, 600.0).concentration_centi_pct_lel == 0
    assert det.registers(600.0)[18] == 1
    det.power_cycle(660.0)
    assert sample(det, 660.0).concentration_centi_pct_lel == 10
    assert det.calibration.zero_pct_lel == pytest.approx(1.0)


def test_a_span_calibration_makes_the_span_gas_read_its_concentration():
    det = detector("cn-generic", GasModel(40.0))
    assert write(det, 19, 5000, 10.0) == (19, 5000)  # 50.00 %LEL span gas, in the raw scale
    assert sample(det, 10.0).concentration_centi_pct_lel == 5000
    assert det.calibration.gain == pytest.approx(1.25)
    assert det.registers(10.0)[19] == 5000


def test_calibration_is_refused_while_warming_up_and_without_span_gas():
    det = detector("cn-generic", GasModel(0.0), warmup_s=60.0)
    assert exception_code(det, rtu.write_register_request(1, 18, 1), 30.0) == rtu.SLAVE_DEVICE_BUSY
    assert exception_code(det, rtu.write_register_request(1, 19, 5000), 30.0) == rtu.SLAVE_DEVICE_BUSY
    assert exception_code(det, rtu.write_register_request(1, 19, 5000), 90.0) == rtu.SLAVE_DEVICE_FAILURE
    assert exception_code(det, rtu.write_register_request(1, 19, 0), 90.0) == rtu.ILLEGAL_DATA_VALUE
    assert exception_code(det, rtu.write_register_request(1, 18, 2), 90.0) == rtu.ILLEGAL_DATA_VALUE
    assert det.calibration.gain == 1.0


def test_a_new_address_takes_effect_after_the_reply_from_the_old_one():
    det = detector(address=1)
    request = rtu.write_register_request(1, 16, 9)
    reply = det.respond(request, 1.0)
    assert rtu.parse_response(request, reply) == (16, 9)
    assert det.address == 9
    assert det.respond(rtu.read_registers_request(1, 3, 0, 10), 2.0) is None
    assert sample(det, 2.0).status == "normal"
    assert exception_code(det, rtu.write_register_request(9, 16, 0)) == rtu.ILLEGAL_DATA_VALUE


def test_a_broadcast_address_write_is_applied_without_a_reply():
    det = detector(address=4)
    assert det.respond(broadcast(6, 16, 12), 1.0) is None
    assert det.address == 12


def test_a_new_baud_rate_takes_effect_after_the_reply():
    det = detector()
    assert write(det, 17, 3) == (17, 3)
    assert (det.baud, det.parity, det.stop_bits) == (19200, "N", 1)
    assert det.registers(1.0)[17] == 3
    assert exception_code(det, rtu.write_register_request(1, 17, 9)) == rtu.ILLEGAL_DATA_VALUE
    assert det.baud == 19200


def test_address_and_baud_can_be_written_in_one_request():
    det = detector()
    request = rtu.write_registers_request(1, 16, [5, 4])
    assert rtu.parse_response(request, det.respond(request, 1.0)) == (16, 2)
    assert (det.address, det.baud) == (5, 38400)


@pytest.mark.parametrize("name", ["sensepoint-xcl", "xgard-iq"])
def test_a_profile_without_commissioning_registers_refuses_address_writes(name):
    det = detector(name)
    assert exception_code(det, rtu.write_register_request(1, 16, 9)) == rtu.ILLEGAL_DATA_ADDRESS
    assert det.address == 1


def test_a_detector_that_cannot_be_emulated_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="analog profile"):
        detector("analog-ne43")
    with pytest.raises(ValueError, match="fixed full scale of 100"):
        detector("xgard-iq", full_scale_pct_lel=50)
    with pytest.raises(ValueError, match="address must be 1..247"):
        detector(address=0)


def test_a_register_full_scale_follows_the_detectors_range():
    det = detector("cn-generic", GasModel(80.0), full_scale_pct_lel=50)
    decoded = sample(det, 1.0)
    assert (decoded.full_scale_centi_pct_lel, decoded.concentration_centi_pct_lel) == (5000, 5000)
    assert decoded.status == "over_range"



SYNTHETIC = {
    "float-little-input": {
        "concentration": {"type": "float32", "register": 20, "word_order": "little", "unit": "pct_vol"},
        "status": [{"type": "bit", "name": "flags", "register": 22, "bit": 3, "status": "low_alarm", "label": "A1"}],
    },
    "signed-int-input": {
        "concentration": {"type": "int", "register": 20, "signed": True, "decimals": 0, "unit": "ppm"},
        "status": [{"type": "code", "name": "state", "register": 21, "mask": "0x0F00", "shift": 8,
                    "codes": {"1": {"status": "normal", "label": "ok"}, "2": {"status": "warmup", "label": "w"}}}],
    },
}


def synthetic(tmp_path, name, gas, **options):
    document = {"format": 1, "kind": "modbus", "description": "synthetic", "min_poll_interval_ms": 100,
                "serial": {"baud": 9600, "parity": "E", "stop_bits": 1},
                "reads": [{"function": 4, "address": 20, "count": 3}]}
    document.update(SYNTHETIC[name])
    (tmp_path / (name + ".json")).write_text(json.dumps(document))
    return EmulatedDetector(name, 1, gas, clock=lambda: 0.0, gas_name="propane", profile_dir=str(tmp_path), **options)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_a_profile_of_any_shape_the_format_allows_is_emulated(tmp_path, name):
    det = synthetic(tmp_path, name, GasModel(37.21), warmup_s=10.0)
    assert det.parity == "E"
    assert sample(det, 5.0, "propane").status == ("warmup" if "warmup" in det.expressible_statuses else "normal")
    decoded = sample(det, 20.0, "propane")
    assert decoded.concentration_centi_pct_lel == pytest.approx(3721, abs=det.resolution_centi_pct_lel / 2 + 1)
    assert exception_code(det, rtu.read_registers_request(1, 3, 20, 3)) == rtu.ILLEGAL_FUNCTION


def test_a_negative_drift_reads_negative_where_the_register_is_signed_and_zero_where_not(tmp_path):
    drifting = GasModel().drift(-60.0)  # -1 %LEL after a minute
    signed = synthetic(tmp_path, "signed-int-input", drifting)
    assert sample(signed, 60.0, "propane").concentration_centi_pct_lel == pytest.approx(-100, abs=1)
    assert sample(detector("cn-generic", drifting), 60.0).concentration_centi_pct_lel == 0


@given(ppm=st.integers(0, 5000), profile=st.sampled_from(["cn-generic", "senseair-s8"]))
def test_an_emulated_co2_detector_reports_ppm_never_pct_lel(ppm, profile):
    det = detector(profile, GasModel(float(ppm)) if ppm else None, measurand="co2")
    decoded = sample(det, 1.0)

    assert decoded.concentration_centi_pct_lel is None
    assert (decoded.status, decoded.concentration_centi_ppm) == ("normal", ppm * 100)


def test_an_emulated_co2_detector_above_its_full_scale_is_over_range():
    decoded = sample(detector("cn-generic", GasModel(4000.0), measurand="co2", full_scale_pct_lel=3000), 1.0)

    assert (decoded.status, decoded.concentration_centi_ppm) == ("over_range", 300000)
