"""Named lines over the sim backend: safe outputs at open, polarity, debounce, fail-safe unreadable inputs."""

import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core.config import load_config
from gaslatch.unit.gpio_lines import GpioError, InputDebounce, Lines, open_lines
from gaslatch.unit.gpio_sim import SimPins

LINES = {
    "valve": {"pin": 17, "active": "high"},
    "fault_relay": {"pin": 27, "active": "low"},
    "sounder": {"pin": 22},
    "reset_button": {"pin": 5, "active": "high"},
    "fire_input": {"pin": 6, "active": "low"},
    "boiler_alarm": {"pin": 13},
    "de1": {"pin": 18},
}


def make_cfg(sim_dir, lines=None, debounce_ms=30):
    return load_config({
        "unit": {"site": "s", "name": "n"},
        "buses": {"b1": {"port": "/dev/ttyAMA0", "direction": "gpio", "de_line": "de1"}},
        "detectors": {"boiler": {"kind": "contact", "line": "boiler_alarm"}},
        "gpio": {"backend": "sim", "sim_dir": str(sim_dir), "debounce_ms": debounce_ms},
        "lines": LINES if lines is None else lines,
    })


def value_path(sim_dir, name):
    return os.path.join(str(sim_dir), name, "value")


def read_value(sim_dir, name):
    with open(value_path(sim_dir, name), "rb") as handle:
        return handle.read()


def set_input(sim_dir, name, data):
    with open(value_path(sim_dir, name), "wb") as handle:
        handle.write(data)


@pytest.fixture
def sim_dir(tmp_path):
    return tmp_path / "gpio"


def test_outputs_are_de_energised_at_the_pin_level_as_soon_as_the_lines_are_open(sim_dir):
    lines = open_lines(make_cfg(sim_dir))
    assert lines.output_names == ("de1", "fault_relay", "sounder", "valve")
    assert read_value(sim_dir, "valve") == b"0\n"  # active high: off is low
    assert read_value(sim_dir, "fault_relay") == b"1\n"  # active low: off is high
    assert read_value(sim_dir, "sounder") == b"0\n"
    assert read_value(sim_dir, "de1") == b"0\n"  # RS-485 driver off: receiving


def test_stale_output_files_from_a_previous_run_are_overwritten_with_the_safe_level(sim_dir):
    os.makedirs(sim_dir / "valve")
    (sim_dir / "valve" / "value").write_bytes(b"1\n")
    open_lines(make_cfg(sim_dir))
    assert read_value(sim_dir, "valve") == b"0\n"


def test_input_files_the_bench_wrote_before_start_are_kept(sim_dir):
    os.makedirs(sim_dir / "fire_input")
    (sim_dir / "fire_input" / "value").write_bytes(b"1\n")
    lines = open_lines(make_cfg(sim_dir))
    assert read_value(sim_dir, "fire_input") == b"1\n"
    assert lines.read_inputs(0)["fire_input"] is False  # active low, pin high


def test_open_creates_one_directory_per_line_with_a_direction_file_and_private_modes(sim_dir):
    old_umask = os.umask(0o022)
    try:
        open_lines(make_cfg(sim_dir))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(sim_dir).st_mode) == 0o750
    for name in LINES:
        assert stat.S_IMODE(os.stat(sim_dir / name).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(value_path(sim_dir, "valve")).st_mode) == 0o640
    assert (sim_dir / "valve" / "direction").read_bytes() == b"out\n"
    assert (sim_dir / "reset_button" / "direction").read_bytes() == b"in\n"
    assert not (sim_dir / "reset_button" / "value").exists()


def test_output_levels_follow_each_line_polarity(sim_dir):
    lines = open_lines(make_cfg(sim_dir))
    lines.write_outputs({"valve": True, "fault_relay": True, "sounder": False})
    assert read_value(sim_dir, "valve") == b"1\n"
    assert read_value(sim_dir, "fault_relay") == b"0\n"
    assert read_value(sim_dir, "sounder") == b"0\n"


def test_outputs_that_are_not_wired_are_ignored(sim_dir):
    lines = open_lines(make_cfg(sim_dir))
    lines.write_outputs({"fan": True, "beacon": True, "valve": True})
    assert not (sim_dir / "fan").exists()
    assert read_value(sim_dir, "valve") == b"1\n"


def test_input_levels_follow_each_line_polarity(sim_dir):
    lines = open_lines(make_cfg(sim_dir))
    set_input(sim_dir, "reset_button", b"1\n")
    set_input(sim_dir, "fire_input", b"0")
    set_input(sim_dir, "boiler_alarm", b"0\n")
    assert lines.read_inputs(0) == {"reset_button": True, "fire_input": True, "boiler_alarm": False}


@pytest.mark.parametrize("data", [b"", b"2\n", b"high", b"01", b"1 1", b"\xff\xfe"])
def test_a_garbled_input_file_reads_as_unreadable_not_as_a_level(sim_dir, data):
    lines = open_lines(make_cfg(sim_dir))
    set_input(sim_dir, "fire_input", data)
    assert lines.read_inputs(0)["fire_input"] is None


def test_a_missing_input_file_reads_as_unreadable(sim_dir):
    lines = open_lines(make_cfg(sim_dir))
    assert lines.read_inputs(0) == {"reset_button": None, "fire_input": None, "boiler_alarm": None}


