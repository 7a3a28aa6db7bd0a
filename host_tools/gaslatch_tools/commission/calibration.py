"""Guided zero and span calibration: a steady reading first, checks against blinding a detector, then proof after.

A zero or span written on an unsettled or wrong reading mis-calibrates a safety device, so every step is checked.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from gaslatch.core.constants import CENTI, LEL_PCT_VOL, STATUS_FAULT, STATUS_WARMUP
from gaslatch.core.detector_profile import Profile, round_half_away
from gaslatch.core.profile_check import check_document
from gaslatch.core.profile_schema import SPAN_GAS_RAW
from gaslatch_tools.commission.bus_client import BusClient, BusError
from gaslatch_tools.commission.bus_scan import ATTEMPTS, Tally, pct_lel, poll, read, show_pct
from gaslatch_tools.commission.command_outcome import EXIT_FAILED, CommandStop
from gaslatch_tools.commission.record import utc_now
from gaslatch_tools.commission.state_words import state_word
from gaslatch.translation import N_, _

# TRANSLATORS: the kind of calibration, put into sentences such as "zero written (register 2 = 0)".
KIND_WORDS = {"zero": N_("zero"), "span": N_("span")}
# TRANSLATORS: the gas of a span-gas cylinder, put into "span gas of 50 %LEL (2.50 %vol methane)".
GAS_WORDS = {"methane": N_("methane"), "propane": N_("propane"), "lpg": N_("LPG")}

# The reading must hold still this long, within this band, and settle within the limit.
STABLE_S = 10.0
TOLERANCE_PCT = 1.0
CALIBRATION_LIMIT_S = 180.0
VERIFY_READINGS = 3  # consecutive readings on target after a zero or span write
# A "zero air" reading above this is gas or a bad cylinder, not sensor drift: zeroing it would blind the detector.
MAX_ZERO_OFFSET_PCT = 5.0
# A sensor reading less than half the span gas has lost its sensitivity: replace it rather than amplify it.
MIN_SPAN_SENSITIVITY = 0.5


class CalibrationRefused(CommandStop):
    """A calibration stopped by a check: kind (the error), message and hint for the installer; exit 1."""

    def __init__(self, kind: str, message: str, hint: str):
        super().__init__(kind, message, hint, EXIT_FAILED)


class Settling(NamedTuple):
    """How long the reading must hold (stable_s), within what band (tolerance_pct), and the wait's limit."""

    stable_s: float = STABLE_S
    tolerance_pct: float = TOLERANCE_PCT
    limit_s: float = CALIBRATION_LIMIT_S


class Steadiness:
    """Is the reading steady? Every reading since the window began lies within tolerance of the window's first.

    A reading outside starts a new window; no reading (None) empties it.
    """

    def __init__(self, tolerance_centi: int):
        self.tolerance_centi = tolerance_centi
        self.since_s: float | None = None
        self.values: list[int] = []

    def add(self, now_s: float, centi: int | None) -> float:
        """Seconds the reading has been steady, now."""
        if centi is None:
            self.since_s, self.values = None, []
            return 0.0
        if self.since_s is None or abs(centi - self.values[0]) > self.tolerance_centi:
            self.since_s, self.values = now_s, []
        self.values.append(centi)
        return now_s - self.since_s

    def mean_centi(self) -> int:
        return round_half_away(sum(self.values) / len(self.values))


class CalibrationReader:
    """One reading per call for calibrate: (centi %LEL or None, why not).

    Warm-up and fault readings do not count; a lost or damaged reply is shown and skipped, but ATTEMPTS
    failures in a row raise the last BusError.
    """

    def __init__(self, client: BusClient, address: int, profile: Profile, gas: str):
        self.client, self.address, self.profile, self.gas = client, address, profile, gas
        self.failures_in_a_row = 0

    def __call__(self) -> tuple[int | None, str]:
        try:
            sample = poll(self.client, Tally(), self.address, self.profile, self.gas, attempts=1)
        except BusError as error:
            self.failures_in_a_row += 1
            if error.kind == "exception" or self.failures_in_a_row >= ATTEMPTS:
                raise
            return None, error.message
        self.failures_in_a_row = 0
        if sample.status in (STATUS_WARMUP, STATUS_FAULT) or sample.concentration_centi_pct_lel is None:
            return None, _("detector reports %s") % state_word(sample.status) + (" (%s)" % sample.detail
                                                                                  if sample.detail else "")
        return sample.concentration_centi_pct_lel, ""


