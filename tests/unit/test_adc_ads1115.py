"""ADS1115 driver: config bits per the TI data sheet, code -> µA, fault handling, the sampler thread's hand-over."""

import errno
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core.config import load_config
from gaslatch.core.detector_profile import load_profile
from gaslatch.unit import adc_ads1115 as adc
from gaslatch.unit.adc_ads1115 import AdcError, Ads1115Sampler, choose_gain, code_to_ua, config_word, open_adc
from gaslatch_tools.testing.waiting import wait_until

FULL_SCALE_V = {0b000: 6.144, 0b001: 4.096, 0b010: 2.048, 0b011: 1.024, 0b100: 0.512, 0b101: 0.256}


class FakeAds1115:
    """An ADS1115 behind the I2C file interface: a pointer register, a config register and a conversion register."""

    def __init__(self, volts=None):
        self.volts = dict(volts or {})  # channel number 0-3 -> volts at AINx
        self.pointer = 0
        self.config = 0x8583  # power-on default
        self.conversion = 0
        self.busy_reads = 0  # config reads that still report "converting"
        self.busy_reads_per_conversion = 2
        self.address = None
        self.config_writes = []
        self.fail_with = None  # an OSError to raise on the next access
        self.never_finishes = False
        self.config_readback_xor = 0
        self.closed = False
        self.gate = None  # an Event the next read waits on (to hold the sampler mid-conversion)
        self.waiting = threading.Event()

    def ioctl(self, request, arg):
        assert request == 0x0703
        self.address = arg

    def _maybe_fail(self):
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error

    def write(self, data):
        self._maybe_fail()
        self.pointer = data[0]
        if len(data) == 3:
            assert self.pointer == 0b01
            word = data[1] << 8 | data[2]
            self.config_writes.append(word)
            self.config = word & 0x7FFF
            if word & 0x8000:
                self._convert()

    def _convert(self):
        channel = (self.config >> 12) - 0b100
        assert 0 <= channel <= 3, "single-ended inputs only"
        full_scale = FULL_SCALE_V[(self.config >> 9) & 0b111]
        code = round(self.volts.get(channel, 0.0) / full_scale * 32768)
        self.conversion = max(-32768, min(32767, code)) & 0xFFFF
        self.busy_reads = self.busy_reads_per_conversion

    def read(self, count):
        assert count == 2
        if self.gate is not None:
            gate, self.gate = self.gate, None
            self.waiting.set()
            gate.wait(10)
        self._maybe_fail()
        if self.pointer == 0b01:
            if self.busy_reads and not self.never_finishes:
                self.busy_reads -= 1
            ready = not self.busy_reads and not self.never_finishes
            value = (self.config ^ self.config_readback_xor) | (0x8000 if ready else 0)
        else:
            value = self.conversion
        return value.to_bytes(2, "big")

    def close(self):
        self.closed = True


class Clock:
    """Injected time: sleeping advances it."""

    def __init__(self):
        self.now_ms = 0

    def ms(self):
        return int(self.now_ms)

    def sleep_s(self, seconds):
        self.now_ms += seconds * 1000


def make_sampler(device, clock, channels=("ain0", "ain1", "ain2", "ain3"), shunt_ohm=150, period_ms=250, opened=None):
    def open_bus(path):
        if opened is not None:
            opened.append(path)
        if isinstance(device, Exception):
            raise device
        device.closed = False
        return device

    return Ads1115Sampler(1, 0x48, shunt_ohm, period_ms, channels, open_bus, clock.ms, clock.sleep_s)


# ---- register bits (TI SBAS444, Config Register Field Descriptions) ----

@pytest.mark.parametrize("channel, word", [("ain0", 0xC383), ("ain1", 0xD383), ("ain2", 0xE383), ("ain3", 0xF383)])
def test_config_word_starts_one_single_ended_single_shot_conversion_at_4v096_128sps_comparator_off(channel, word):
    pga_bits, _ = choose_gain(150)
    assert config_word(channel, pga_bits) == word
    assert word >> 15 == 1  # OS: start a single conversion
    assert (word >> 12) & 0b111 == 0b100 + int(channel[-1])  # MUX: AINx against GND
    assert (word >> 9) & 0b111 == 0b001  # PGA: ±4.096 V
    assert (word >> 8) & 1 == 1  # MODE: single-shot
    assert (word >> 5) & 0b111 == 0b100  # DR: 128 SPS
    assert word & 0b11111 == 0b00011  # comparator disabled