def test_a_new_input_level_counts_only_once_it_has_held_for_the_debounce_time(sim_dir):
    lines = open_lines(make_cfg(sim_dir, debounce_ms=30))
    set_input(sim_dir, "reset_button", b"0\n")
    assert lines.read_inputs(0)["reset_button"] is False
    set_input(sim_dir, "reset_button", b"1\n")
    assert lines.read_inputs(10)["reset_button"] is False
    assert lines.read_inputs(39)["reset_button"] is False
    assert lines.read_inputs(40)["reset_button"] is True


def test_a_bounce_shorter_than_the_debounce_time_is_ignored(sim_dir):
    lines = open_lines(make_cfg(sim_dir, debounce_ms=30))
    set_input(sim_dir, "reset_button", b"0\n")
    lines.read_inputs(0)
    for now_ms, data in ((10, b"1\n"), (20, b"0\n"), (30, b"1\n"), (40, b"0\n"), (50, b"1\n")):
        set_input(sim_dir, "reset_button", data)
        assert lines.read_inputs(now_ms)["reset_button"] is False
    assert lines.read_inputs(79)["reset_button"] is False
    assert lines.read_inputs(80)["reset_button"] is True


def test_an_unreadable_input_is_passed_on_at_once_and_a_level_after_it_must_hold_again(sim_dir):
    lines = open_lines(make_cfg(sim_dir, debounce_ms=30))
    set_input(sim_dir, "fire_input", b"1\n")
    assert lines.read_inputs(0)["fire_input"] is False
    set_input(sim_dir, "fire_input", b"?")
    assert lines.read_inputs(5)["fire_input"] is None
    set_input(sim_dir, "fire_input", b"1\n")
    assert lines.read_inputs(10)["fire_input"] is None
    assert lines.read_inputs(40)["fire_input"] is False


def test_close_leaves_every_output_in_its_safe_state_and_writes_no_more(sim_dir):
    lines = open_lines(make_cfg(sim_dir))
    lines.write_outputs({"valve": True, "fault_relay": True, "sounder": True, "de1": True})
    lines.close()
    assert read_value(sim_dir, "valve") == b"0\n"
    assert read_value(sim_dir, "fault_relay") == b"1\n"
    assert read_value(sim_dir, "sounder") == b"0\n"
    assert read_value(sim_dir, "de1") == b"0\n"
    lines.close()
    with pytest.raises(GpioError):
        lines.write_outputs({"valve": True})
    assert read_value(sim_dir, "valve") == b"0\n"


def test_a_failed_output_write_is_reported_and_retried_on_the_next_scan(sim_dir):
    lines = open_lines(make_cfg(sim_dir))
    (sim_dir / "valve" / "value").unlink()
    (sim_dir / "valve" / "direction").unlink()
    (sim_dir / "valve").rmdir()
    (sim_dir / "valve").write_bytes(b"not a directory")
    with pytest.raises(GpioError, match="valve"):
        lines.write_outputs({"valve": True, "sounder": True})
    assert read_value(sim_dir, "sounder") == b"1\n"  # the other lines were still written
    (sim_dir / "valve").unlink()
    os.makedirs(sim_dir / "valve")
    lines.write_outputs({"valve": True, "sounder": True})
    assert read_value(sim_dir, "valve") == b"1\n"


def test_a_line_used_by_nothing_is_refused_with_its_name(sim_dir):
    with pytest.raises(GpioError, match="vlave.*not used"):
        open_lines(make_cfg(sim_dir, {"vlave": {"pin": 17}}))


def test_two_lines_on_one_pin_are_refused(sim_dir):
    with pytest.raises(GpioError, match="valve and sounder are both on GPIO17|sounder and valve are both on GPIO17"):
        open_lines(make_cfg(sim_dir, {"valve": {"pin": 17}, "sounder": {"pin": 17}}))


def test_an_unusable_sim_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(GpioError, match="gpio.sim_dir"):
        open_lines(make_cfg(blocker / "gpio"))


def test_lines_work_over_any_pins_object_built_by_hand(sim_dir):
    lines = Lines(make_cfg(sim_dir), SimPins(str(sim_dir)))
    assert lines.input_names == ("boiler_alarm", "fire_input", "reset_button")


# ---- debounce as a property: a reported level was the raw level for the whole debounce time ----

STEPS = st.lists(st.tuples(st.integers(0, 50), st.sampled_from([True, False, None])), min_size=1, max_size=60)


@given(debounce_ms=st.integers(0, 100), steps=STEPS)
def test_debounced_level_is_unreadable_at_once_and_otherwise_a_level_that_held_long_enough(debounce_ms, steps):
    debounce = InputDebounce(debounce_ms)
    now_ms = 0
    history = []  # (time, raw)
    previous = "nothing"
    for dt_ms, raw in steps:
        now_ms += dt_ms
        history.append((now_ms, raw))
        level = debounce.update(now_ms, raw)
        if raw is None:
            assert level is None
        elif level != previous and level is not None and previous != "nothing":
            # A change to a level: the raw input has been that level for at least debounce_ms.
            held_since = now_ms
            for at_ms, seen in reversed(history):
                if seen != level:
                    break
                held_since = at_ms
            assert level == raw
            assert now_ms - held_since >= debounce_ms
        if previous == "nothing":
            assert level == raw  # the first reading counts at once
        previous = level


@given(debounce_ms=st.integers(0, 100), level=st.booleans(), dt_ms=st.integers(0, 1000))
def test_a_steady_input_is_reported_once_it_has_held_the_debounce_time(debounce_ms, level, dt_ms):
    debounce = InputDebounce(debounce_ms)
    debounce.update(0, None)
    debounce.update(1, level)
    assert debounce.update(1 + dt_ms, level) == (level if dt_ms >= debounce_ms else None)
