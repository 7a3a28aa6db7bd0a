"""The bus commands (scan, live, set-address, set-baud, calibrate) end to end on the bench's emulated bus.

Each test runs the command as an installer does (click's runner for --json, a real pty for prompts and
progress) against EmulatedBus + EmulatedDetector and checks what the detectors and the record end up with.
"""

import ctypes
import grp
import json
import os
import re
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core.modbus_rtu import BAUDS, MAX_SLAVE, MIN_SLAVE, PARITIES
from gaslatch_tools.bench.emulated_bus import EmulatedBus
from gaslatch_tools.bench.emulated_detector import EmulatedDetector
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.commission.bus_client import BusClient, BusError
from gaslatch_tools.commission.bus_scan import parse_addresses, parse_bauds, parse_parities
from gaslatch_tools.commission.calibration import Steadiness
from gaslatch_tools.commission.cli import commission
from gaslatch_tools.testing.terminal import run_in_terminal

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


@pytest.fixture
def link(short_dir):
    return os.path.join(short_dir, "ttyRS485")


@pytest.fixture
def record_path(short_dir):
    return os.path.join(short_dir, "commissioning.json")


@pytest.fixture
def clock():
    """Scenario time from 0, shared by the bus and the detectors (GasModel timelines start at 0)."""
    t0 = time.monotonic()
    return lambda: time.monotonic() - t0


@pytest.fixture
def bus(link, clock):
    with EmulatedBus(link, 9600, clock=clock) as emulated:
        yield emulated


def detector(bus, clock, profile, address, **kwargs):
    emulated = EmulatedDetector(profile, address, clock=clock, **kwargs)
    bus.add(emulated)
    return emulated


# A scan that must find what is there waits 250 ms for each reply, not the 30 ms default: the emulated detectors
# answer from a thread of this process, which a loaded machine (two test workers on two CPUs) can hold back longer.
# What the default wait misses is its own test (a reply later than the scan wait).
PATIENT = ("--timeout-ms", "250")