@pytest.mark.parametrize("shunt_ohm, bits, full_scale_uv", [
    (150, 0b001, 4_096_000),  # 21 mA -> 3.15 V
    (100, 0b001, 4_096_000),  # 2.1 V is just above the 2.048 V range
    (97, 0b010, 2_048_000),
    (250, 0b000, 6_144_000),
    (10, 0b101, 256_000),
])
def test_the_gain_is_the_smallest_range_that_still_reaches_21_ma(shunt_ohm, bits, full_scale_uv):
    assert choose_gain(shunt_ohm) == (bits, full_scale_uv)


def test_a_shunt_that_no_range_can_measure_at_21_ma_is_refused():
    with pytest.raises(AdcError, match="shunt_ohm 300.*6.30 V"):
        Ads1115Sampler(1, 0x48, 300, 250)


def test_a_channel_the_ads1115_does_not_have_is_refused():
    with pytest.raises(AdcError, match="'ai0'.*ain0, ain1, ain2, ain3"):
        Ads1115Sampler(1, 0x48, 150, 250, ["ai0"])


# ---- conversion math ----

def test_three_volts_over_150_ohm_is_20000_ua():
    device = FakeAds1115({0: 3.0, 1: 0.6, 2: 0.0, 3: 3.15})
    clock = Clock()
    sampler = make_sampler(device, clock)
    sampler.sample_once()
    assert sampler.latest() == {"ain0": 20000, "ain1": 4000, "ain2": 0, "ain3": 21000}
    assert device.address == 0x48
    assert device.config_writes == [0xC383, 0xD383, 0xE383, 0xF383]
    assert sampler.last_error is None


@given(shunt_ohm=st.integers(10, 290), current_ua=st.integers(0, 21000))
def test_a_loop_current_reads_back_within_one_code_of_the_truth(shunt_ohm, current_ua):
    _, full_scale_uv = choose_gain(shunt_ohm)
    code = round(current_ua * shunt_ohm / full_scale_uv * 32768)
    one_code_ua = full_scale_uv / 32768 / shunt_ohm
    assert abs(code_to_ua(code, full_scale_uv, shunt_ohm) - current_ua) <= one_code_ua + 1


@given(shunt_ohm=st.one_of(st.floats(10, 292), st.sampled_from([4_096_000 / 21_000, 2_048_000 / 21_000])))
def test_a_clipped_reading_is_always_in_the_over_range_band(shunt_ohm):
    _, full_scale_uv = choose_gain(shunt_ohm)
    assert code_to_ua(32767, full_scale_uv, shunt_ohm) >= 21000


@given(word=st.integers(0, 0xFFFF))
def test_conversion_codes_are_twos_complement(word):
    signed = adc._signed16(word)
    assert -32768 <= signed <= 32767
    assert signed & 0xFFFF == word


def test_fault_bands_of_the_analog_profile_come_out_of_the_adc_readings():
    profile = load_profile("analog-ne43")
    device = FakeAds1115({0: 0.0, 1: 0.45, 2: 1.8, 3: 5.0})  # open wire, 3 mA, 12 mA, clipped
    sampler = make_sampler(device, Clock())
    sampler.sample_once()
    values = sampler.latest()
    assert profile.decode_current(values["ain0"], 100).status == "fault"
    assert profile.decode_current(values["ain1"], 100).status == "fault"
    assert profile.decode_current(values["ain2"], 100).concentration_centi_pct_lel == 5000
    assert profile.decode_current(values["ain3"], 100).status == "over_range"


# ---- faults ----

def test_an_i2c_error_makes_that_channel_none_and_the_next_round_reopens_the_bus():
    device = FakeAds1115({0: 3.0, 1: 3.0})
    opened = []
    sampler = make_sampler(device, Clock(), channels=("ain0", "ain1"), opened=opened)
    sampler.sample_once()
    device.fail_with = OSError(errno.EREMOTEIO, "Remote I/O error")
    sampler.sample_once()
    assert sampler.latest() == {"ain0": None, "ain1": 20000}
    assert "0x48 on /dev/i2c-1" in sampler.last_error and "i2cdetect" in sampler.last_error
    assert len(opened) == 2  # closed after the error, opened again for ain1
    sampler.sample_once()
    assert sampler.latest() == {"ain0": 20000, "ain1": 20000}
    assert sampler.last_error is None


def test_a_missing_i2c_adapter_reads_none_and_says_how_to_enable_i2c():
    sampler = make_sampler(FileNotFoundError(errno.ENOENT, "No such file or directory"), Clock())
    sampler.sample_once()
    assert sampler.latest() == {"ain0": None, "ain1": None, "ain2": None, "ain3": None}
    assert "enable I2C" in sampler.last_error


