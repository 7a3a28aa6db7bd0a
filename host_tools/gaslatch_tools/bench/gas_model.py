"""Gas at one emulated detector as a pure function of scenario time: steps, ramps, sensor lag, drift, noise.

Deterministic for a seed, so a bench scenario replays exactly and its trace can be compared run to run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

# Issue 7, after the GB 15322 slow-leak test: the gas rises by at most 1 %LEL per minute.
SLOW_LEAK_PCT_PER_MIN = 1.0
# One noise sample holds for a tick, drawn from (seed, tick): the same t gives the same noise in any call order.
NOISE_TICK_S = 0.1
# First-order sensor: 90 % of a step is reached after ln(10) time constants.
T90_PER_TAU = math.log(10.0)
# 100 %vol propane is about 4760 %LEL: nothing physical lies above this.
MAX_PCT_LEL = 5000.0
MAX_T_S = 1.0e7  # about 116 days, far beyond any bench run
MIN_RAMP_S = 0.1  # anything faster is a step
MAX_T90_S = 3600.0
MAX_NOISE_SD_PCT = 50.0
MAX_DRIFT_PCT_PER_HOUR = 100.0

_SPEC_KEYS = ("start_pct", "t90_s", "drift_pct_per_hour", "noise", "segments")
_NOISE_KEYS = ("sd_pct", "seed")
_STEP_KEYS = ("kind", "at_s", "to_pct")
_RAMP_KEYS = ("kind", "from_s", "to_s", "pct_per_min", "to_pct")


@dataclass(frozen=True)
class Change:
    """The true gas moves in a straight line from its value at start_s to to_pct at end_s (equal times: a step)."""

    start_s: float
    end_s: float
    to_pct: float


class GasModel:
    """Concentration in %LEL over scenario time t_s (0 = bench start); the builders return self to chain.

    Lag: the exact (analytic) response of a first-order sensor, tau = t90 / ln 10, to the piecewise
    linear true gas, at equilibrium with start_pct at t = 0.
    """

    def __init__(self, start_pct: float = 0.0):
        self.start_pct = _number("start_pct", start_pct, 0.0, MAX_PCT_LEL)
        self.t90_s = 0.0
        self.drift_pct_per_hour = 0.0
        self.noise_sd_pct = 0.0
        self.seed = 0
        self._changes: list[Change] = []

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(self._changes)

    def step(self, at_s: float, to_pct: float) -> GasModel:
        """The gas jumps to to_pct at at_s (a bottle opened at the sensor)."""
        at_s = _number("at_s", at_s, 0.0, MAX_T_S)
        self._check_after_last("at_s", at_s)
        self._changes.append(Change(at_s, at_s, _number("to_pct", to_pct, 0.0, MAX_PCT_LEL)))
        return self

    def ramp(self, from_s: float, to_s: float, to_pct: float) -> GasModel:
        """The gas moves linearly from its value at from_s to to_pct at to_s (a leak building up)."""
        from_s = _number("from_s", from_s, 0.0, MAX_T_S)
        to_s = _number("to_s", to_s, 0.0, MAX_T_S)
        to_pct = _number("to_pct", to_pct, 0.0, MAX_PCT_LEL)
        self._check_after_last("from_s", from_s)
        if to_s - from_s < MIN_RAMP_S:
            message = "to_s: must be at least %g s after from_s (%g), got %g: use a step"
            raise ValueError(message % (MIN_RAMP_S, from_s, to_s))
        self._changes.append(Change(from_s, to_s, to_pct))
        return self

    def ramp_at(self, from_s: float, to_pct: float, pct_per_min: float = SLOW_LEAK_PCT_PER_MIN) -> GasModel:
        """A ramp from from_s at a rate: SLOW_LEAK_PCT_PER_MIN is the GB 15322 slow leak."""
        from_s = _number("from_s", from_s, 0.0, MAX_T_S)
        to_pct = _number("to_pct", to_pct, 0.0, MAX_PCT_LEL)
        rate = _number("pct_per_min", pct_per_min, 1e-6, 60.0 * MAX_PCT_LEL)
        duration_s = abs(to_pct - self.true_pct(from_s)) / rate * 60.0
        if duration_s < MIN_RAMP_S:
            raise ValueError("pct_per_min: at %g %%LEL/min the change to %g %%LEL takes under %g s: use a step"
                             % (rate, to_pct, MIN_RAMP_S))
        if from_s + duration_s > MAX_T_S:
            message = "pct_per_min: at %g %%LEL/min the change to %g %%LEL ends after %g s"
            raise ValueError(message % (rate, to_pct, MAX_T_S))
        return self.ramp(from_s, from_s + duration_s, to_pct)

    def lag(self, t90_s: float) -> GasModel:
        """The sensor reaches 90 % of a step after t90_s (0: no lag)."""
        self.t90_s = _number("t90_s", t90_s, 0.0, MAX_T90_S)
        return self

    def drift(self, pct_per_hour: float) -> GasModel:
        """The sensor's zero moves by pct_per_hour (either sign) from t = 0."""
        limit = MAX_DRIFT_PCT_PER_HOUR
        self.drift_pct_per_hour = _number("drift_pct_per_hour", pct_per_hour, -limit, limit)
        return self

    def noise(self, sd_pct: float, seed: int = 0) -> GasModel:
        """Gaussian noise of standard deviation sd_pct, one sample per NOISE_TICK_S, repeatable for a seed."""
        self.noise_sd_pct = _number("sd_pct", sd_pct, 0.0, MAX_NOISE_SD_PCT)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed: must be an integer, got %r" % (seed,))
        self.seed = seed
        return self

    def true_pct(self, t_s: float) -> float:
        """The gas at the sensor at t_s, %LEL."""
        value = self.start_pct
        for change in self._changes:
            if t_s < change.start_s:
                break
            if t_s >= change.end_s:
                value = change.to_pct
            else:
                fraction = (t_s - change.start_s) / (change.end_s - change.start_s)
                value += (change.to_pct - value) * fraction
        return value

    def sensed_pct(self, t_s: float) -> float:
        """What the sensor measures at t_s, %LEL: lagged true gas plus drift plus noise (may be below 0)."""
        t_s = max(0.0, t_s)
        return self._lagged_pct(t_s) + self.drift_pct_per_hour * t_s / 3600.0 + self._noise_pct(t_s)

    def _lagged_pct(self, t_s: float) -> float:
        tau_s = self.t90_s / T90_PER_TAU
        sensed = value = self.start_pct
        now_s = 0.0
        for change in self._changes:
            if change.start_s > t_s:
                break
            sensed = _first_order(sensed, value, 0.0, change.start_s - now_s, tau_s)
            now_s = change.start_s
            if change.end_s == change.start_s:
                value = change.to_pct
                continue
            slope = (change.to_pct - value) / (change.end_s - change.start_s)
            end_s = min(change.end_s, t_s)
            sensed = _first_order(sensed, value, slope, end_s - now_s, tau_s)
            value = change.to_pct if end_s == change.end_s else value + slope * (end_s - now_s)
            now_s = end_s
        return _first_order(sensed, value, 0.0, t_s - now_s, tau_s)

    def _noise_pct(self, t_s: float) -> float:
        if self.noise_sd_pct == 0.0:
            return 0.0
        tick = math.floor(t_s / NOISE_TICK_S)
        return random.Random("%d:%d" % (self.seed, tick)).gauss(0.0, self.noise_sd_pct)

    def _check_after_last(self, name: str, start_s: float) -> None:
        if self._changes and start_s < self._changes[-1].end_s:
            raise ValueError("%s: must not be before the end of the previous segment (%g s), got %g"
                             % (name, self._changes[-1].end_s, start_s))

    @classmethod
    def from_spec(cls, spec: Any, where: str = "gas") -> GasModel:
        """A model from a scenario file's dict; ValueError naming the bad field (where.segments[2].to_s: ...)."""
        _keys(spec, where, _SPEC_KEYS)
        try:
            model = cls(spec.get("start_pct", 0.0))
            model.lag(spec.get("t90_s", 0.0))
            model.drift(spec.get("drift_pct_per_hour", 0.0))
        except ValueError as exc:
            raise ValueError("%s.%s" % (where, exc)) from None
        if "noise" in spec:
            noise = spec["noise"]
            _keys(noise, where + ".noise", _NOISE_KEYS, required=("sd_pct",))
            try:
                model.noise(noise["sd_pct"], noise.get("seed", 0))
            except ValueError as exc:
                raise ValueError("%s.noise.%s" % (where, exc)) from None
        segments = spec.get("segments", [])
        if not isinstance(segments, list):
            raise ValueError("%s.segments: must be a list, got %r" % (where, segments))
        for index, segment in enumerate(segments):
            model._add_segment(segment, "%s.segments[%d]" % (where, index))
        return model

    def _add_segment(self, segment: Any, path: str) -> None:
        kind = segment.get("kind") if isinstance(segment, dict) else None
        if kind == "step":
            _keys(segment, path, _STEP_KEYS, required=_STEP_KEYS)
        elif kind == "ramp":
            _keys(segment, path, _RAMP_KEYS, required=("kind", "from_s", "to_pct"))
            if ("to_s" in segment) == ("pct_per_min" in segment):
                raise ValueError("%s: a ramp needs exactly one of to_s, pct_per_min" % path)
        else:
            raise ValueError("%s.kind: must be \"step\" or \"ramp\", got %r" % (path, kind))
        try:
            if kind == "step":
                self.step(segment["at_s"], segment["to_pct"])
            elif "to_s" in segment:
                self.ramp(segment["from_s"], segment["to_s"], segment["to_pct"])
            else:
                self.ramp_at(segment["from_s"], segment["to_pct"], segment["pct_per_min"])
        except ValueError as exc:
            raise ValueError("%s.%s" % (path, exc)) from None


def _first_order(sensed: float, value: float, slope: float, dt_s: float, tau_s: float) -> float:
    """Exact first-order response after dt_s to the input value + slope * t, starting from sensed."""
    if tau_s == 0.0:
        return value + slope * dt_s
    lag = slope * tau_s
    return value + slope * dt_s - lag + (sensed - value + lag) * math.exp(-dt_s / tau_s)


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError("%s: must be a number %g..%g, got %r" % (name, low, high, value))
    return float(value)


def _keys(value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
    if not isinstance(value, dict):
        raise ValueError("%s: must be a mapping, got %r" % (path, value))
    for key in sorted(value, key=str):
        if key not in allowed:
            raise ValueError("%s.%s: unknown key (allowed: %s)" % (path, key, ", ".join(allowed)))
    for key in required:
        if key not in value:
            raise ValueError("%s.%s: is required" % (path, key))
