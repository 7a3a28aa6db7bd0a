"""The bench's gas model: steps, ramps, sensor lag, drift and noise, and the scenario-file parser."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch_tools.bench.gas_model import NOISE_TICK_S, SLOW_LEAK_PCT_PER_MIN, T90_PER_TAU, GasModel


def test_a_step_changes_the_true_gas_at_its_time():
    model = GasModel(2.0).step(10.0, 30.0)
    assert model.true_pct(9.999) == 2.0
    assert model.true_pct(10.0) == 30.0
    assert model.sensed_pct(10.0) == 30.0  # no lag, drift or noise


def test_a_ramp_is_a_straight_line_from_the_gas_before_it():
    model = GasModel().step(5.0, 10.0).ramp(20.0, 60.0, 50.0)
    assert model.true_pct(20.0) == 10.0
    assert model.true_pct(40.0) == pytest.approx(30.0)
    assert model.true_pct(60.0) == 50.0
    assert model.true_pct(1000.0) == 50.0


def test_a_slow_leak_rises_one_pct_lel_per_minute():
    model = GasModel().ramp_at(60.0, 25.0, SLOW_LEAK_PCT_PER_MIN)
    assert model.true_pct(120.0) == pytest.approx(1.0)
    assert model.true_pct(60.0 + 25 * 60.0) == 25.0
    assert model.changes[-1].end_s == pytest.approx(60.0 + 25 * 60.0)


def test_the_sensor_shows_ninety_percent_of_a_step_after_t90():
    model = GasModel().step(10.0, 50.0).lag(30.0)
    assert model.sensed_pct(10.0) == 0.0
    assert model.sensed_pct(40.0) == pytest.approx(45.0)
    assert model.sensed_pct(10.0 + 10 * 30.0) == pytest.approx(50.0)


def test_the_sensor_trails_a_ramp_by_its_time_constant():
    tau_s = 20.0 / T90_PER_TAU
    model = GasModel().ramp(0.0, 3600.0, 60.0).lag(20.0)  # 1 %LEL per minute
    assert model.sensed_pct(1800.0) == pytest.approx(30.0 - tau_s / 60.0)


def _integrate_rk4(model, t_end_s):
    """The sensor's first-order equation stepped numerically, restarting at every breakpoint of the true gas."""
    tau_s = model.t90_s / T90_PER_TAU
    edges = sorted({0.0, t_end_s} | {t for c in model.changes for t in (c.start_s, c.end_s) if t < t_end_s})
    sensed = model.start_pct
    for start_s, end_s in zip(edges, edges[1:]):
        steps = max(1, math.ceil((end_s - start_s) / 0.02))
        h = (end_s - start_s) / steps
        ramp_end = model.true_pct(end_s - 1e-12) if end_s - start_s > 1e-9 else model.true_pct(start_s)
        begin = model.true_pct(start_s)

        def true_at(t, begin=begin, ramp_end=ramp_end, start_s=start_s, end_s=end_s):
            return begin + (ramp_end - begin) * (t - start_s) / (end_s - start_s)

        def slope(t, y):
            return (true_at(t) - y) / tau_s

        t = start_s
        for _ in range(steps):
            k1 = slope(t, sensed)
            k2 = slope(t + h / 2, sensed + h / 2 * k1)
            k3 = slope(t + h / 2, sensed + h / 2 * k2)
            k4 = slope(t + h, sensed + h * k3)
            sensed += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += h
    return sensed


_moves = st.lists(
    st.tuples(st.sampled_from(["step", "ramp"]), st.floats(0.0, 5.0), st.floats(0.5, 5.0), st.floats(0.0, 120.0)),
    max_size=4,
)