def test_a_file_that_is_not_an_i2c_adapter_reads_none_through_the_real_device_code(tmp_path):
    not_i2c = tmp_path / "i2c-1"
    not_i2c.write_bytes(b"")
    sampler = Ads1115Sampler(1, 0x48, 150, 250, ["ain0"], lambda path: adc.LinuxI2cBus(str(not_i2c)))
    sampler.sample_once()
    assert sampler.latest() == {"ain0": None}
    assert "not an I2C adapter" in sampler.last_error


def test_a_conversion_that_never_finishes_reads_none():
    device = FakeAds1115({0: 3.0})
    device.never_finishes = True
    clock = Clock()
    sampler = make_sampler(device, clock, channels=("ain0",))
    sampler.sample_once()
    assert sampler.latest() == {"ain0": None}
    assert "did not finish within 34 ms" in sampler.last_error
    assert clock.now_ms < 40


def test_a_config_register_that_does_not_read_back_is_not_trusted():
    device = FakeAds1115({0: 3.0})
    device.config_readback_xor = 0x1000  # the MUX reads back another channel
    sampler = make_sampler(device, Clock(), channels=("ain0",))
    sampler.sample_once()
    assert sampler.latest() == {"ain0": None}
    assert "is this an ADS1115" in sampler.last_error


def test_a_value_older_than_three_sample_periods_reads_none():
    clock = Clock()
    sampler = make_sampler(FakeAds1115({0: 3.0}), clock, channels=("ain0",), period_ms=250)
    sampler.sample_once()
    sampled_at_ms = clock.ms()
    clock.now_ms = sampled_at_ms + 750
    assert sampler.latest() == {"ain0": 20000}
    clock.now_ms = sampled_at_ms + 751
    assert sampler.latest() == {"ain0": None}


def test_the_first_conversion_is_read_only_once_the_device_reports_it_finished():
    device = FakeAds1115({0: 3.0})
    device.busy_reads_per_conversion = 5
    sampler = make_sampler(device, Clock(), channels=("ain0",))
    sampler.sample_once()
    assert sampler.latest() == {"ain0": 20000}
    assert device.busy_reads == 0


# ---- the thread ----

def wait_for(condition, timeout_s=5.0):
    return wait_until(condition, timeout_s, interval_s=0.001, what="the sampler thread")


def test_the_sampler_thread_publishes_and_latest_never_waits_for_a_conversion():
    device = FakeAds1115({0: 3.0})
    sampler = Ads1115Sampler(1, 0x48, 150, 100, ["ain0"], lambda path: device)
    sampler.start()
    try:
        wait_for(lambda: sampler.latest()["ain0"] == 20000)
        device.volts[0] = 1.8
        gate = threading.Event()
        device.gate = gate  # the next I2C read blocks, as a slow bus would
        wait_for(device.waiting.is_set)
        answered = []  # latest() from another thread while the read is still blocked: it answers, gate shut
        asker = threading.Thread(target=lambda: answered.append(sampler.latest()), daemon=True)
        asker.start()
        wait_for(lambda: answered)
        assert answered == [{"ain0": 20000}] and not gate.is_set()
        gate.set()
        wait_for(lambda: sampler.latest()["ain0"] == 12000)
    finally:
        sampler.close()
    assert device.closed


def test_open_adc_samples_only_the_channels_the_analog_detectors_use():
    cfg = load_config({
        "unit": {"site": "s", "name": "n"},
        "detectors": {
            "store": {"kind": "analog", "channel": "ain2"},
            "hood": {"kind": "analog", "channel": "ain0"},
            "boiler": {"kind": "contact", "line": "boiler_alarm"},
        },
        "analog": {"i2c_bus": 3, "address": 73, "sample_period_ms": 100},
    })
    device = FakeAds1115({0: 0.6, 2: 3.0})
    paths = []

    def open_bus(path):
        paths.append(path)
        return device

    sampler = open_adc(cfg, open_bus)
    try:
        wait_for(lambda: sampler.latest() == {"ain0": 4000, "ain2": 20000})
    finally:
        sampler.close()
    assert paths[0] == "/dev/i2c-3"
    assert device.address == 73


def test_without_analog_detectors_nothing_is_opened():
    cfg = load_config({"unit": {"site": "s", "name": "n"},
                       "detectors": {"boiler": {"kind": "contact", "line": "boiler_alarm"}}})

    def open_bus(path):
        raise AssertionError("no I2C without analog detectors")

    sampler = open_adc(cfg, open_bus)
    assert sampler.latest() == {}
    sampler.close()