def wait_steady(read_centi: Callable[[], tuple[int | None, str]], stable_s: float, tolerance_pct: float,
                limit_s: float, period_s: float, console: Console, what: str) -> tuple[int | None, str]:
    """Polls until the reading held within tolerance for stable_s, showing the countdown on console.

    (the steady reading's mean in centi %LEL, or None when limit_s passed first; why the last reading
    that did not count did not).
    """
    steady = Steadiness(round_half_away(tolerance_pct * CENTI))
    started = time.monotonic()
    why = ""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[countdown]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(what, total=stable_s or 1, countdown="")
        while True:
            poll_start = time.monotonic()
            centi, reason = read_centi()
            why = reason or why
            held_s = steady.add(poll_start - started, centi)
            left_s = limit_s - (time.monotonic() - started)
            shown = _("no reading: %s") % reason if centi is None else "%s %%LEL" % show_pct(centi)
            progress.update(task, completed=min(held_s, stable_s), description="%s: %s" % (what, shown),
                            countdown=_("steady for %(more_s).1f s more (±%(tolerance)g %%LEL), gives up in "
                                        "%(left_s).0f s") % {"more_s": max(0.0, stable_s - held_s),
                                                             "tolerance": tolerance_pct, "left_s": max(0.0, left_s)})
            if centi is not None and held_s >= stable_s:
                progress.update(task, countdown=_("steady at %s %%LEL") % show_pct(steady.mean_centi()))
                return steady.mean_centi(), why
            if left_s <= 0:
                return None, why
            pause = period_s - (time.monotonic() - poll_start)
            if pause > 0:
                time.sleep(min(pause, left_s))


def wait_on_target(read_centi: Callable[[], tuple[int | None, str]], target_centi: int, tolerance_centi: int,
                   limit_s: float, period_s: float) -> tuple[int | None, int | None]:
    """After a write: (mean of VERIFY_READINGS readings in a row on target, or None; the last reading)."""
    deadline = time.monotonic() + limit_s
    streak: list[int] = []
    last = None
    while True:
        poll_start = time.monotonic()
        centi = read_centi()[0]
        last = centi if centi is not None else last
        if centi is not None and abs(centi - target_centi) <= tolerance_centi:
            streak.append(centi)
            if len(streak) >= VERIFY_READINGS:
                return round_half_away(sum(streak) / len(streak)), last
        else:
            streak = []
        if time.monotonic() >= deadline:
            return None, last
        pause = period_s - (time.monotonic() - poll_start)
        if pause > 0:
            time.sleep(pause)


def span_raw_value(profile: Profile, registers: dict[int, int], span_pct: float, gas: str) -> int:
    """The span gas in the raw scale of the concentration register, in the unit and decimals the device reports."""
    spec = check_document(profile.document, profile.name + ".json")["concentration"]

    def field(item: dict) -> Any:
        if "fixed" in item:
            return item["fixed"]
        return item["codes"].get((registers[item["register"]] & item["mask"]) >> item["shift"])

    unit = field(spec["unit"])
    decimals = 0 if spec["type"] == "float32" else field(spec["decimals"])
    per_pct_lel = {"pct_lel": 1.0, "pct_vol": LEL_PCT_VOL[gas] / 100.0, "ppm": LEL_PCT_VOL[gas] * 100.0}.get(unit)
    if per_pct_lel is None or decimals is None:
        raise ValueError(_("the detector reports a unit or scale the profile cannot convert (%(unit)r, %(decimals)r)")
                         % {"unit": unit, "decimals": decimals})
    return round_half_away(span_pct * per_pct_lel * 10**decimals)


def concentration_registers(client: BusClient, tally: Tally, address: int, profile: Profile) -> dict[int, int]:
    registers: dict[int, int] = {}
    for function, first, count in profile.reads:
        for offset, value in enumerate(read(client, tally, address, function, first, count)):
            registers[first + offset] = value
    return registers