@given(start_pct=st.floats(0.0, 100.0), t90_s=st.floats(2.0, 30.0), moves=_moves, t_end_s=st.floats(0.0, 20.0))
def test_the_analytic_lag_matches_a_fine_numerical_integration(start_pct, t90_s, moves, t_end_s):
    model = GasModel(start_pct).lag(t90_s)
    at_s = 0.0
    for kind, gap_s, length_s, to_pct in moves:
        at_s += gap_s
        if kind == "step":
            model.step(at_s, to_pct)
        else:
            model.ramp(at_s, at_s + length_s, to_pct)
            at_s += length_s
    assert model.sensed_pct(t_end_s) == pytest.approx(_integrate_rk4(model, t_end_s), abs=1e-4)


def test_noise_is_the_same_in_any_call_order():
    times = [i * 0.037 for i in range(200)]
    forward = GasModel(10.0).noise(0.5, seed=42)
    backward = GasModel(10.0).noise(0.5, seed=42)
    ahead = [forward.sensed_pct(t) for t in times]
    behind = [backward.sensed_pct(t) for t in reversed(times)]
    assert ahead == list(reversed(behind))


def test_noise_holds_for_a_tick_and_has_the_requested_spread():
    model = GasModel(10.0).noise(0.5, seed=7)
    assert model.sensed_pct(3.0 * NOISE_TICK_S + 0.01) == model.sensed_pct(4.0 * NOISE_TICK_S - 0.01)
    samples = [model.sensed_pct(i * NOISE_TICK_S + 0.05) - 10.0 for i in range(4000)]
    mean = sum(samples) / len(samples)
    spread = math.sqrt(sum((s - mean) ** 2 for s in samples) / len(samples))
    assert abs(mean) < 0.05
    assert spread == pytest.approx(0.5, rel=0.1)
    assert GasModel(10.0).noise(0.5, seed=8).sensed_pct(0.05) != model.sensed_pct(0.05)


def test_drift_moves_the_sensed_zero_at_its_rate():
    model = GasModel().drift(-2.0)
    assert model.sensed_pct(1800.0) == pytest.approx(-1.0)
    assert model.true_pct(1800.0) == 0.0


def test_gas_above_full_scale_is_kept_for_the_detector_to_show_as_over_range():
    assert GasModel().step(1.0, 250.0).sensed_pct(2.0) == 250.0


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda m: m.step(10.0, 5.0).step(9.0, 1.0), "at_s: must not be before the end of the previous segment"),
        (lambda m: m.ramp(10.0, 20.0, 5.0).step(15.0, 1.0), "at_s: must not be before the end of the previous segment"),
        (lambda m: m.ramp(10.0, 10.05, 5.0), "to_s: must be at least 0.1 s after from_s"),
        (lambda m: m.step(1.0, -1.0), "to_pct: must be a number"),
        (lambda m: m.lag(float("nan")), "t90_s: must be a number"),
        (lambda m: m.noise(0.1, seed=1.5), "seed: must be an integer"),
    ],
)
def test_a_builder_refuses_what_cannot_happen_naming_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build(GasModel())


SPEC = {
    "start_pct": 1.0,
    "t90_s": 15,
    "drift_pct_per_hour": 0.5,
    "noise": {"sd_pct": 0.2, "seed": 3},
    "segments": [
        {"kind": "step", "at_s": 10, "to_pct": 5},
        {"kind": "ramp", "from_s": 60, "to_s": 120, "to_pct": 20},
        {"kind": "ramp", "from_s": 200, "to_pct": 30, "pct_per_min": 1},
    ],
}


def test_a_spec_builds_the_same_model_as_the_builders():
    parsed = GasModel.from_spec(SPEC)
    built = GasModel(1.0).lag(15).drift(0.5).noise(0.2, 3).step(10, 5).ramp(60, 120, 20).ramp_at(200, 30, 1)
    assert parsed.changes == built.changes
    assert [parsed.sensed_pct(t) for t in range(0, 1000, 7)] == [built.sensed_pct(t) for t in range(0, 1000, 7)]