def run(record_path, *args):
    """`gaslatch commission --record R --json ARGS` -> (exit code, the JSON object on stdout)."""
    result = CliRunner().invoke(commission, ["--record", record_path, "--json"] + [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, json.loads(result.stdout)


def run_text(record_path, *args):
    result = CliRunner().invoke(commission, ["--record", record_path] + [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def load(record_path):
    with open(record_path, encoding="utf-8") as f:
        return json.load(f)


def answers(link, address, baud):
    """True if address answers a read at baud, False if it is silent."""
    with BusClient(link, baud, timeout_s=1.0) as client:  # a busy machine may delay the emulator
        try:
            client.read_registers(address, 3, 0, 1)
        except BusError as error:
            if error.kind == "no_reply":
                return False
            if error.kind != "exception":
                raise
        return True


def run_in_pty(args, answer_after=None, answer="y\n", timeout_s=30.0, options=(), locale="C.UTF-8"):
    """Runs `python -m gaslatch_tools.cli OPTIONS commission ARGS` on a pty 120 columns wide, as in a terminal
    whose locale is `locale`. Returns (exit code, everything the terminal showed, ANSI removed)."""
    return run_in_terminal([sys.executable, "-m", "gaslatch_tools.cli", *options, "commission", *args],
                           answer_after, answer, timeout_s, locale)


# ---------------------------------------------------------------------------------------------
# What the installer types


@given(st.lists(st.tuples(st.integers(MIN_SLAVE, MAX_SLAVE), st.integers(0, 20)), min_size=1, max_size=8))
def test_address_lists_and_ranges_parse_to_every_address_once(ranges):
    text = ",".join("%d-%d" % (low, min(MAX_SLAVE, low + extra)) if extra else str(low) for low, extra in ranges)
    expected = sorted({a for low, extra in ranges for a in range(low, min(MAX_SLAVE, low + extra) + 1)})
    assert parse_addresses(text) == expected


@given(st.text(max_size=20))
def test_any_address_text_parses_to_valid_addresses_or_says_why_not(text):
    try:
        addresses = parse_addresses(text)
    except ValueError as error:
        assert str(error)
        return
    assert addresses == sorted(set(addresses)) and all(MIN_SLAVE <= a <= MAX_SLAVE for a in addresses)


@pytest.mark.parametrize("text", ["0", "248", "5-3", "1-", "-4", "a", "", "1,,2", "1_0", "٣"])
def test_addresses_outside_1_to_247_or_malformed_are_refused(text):
    with pytest.raises(ValueError):
        parse_addresses(text)


@given(st.lists(st.sampled_from(BAUDS), min_size=1), st.text(max_size=12))
def test_baud_lists_parse_to_standard_rates_and_anything_else_is_refused(chosen, junk):
    assert parse_bauds(",".join(str(b) for b in chosen), []) == sorted(set(chosen))
    assert parse_bauds("all", []) == list(BAUDS)
    assert parse_bauds("profiles", [19200, 9600, 9600]) == [9600, 19200]
    try:
        parsed = parse_bauds(junk, [9600])
    except ValueError:
        return
    assert parsed and set(parsed) <= set(BAUDS)


@given(st.lists(st.sampled_from(PARITIES + tuple(p.lower() for p in PARITIES)), min_size=1), st.text(max_size=8))
def test_parity_lists_parse_to_n_e_o_and_anything_else_is_refused(chosen, junk):
    assert parse_parities(",".join(chosen), []) == [p for p in "NEO" if p in {c.upper() for c in chosen}]
    assert parse_parities("profiles", ["N", "N"]) == ["N"]
    try:
        parsed = parse_parities(junk, ["N"])
    except ValueError:
        return
    assert set(parsed) <= set(PARITIES)


def test_a_reading_that_leaves_the_band_restarts_the_stability_countdown():
    steady = Steadiness(tolerance_centi=100)
    assert steady.add(0.0, 1000) == 0.0
    assert steady.add(1.0, 1090) == 1.0
    assert steady.add(2.0, 1150) == 0.0  # 1.5 %LEL from the window's first reading
    assert steady.add(3.0, 1100) == 1.0
    assert steady.add(4.0, None) == 0.0  # no reading (warm-up, lost reply) empties the window
    assert steady.add(5.0, 1000) == 0.0 and steady.mean_centi() == 1000


# ---------------------------------------------------------------------------------------------
# scan


def test_scan_finds_exactly_the_emulated_detectors_and_identifies_their_profiles(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3, gas=GasModel(4.0))
    detector(bus, clock, "sensepoint-xcl", 5)
    detector(bus, clock, "xgard-iq", 9, baud=9600)
    code, out = run(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "1-12", *PATIENT)
    assert code == 0, out
    found = {row["address"]: row for row in out["detectors"]}
    assert {a: row["profile"] for a, row in found.items()} == {3: "cn-generic", 5: "sensepoint-xcl", 9: "xgard-iq"}
    assert found[3]["reading_pct_lel"] == 4.0 and found[3]["status"] == "normal"
    assert out["health"]["errors"] == 0 and out["health"]["reply_ms"]["p50"] > 0 and not out["problems"]
    record = load(record_path)
    assert record["bus"]["port"] == link and record["bus"]["baud"] == 9600
    assert {name: (d["address"], d["profile"]) for name, d in record["detectors"].items()} == {
        "d3": (3, "cn-generic"), "d5": (5, "sensepoint-xcl"), "d9": (9, "xgard-iq")}
    assert {"function": 3, "register": 110, "value": 1} in record["detectors"]["d5"]["registers_read"]
    assert record["detectors"]["d9"]["stop_bits"] == 2  # from the profile: a scan cannot hear stop bits
    code, again = run(record_path, "scan", "--addresses", "3", *PATIENT)  # the port comes from the record now
    assert code == 0, again
    assert sorted(load(record_path)["detectors"]) == ["d3", "d5", "d9"]  # the same entries again


def test_a_full_range_scan_at_9600_baud_reaches_both_ends(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 1)
    detector(bus, clock, "cn-generic", 247)
    # A 100 ms wait, not the 30 ms default: the emulated detectors answer from a thread of this process, which a
    # loaded machine held back past 30 ms (address 247 missed). Each silent address costs the wire time and the wait
    # (the record keeps the seconds it took; a wall-clock bound here would fail on a loaded machine, not a slow scan).
    code, out = run(record_path, "scan", "--port", link, "--baud", "9600", "--timeout-ms", "100")
    assert code == 0 and [row["address"] for row in out["detectors"]] == [1, 247], out
    scanned = load(record_path)["bus"]["scan"]
    assert scanned["timeout_ms"] == 100 and scanned["addresses"] == "1-247" and scanned["elapsed_s"] > 0


def test_scan_tries_each_baud_and_reports_detectors_at_different_rates(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 2, baud=19200)
    detector(bus, clock, "xgard-iq", 4)  # its profile's 38400 8N2
    # the profiles' rates by default
    code, out = run(record_path, "scan", "--port", link, "--addresses", "1-5", *PATIENT)
    assert code == 1
    assert {(row["address"], row["baud"], row["profile"]) for row in out["detectors"]} == {
        (2, 19200, "cn-generic"), (4, 38400, "xgard-iq")}
    assert [p["kind"] for p in out["problems"]] == ["mixed_baud"]
    assert "one baud rate" in out["problems"][0]["hint"]


def test_a_device_no_profile_fits_is_reported_as_unknown(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3)
    detector(bus, clock, "xgard-bright", 7, baud=9600, stop_bits=1)  # answers, but has no identity registers
    code, out = run(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "1-8", *PATIENT)
    assert code == 1
    found = {row["address"]: row for row in out["detectors"]}
    assert found[7]["profile"] == "unknown" and found[3]["profile"] == "cn-generic"
    assert [(p["kind"], p["address"]) for p in out["problems"]] == [("unknown_profile", 7)]
    assert "--profile" in out["problems"][0]["hint"]
    assert load(record_path)["detectors"]["d7"]["profile"] == "unknown"


def test_two_detectors_at_one_address_are_reported_as_a_possible_duplicate(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 4)
    detector(bus, clock, "cn-generic", 4)
    detector(bus, clock, "sensepoint-xcl", 5)
    code, out = run(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "1-6", *PATIENT)
    text = run_text(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "4-5", *PATIENT).stdout
    assert code == 1
    assert [(p["kind"], p["address"]) for p in out["problems"]] == [("duplicate_address", 4)]
    assert "possible duplicate address" in out["problems"][0]["message"]
    assert {row["address"]: row["profile"] for row in out["detectors"]} == {4: "unknown", 5: "sensepoint-xcl"}
    assert "possible duplicate address" in text and "one at a time" in text


def test_damaged_replies_show_in_the_bus_health_with_what_to_check(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3)
    bus.inject(3, "crc_corruption", count=2)
    code, out = run(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "2-4", *PATIENT)
    assert code == 1
    assert out["detectors"][0]["profile"] == "cn-generic"  # found and identified despite the damage
    assert out["health"]["errors"] == 2 and out["health"]["error_rate"] > 0
    assert [p["kind"] for p in out["problems"]] == ["damaged_replies"]
    assert "termination" in out["problems"][0]["hint"]


@pytest.mark.parametrize("command", [
    ["scan", "--addresses", "1-5"],
    ["live", "--addresses", "3", "--seconds", "0.5"],
    ["set-address", "--address", "3", "--new", "7"],
])
def test_a_silent_bus_exits_2_saying_what_to_check(bus, link, record_path, command):
    code, out = run(record_path, *(command[:1] + ["--port", link] + command[1:]))
    assert code == 2 and out["error"] == "no_reply"
    assert "A/B" in out["hint"]


@pytest.mark.parametrize("command", [
    ["scan"],
    ["live", "--addresses", "3"],
    ["set-address", "--address", "3", "--new", "7"],
    ["set-baud", "--address", "3", "--new-baud", "19200"],
    ["calibrate", "zero", "--address", "3", "--yes"],
])
def test_a_missing_port_says_to_plug_in_the_adapter(short_dir, record_path, command):
    port = os.path.join(short_dir, "ttyUSB9")
    code, out = run(record_path, *(command[:1] + ["--port", port] + command[1:]))
    assert code == 2 and out["error"] == "port_missing" and "/dev/serial/by-id" in out["hint"]


def test_a_port_without_permission_names_the_group_to_join(short_dir):
    """The kernel refuses the port as it refuses a user outside dialout (root: without its DAC override)."""
    port = os.path.join(short_dir, "ttyUSB0")
    with open(port, "w"):
        pass
    os.chmod(short_dir, 0o755)
    os.chmod(port, 0)
    group = "dialout" if _group_exists("dialout") else grp.getgrgid(os.getgid()).gr_name
    as_root = os.geteuid() == 0
    if as_root:
        os.chown(port, 65534, grp.getgrnam(group).gr_gid)

    def without_dac_override():
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                os._exit(99)

    result = subprocess.run(
        [sys.executable, "-m", "gaslatch_tools.cli", "commission", "--json", "--record",
         os.path.join(short_dir, "r.json"), "scan", "--port", port],
        capture_output=True, text=True, timeout=60, preexec_fn=without_dac_override if as_root else None)
    out = json.loads(result.stdout)
    assert result.returncode == 2 and out["error"] == "permission"
    assert "usermod -aG %s" % group in out["hint"]


def _group_exists(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def test_scan_progress_shows_on_the_terminal_and_the_result_below_it(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3)
    code, shown = run_in_pty(["--record", record_path, "scan", "--port", link, "--baud", "9600",
                              "--addresses", "1-4", *PATIENT])
    assert code == 0, shown
    assert "scan 9600 8N1  address" in shown and "found 1" in shown and "4/4" in shown
    assert "Detectors found" in shown and "cn-generic" in shown and "bus health" in shown


# ---------------------------------------------------------------------------------------------
# In the installer's language (issue 18): what a person reads on the terminal

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_a_chinese_terminal_shows_the_scan_in_chinese(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3)
    code, shown = run_in_pty(["--record", record_path, "scan", "--port", link, "--baud", "9600",
                              "--addresses", "1-4", *PATIENT], locale="zh_CN.UTF-8")
    assert code == 0, shown
    assert "扫描 9600 8N1  地址" in shown and "已找到 1" in shown and "扫描完成：找到 1 个" in shown
    assert "找到的探测器" in shown and "协议配置" in shown and "cn-generic" in shown
    assert "总线状况：向探测器发出" in shown and "应答时间中位数" in shown and "已写入 %s" % record_path in shown
    assert "Detectors found" not in shown and "bus health" not in shown
    assert "在 9600 8N1 找到 1 个探测器" in load(record_path)["log"][-1]["summary"]


def test_lang_zh_tells_an_installer_at_a_silent_bus_what_to_check_in_chinese(bus, link, record_path):
    code, shown = run_in_pty(["--record", record_path, "scan", "--port", link, "--baud", "9600",
                              "--addresses", "1-3"], options=["--lang", "zh"])
    assert code == 2, shown
    assert "错误：在 9600 8N1 下没有设备应答，地址 1-3" in shown
    assert "请检查：检查探测器电源、A/B 接线（A/B 接反时所有波特率下都无应答）" in shown
    assert "120 Ω 终端电阻" in shown
    assert "no device answered" not in shown and "what to check" not in shown


def test_a_chinese_installer_answers_the_calibration_prompt_in_chinese(bus, clock, link, record_path):
    drifted = detector(bus, clock, "cn-generic", 3, gas=GasModel(1.5))
    code, shown = run_in_pty(["--record", record_path, "calibrate", "zero", "--port", link, "--address", 3,
                              "--stable-s", 1], answer_after="气体是否已通入并保持流动？", locale="zh_CN.UTF-8")
    assert code == 0, shown
    assert "通入零点气" in shown and "[Y/n]" in shown
    assert "还需稳定" in shown and "后放弃" in shown  # the countdown while the reading settles
    assert "零点已写入" in shown and "零点标定完成，1.5 -> 0.0 %LEL" in shown
    assert drifted.calibration.zero_written == 1
    assert load(record_path)["log"][-1]["summary"].endswith("零点标定：1.5 -> 0.0 %LEL，已核实")  # the visit's log


def test_a_chinese_installer_is_asked_for_span_gas_named_in_chinese(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3, gas=GasModel(40.0))
    code, shown = run_in_pty(["--record", record_path, "calibrate", "span", "--port", link, "--address", 3,
                              "--span-gas-pct", 50, "--stable-s", 1], answer_after="气体是否已通入并保持流动？",
                             locale="zh_CN.UTF-8")
    assert code == 0, shown
    assert "通入 50 %LEL（2.50 %vol 甲烷）的标准气体" in shown and "methane" not in shown
    assert load(record_path)["log"][-1]["summary"].endswith("量程标定：40.0 -> 50.0 %LEL，已核实")


def test_the_english_calibration_log_note_stays_english(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3, gas=GasModel(40.0))
    code, out = run(record_path, "calibrate", "span", "--port", link, "--address", 3, "--span-gas-pct", 50,
                    "--stable-s", 1, "--yes")
    assert code == 0, out
    assert load(record_path)["log"][-1]["summary"].endswith(" span: 40.0 -> 50.0 %LEL, verified")


def test_lang_en_keeps_english_on_a_chinese_terminal(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3)
    code, shown = run_in_pty(["--record", record_path, "scan", "--port", link, "--baud", "9600",
                              "--addresses", "1-4", *PATIENT], options=["--lang", "en"], locale="zh_CN.UTF-8")
    assert code == 0, shown
    assert "scan 9600 8N1  address" in shown and "Detectors found" in shown and "bus health" in shown
    assert HAN.findall(shown) == []
    code, shown = run_in_pty(["--record", record_path, "scan", "--port", link, "--baud", "9600",
                              "--addresses", "5"], options=["--lang", "en"], locale="zh_CN.UTF-8")
    assert code == 2 and "error: no device answered" in shown and "what to check: check the detector's power" in shown
    assert HAN.findall(shown) == []


# ---------------------------------------------------------------------------------------------
# live


def test_live_shows_every_detectors_reading_status_and_reply_time(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3, gas=GasModel(12.0))
    detector(bus, clock, "sensepoint-xcl", 5, gas=GasModel(3.0))
    assert run(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "3-5", *PATIENT)[0] == 0
    code, out = run(record_path, "live", "--seconds", "1")
    assert code == 0 and out["stopped_by"] == "time"
    rows = {row["address"]: row for row in out["detectors"]}
    assert (rows[3]["name"], rows[3]["profile"], rows[3]["concentration_pct_lel"]) == ("d3", "cn-generic", 12.0)
    assert (rows[5]["profile"], rows[5]["concentration_pct_lel"], rows[5]["status"]) == ("sensepoint-xcl", 3.0,
                                                                                         "normal")
    assert all(row["polls"] >= 1 and row["errors"] == 0 and row["reply_ms_last"] > 0 for row in rows.values())
    text = run_text(record_path, "live", "--seconds", "0.5").stdout
    assert "live at 9600 8N1" in text and "12.00" in text and "sensepoint-xcl" in text


def test_live_counts_damaged_replies_per_detector_and_exits_1(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3)
    detector(bus, clock, "cn-generic", 6)
    bus.inject(6, "crc_corruption")
    code, out = run(record_path, "live", "--port", link, "--addresses", "3,6", "--seconds", "0.5")
    assert code == 1
    rows = {row["address"]: row for row in out["detectors"]}
    assert rows[3]["errors"] == 0 and rows[6]["errors"] >= 1 and "CRC" in rows[6]["last_error"]


# ---------------------------------------------------------------------------------------------
# set-address, set-baud


def test_an_address_change_sticks_readable_at_the_new_address_and_silent_at_the_old(bus, clock, link,
                                                                                    record_path):
    moved = detector(bus, clock, "cn-generic", 3)
    assert run(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "3", *PATIENT)[0] == 0
    code, out = run(record_path, "set-address", "--address", 3, "--new", 7)
    assert code == 0, out
    assert out["address"] == {"from": 3, "to": 7} and out["detector"] == "d7"
    assert moved.address == 7 and answers(link, 7, 9600) and not answers(link, 3, 9600)
    detectors = load(record_path)["detectors"]
    assert sorted(detectors) == ["d7"] and detectors["d7"]["address"] == 7
    assert detectors["d7"]["setting_changes"][0]["from"] == 3 and detectors["d7"]["setting_changes"][0]["verified"]


def test_an_address_change_is_refused_when_the_new_address_is_taken(bus, clock, link, record_path):
    kept = detector(bus, clock, "cn-generic", 3)
    detector(bus, clock, "sensepoint-xcl", 5)
    code, out = run(record_path, "set-address", "--port", link, "--address", 3, "--new", 5)
    assert code == 1 and out["error"] == "address_taken" and "already taken" in out["message"]
    assert kept.address == 3


def test_a_detector_without_an_address_register_is_refused_with_what_to_do(bus, clock, link, record_path):
    detector(bus, clock, "sensepoint-xcl", 5)
    code, out = run(record_path, "set-address", "--port", link, "--address", 5, "--new", 8)
    assert code == 2 and out["error"] == "unsupported" and "on the detector itself" in out["hint"]


def test_a_wrong_baud_is_named_with_the_rate_the_detector_answers_at(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 3)
    code, out = run(record_path, "set-address", "--port", link, "--baud", "19200", "--address", 3, "--new", 7)
    assert code == 2 and out["error"] == "wrong_baud"
    assert "answers at 9600" in out["message"] and "--baud 9600" in out["hint"]


def test_crc_errors_stop_a_command_with_what_to_check_on_the_wire(bus, clock, link, record_path):
    kept = detector(bus, clock, "cn-generic", 3)
    bus.inject(3, "crc_corruption")
    code, out = run(record_path, "set-address", "--port", link, "--address", 3, "--new", 7)
    assert code == 2 and out["error"] == "crc"
    assert "termination" in out["hint"] and "shield" in out["hint"]
    assert kept.address == 3


def test_a_baud_change_sticks_readable_at_the_new_rate_and_silent_at_the_old(bus, clock, link, record_path):
    changed = detector(bus, clock, "cn-generic", 3)
    code, out = run(record_path, "set-baud", "--port", link, "--address", 3, "--new-baud", "19200")
    assert code == 0, out
    assert out["baud"] == {"from": 9600, "to": 19200}
    assert changed.baud == 19200 and answers(link, 3, 19200) and not answers(link, 3, 9600)
    entry = load(record_path)["detectors"]["d3"]
    assert entry["baud"] == 19200 and entry["setting_changes"][0]["setting"] == "baud"


# ---------------------------------------------------------------------------------------------
# calibrate


def test_zero_calibration_writes_the_detector_and_checks_the_reading_after(bus, clock, link, record_path):
    drifted = detector(bus, clock, "cn-generic", 3, gas=GasModel(2.0))  # zero drifted up by 2 %LEL
    code, out = run(record_path, "calibrate", "zero", "--port", link, "--address", 3, "--stable-s", 1, "--yes")
    assert code == 0, out
    assert drifted.calibration.zero_written == 1 and drifted.calibration.zero_pct_lel == pytest.approx(2.0)
    assert (out["before_pct_lel"], out["after_pct_lel"]) == (2.0, 0.0)
    calibration = load(record_path)["detectors"]["d3"]["calibrations"][0]
    assert calibration["kind"] == "zero" and calibration["ok"] and calibration["before_pct_lel"] == 2.0


@pytest.mark.parametrize("unit, written", [("pct_lel", 5000), ("ppm", 25000)])
def test_span_calibration_writes_the_span_gas_in_the_detectors_own_scale(bus, clock, link, record_path, unit,
                                                                         written):
    weak = detector(bus, clock, "cn-generic", 3, gas=GasModel(40.0), unit=unit)  # 50 %LEL gas reads 40
    code, out = run(record_path, "calibrate", "span", "--port", link, "--address", 3, "--span-gas-pct", 50,
                    "--stable-s", 1, "--yes")
    assert code == 0, out
    assert weak.calibration.span_written == written  # 50 %LEL: 50.00 %LEL, or 25000 ppm methane
    assert weak.calibration.gain == pytest.approx(50 / 40)
    assert (out["before_pct_lel"], out["after_pct_lel"]) == (40.0, 50.0)


def test_an_unsteady_reading_is_refused_and_nothing_is_written(bus, clock, link, record_path):
    rising = GasModel(10.0).ramp(0.0, 15.0, 100.0).noise(2.0, seed=7)  # gas still coming up, and noisy
    unsteady = detector(bus, clock, "cn-generic", 3, gas=rising)
    code, out = run(record_path, "calibrate", "span", "--port", link, "--address", 3, "--span-gas-pct", 50,
                    "--stable-s", 1, "--limit-s", 2, "--yes")
    assert code == 1 and out["error"] == "unstable"
    assert unsteady.calibration.span_written == 0 and unsteady.calibration.gain == 1.0
    attempt = load(record_path)["detectors"]["d3"]["calibrations"][0]
    assert attempt["ok"] is False and "did not hold" in attempt["reason"]


def test_zeroing_is_refused_when_the_zero_air_reading_is_gas(bus, clock, link, record_path):
    leak = detector(bus, clock, "cn-generic", 3, gas=GasModel(20.0))
    code, out = run(record_path, "calibrate", "zero", "--port", link, "--address", 3, "--stable-s", 0.5, "--yes")
    assert code == 1 and out["error"] == "refused" and "blind" in out["hint"]
    assert leak.calibration.zero_written == 0


def test_a_person_answers_the_calibration_prompt_and_watches_the_countdown(bus, clock, link, record_path):
    drifted = detector(bus, clock, "cn-generic", 3, gas=GasModel(1.5))
    code, shown = run_in_pty(["--record", record_path, "calibrate", "zero", "--port", link, "--address", 3,
                              "--stable-s", 1], answer_after="Is the gas applied and flowing?")
    assert code == 0, shown
    assert "Apply zero air" in shown and "[Y/n]" in shown
    assert "steady for" in shown and "gives up in" in shown  # the countdown while the reading settles
    assert "zero calibrated, 1.5 -> 0.0 %LEL" in shown
    assert drifted.calibration.zero_written == 1


def test_a_reply_later_than_the_scan_wait_is_reported_with_the_timeout_to_use(bus, clock, link, record_path):
    detector(bus, clock, "cn-generic", 2)
    detector(bus, clock, "cn-generic", 3)
    bus.inject(3, "late_reply", delay_ms=60)  # a slow device: answers 60 ms after the request's end
    code, out = run(record_path, "scan", "--port", link, "--baud", "9600", "--addresses", "2-5")
    assert code == 1 and [row["address"] for row in out["detectors"]] == [2]
    assert [(p["kind"], p["address"]) for p in out["problems"]] == [("stray_reply", 4)]
    assert "--timeout-ms" in out["problems"][0]["hint"]
    code, out = run(record_path, "scan", "--baud", "9600", "--addresses", "2-5", "--timeout-ms", 80)
    assert code == 0 and [row["address"] for row in out["detectors"]] == [2, 3]
    assert [w["kind"] for w in out["warnings"]] == ["slow_replies"]  # 60 of the 80 ms: close to missing it