class Calibration:
    """One zero or span calibration of one detector through its profile's register, and its `attempt` record.

    The profile must have the register (profile.commissioning[kind] set); target_pct is 0 for a zero.
    """

    def __init__(self, kind: str, target_pct: float, gas: str, address: int, baud: int, profile: Profile,
                 settling: Settling):
        self.kind, self.target_pct, self.gas, self.address = kind, target_pct, gas, address
        self.profile = profile
        self.settling = settling
        self.attempt: dict[str, Any] = {"utc": utc_now(), "kind": kind, "gas": gas, "address": address,
                                        "baud": baud, "profile": profile.name, "stable_s": settling.stable_s,
                                        "tolerance_pct": settling.tolerance_pct, "ok": False}
        if kind == "span":
            self.attempt["span_gas_pct_lel"] = target_pct

    def instruction(self, label: str) -> str:
        """What to apply to the detector `label` names, for the person doing it."""
        if self.kind == "zero":
            return _("Apply zero air (clean air, or a zero-air cylinder with the flow hood) to %s.") % label
        return _("Apply span gas of %(pct_lel)g %%LEL (%(pct_vol).2f %%vol %(gas)s) to %(detector)s.") % {
            "pct_lel": self.target_pct, "pct_vol": self.target_pct * LEL_PCT_VOL[self.gas] / 100.0,
            "gas": _(GAS_WORDS[self.gas]) if self.gas in GAS_WORDS else self.gas,
            "detector": label}

    def run(self, client: BusClient, tally: Tally, console: Console, say: Callable[[str], None]) -> None:
        """Waits for a steady reading, checks it, writes zero or span, then checks the reading; fills attempt.

        The countdown shows on console, the write on say. Raises CalibrationRefused when a check fails
        (nothing is written after that), BusError when the bus does; attempt["ok"] only when verified.
        """
        kind, target_pct, attempt = self.kind, self.target_pct, self.attempt
        stable_s, tolerance_pct, limit_s = self.settling
        spec = self.profile.commissioning[kind]
        reader = CalibrationReader(client, self.address, self.profile, self.gas)
        period_s = self.profile.min_poll_interval_ms / 1000.0
        before, why = wait_steady(reader, stable_s, tolerance_pct, limit_s, period_s, console,
                                  _("waiting for a stable reading"))
        if before is None:
            raise CalibrationRefused(
                "unstable", _("the reading did not hold within ±%(tolerance)g %%LEL for %(stable_s)g s within "
                              "%(limit_s)g s") % {"tolerance": tolerance_pct, "stable_s": stable_s, "limit_s": limit_s}
                + (" (%s)" % why if why else ""),
                _("check the gas flow and the hood, keep draughts away, let a new sensor warm up; then try again"))
        attempt["before_pct_lel"] = pct_lel(before)
        if kind == "zero" and abs(before) > MAX_ZERO_OFFSET_PCT * CENTI:
            raise CalibrationRefused(
                "refused", _("the detector reads %s %%LEL in zero air: that is gas, not drift") % show_pct(before),
                _("ventilate, check the zero-air cylinder and hood; zeroing now would blind the detector"))
        if kind == "span" and before < MIN_SPAN_SENSITIVITY * target_pct * CENTI:
            raise CalibrationRefused(
                "refused", _("the detector reads %(reading)s %%LEL on %(target)g %%LEL span gas: under half")
                % {"reading": show_pct(before), "target": target_pct},
                _("check the gas reaches the sensor (hood, flow, cylinder concentration); a sensor this weak needs "
                  "replacing, not amplifying"))
        value = spec["write"]
        if value == SPAN_GAS_RAW:
            try:
                value = span_raw_value(self.profile, concentration_registers(client, tally, self.address,
                                                                             self.profile), target_pct, self.gas)
            except ValueError as error:
                raise CalibrationRefused("unsupported", str(error), _("calibrate it with the vendor's tool")) from None
        attempt.update(register=spec["register"], value_written=value)
        try:
            client.write_register(self.address, spec["register"], value)
        except BusError as error:
            if error.kind != "exception":
                raise
            raise CalibrationRefused(
                "refused", _("the detector refused the %(kind)s: %(error)s") % {"kind": _(KIND_WORDS[kind]),
                                                                                 "error": error.message},
                _("a detector refuses while warming up or when the sensor does not respond to the gas")) from None
        say(_("%(kind)s written (register %(register)d = %(value)d); checking the reading: %(readings)d in a row "
              "within %(target)g ±%(tolerance)g %%LEL ...")
            % {"kind": _(KIND_WORDS[kind]), "register": spec["register"], "value": value,
               "readings": VERIFY_READINGS, "target": target_pct, "tolerance": tolerance_pct})
        after, last = wait_on_target(reader, round_half_away(target_pct * CENTI),
                                     round_half_away(tolerance_pct * CENTI), limit_s, period_s)
        attempt["after_pct_lel"] = pct_lel(after if after is not None else last)
        if after is None:
            raise CalibrationRefused(
                "not_verified", _("after the %(kind)s write the detector reads %(reading)s %%LEL, not %(target)g "
                                  "±%(tolerance)g") % {"kind": _(KIND_WORDS[kind]), "reading": show_pct(last),
                                                        "target": target_pct, "tolerance": tolerance_pct},
                _("repeat the calibration; if it fails again the sensor or the profile's calibration registers are "
                  "wrong"))
        attempt["ok"] = True