STEP_AT_9_S = {"kind": "step", "at_s": 9, "to_pct": 1}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"segments": [{"kind": "jump", "at_s": 1, "to_pct": 1}]}, r"gas\.segments\[0\]\.kind: must be"),
        ({"segments": [{"kind": "step", "at_s": 1}]}, r"gas\.segments\[0\]\.to_pct: is required"),
        ({"segments": [{"kind": "ramp", "from_s": 1, "to_pct": 1}]}, r"gas\.segments\[0\]: a ramp needs exactly one"),
        ({"segments": [STEP_AT_9_S, {"kind": "ramp", "from_s": 2, "to_s": 5, "to_pct": 1}]},
         r"gas\.segments\[1\]\.from_s: must not be before"),
        ({"noise": {"seed": 1}}, r"gas\.noise\.sd_pct: is required"),
        ({"noise": {"sd_pct": -1}}, r"gas\.noise\.sd_pct: must be a number"),
        ({"t90_s": "fast"}, r"gas\.t90_s: must be a number"),
        ({"colour": 1}, r"gas\.colour: unknown key"),
        ({"segments": {}}, r"gas\.segments: must be a list"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        GasModel.from_spec(change)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)
_values = _json | st.floats(-10.0, 1e4) | st.sampled_from(["step", "ramp"])
_segment_like = st.dictionaries(
    st.sampled_from(["kind", "at_s", "from_s", "to_s", "to_pct", "pct_per_min", "extra"]), _values, max_size=6
)
_spec_like = st.fixed_dictionaries(
    {},
    optional={
        "start_pct": _values,
        "t90_s": _values,
        "drift_pct_per_hour": _values,
        "noise": st.dictionaries(st.sampled_from(["sd_pct", "seed", "extra"]), _values, max_size=3) | _json,
        "segments": st.lists(_segment_like | _json, max_size=5) | _json,
    },
)


@given(spec=_json | _spec_like, times=st.lists(st.floats(-1e8, 1e8), max_size=5))
def test_any_spec_either_parses_into_a_model_with_finite_readings_or_raises_value_error(spec, times):
    try:
        model = GasModel.from_spec(spec)
    except ValueError as exc:
        assert str(exc).startswith("gas")
        return
    for t_s in times:
        assert math.isfinite(model.true_pct(t_s))
        assert math.isfinite(model.sensed_pct(t_s))


@st.composite
def _valid_specs(draw):
    segments = []
    at_s = 0.0
    for _ in range(draw(st.integers(0, 5))):
        at_s += draw(st.floats(0.0, 600.0))
        to_pct = draw(st.floats(0.0, 200.0))
        if draw(st.booleans()):
            segments.append({"kind": "step", "at_s": at_s, "to_pct": to_pct})
        else:
            length_s = draw(st.floats(0.2, 600.0))
            segments.append({"kind": "ramp", "from_s": at_s, "to_s": at_s + length_s, "to_pct": to_pct})
            at_s += length_s
    spec = {"segments": segments, "t90_s": draw(st.floats(0.0, 120.0)), "drift_pct_per_hour": draw(st.floats(-5, 5))}
    if draw(st.booleans()):
        spec["noise"] = {"sd_pct": draw(st.floats(0.0, 2.0)), "seed": draw(st.integers())}
    return spec


@given(spec=_valid_specs(), t_s=st.floats(0.0, 5000.0))
def test_a_valid_spec_reaches_each_segments_target_at_its_end(spec, t_s):
    model = GasModel.from_spec(spec)
    for segment in spec["segments"]:
        end_s = segment.get("at_s", segment.get("to_s"))
        later = [s for s in spec["segments"] if s.get("at_s", s.get("from_s")) == end_s and s is not segment]
        if not later:
            assert model.true_pct(end_s) == segment["to_pct"]
    assert math.isfinite(model.sensed_pct(t_s))
    assert model.sensed_pct(t_s) == model.sensed_pct(t_s)  # repeatable
