"""The state of one gas detector, decided from its samples and the time alone.

Everything that moves a detector between warm-up, normal, alarm, fault and comm lost lives here;
the transitions are the table below, from which docs/safety.md draws its diagram. So does the
evidence behind them: the clear hold, relapses (an unstable detector) and the link's health.
"""

from gaslatch.core import constants as C

WARMUP = "warmup"
NORMAL = "normal"
LOW_ALARM = "low_alarm"
HIGH_ALARM = "high_alarm"
FAULT = "fault"
COMM_LOST = "comm_lost"
STATES = (WARMUP, NORMAL, LOW_ALARM, HIGH_ALARM, FAULT, COMM_LOST)

ALARM_STATES = (LOW_ALARM, HIGH_ALARM)
UNHEALTHY_STATES = (FAULT, COMM_LOST)

# Triggers: what the evaluation below found in the latest sample or in the passing time.
HEALTHY = "healthy"  # clear for the clear hold (samples and time) after warm-up, fault or comm loss
LOW_CONFIRMED = "low_confirmed"  # low alarm confirmed (reading) or reported by the detector
HIGH_CONFIRMED = "high_confirmed"  # high alarm confirmed, reported, or over-range
FELL_BELOW_HIGH = "fell_below_high"  # reading below high set point minus hysteresis, above low
CLEARED = "cleared"  # clear for the clear hold: below low set point minus hysteresis, nothing reported
FAULT_REPORTED = "fault_reported"  # device fault, calibration, end of life, frozen heartbeat, drift
WARMUP_REPORTED = "warmup_reported"  # the detector says it is warming up
WARMUP_OVERDUE = "warmup_overdue"  # still warming up after warmup_max_s
SILENT = "silent"  # no good sample for the stale limit: comm_lost_after_s, or sooner the link budget

# The transition table: state -> {trigger: next state}. A trigger absent from a state's row
# leaves the state unchanged.
TRANSITIONS = {
    WARMUP: {
        HEALTHY: NORMAL,
        LOW_CONFIRMED: LOW_ALARM,
        HIGH_CONFIRMED: HIGH_ALARM,
        FAULT_REPORTED: FAULT,
        WARMUP_OVERDUE: FAULT,
        SILENT: COMM_LOST,
    },
    NORMAL: {
        LOW_CONFIRMED: LOW_ALARM,
        HIGH_CONFIRMED: HIGH_ALARM,
        FAULT_REPORTED: FAULT,
        WARMUP_REPORTED: WARMUP,
        SILENT: COMM_LOST,
    },
    LOW_ALARM: {
        HIGH_CONFIRMED: HIGH_ALARM,
        CLEARED: NORMAL,
        FAULT_REPORTED: FAULT,
        WARMUP_REPORTED: WARMUP,
        SILENT: COMM_LOST,
    },
    HIGH_ALARM: {
        FELL_BELOW_HIGH: LOW_ALARM,
        CLEARED: NORMAL,
        FAULT_REPORTED: FAULT,
        WARMUP_REPORTED: WARMUP,
        SILENT: COMM_LOST,
    },
    # Fault and comm lost are left only by confirmed health or by gas: a warm-up or a fault
    # status in between proves nothing, so a flapping detector stays here (and its timer runs).
    FAULT: {
        HEALTHY: NORMAL,
        LOW_CONFIRMED: LOW_ALARM,
        HIGH_CONFIRMED: HIGH_ALARM,
        SILENT: COMM_LOST,
    },
    COMM_LOST: {
        HEALTHY: NORMAL,
        LOW_CONFIRMED: LOW_ALARM,
        HIGH_CONFIRMED: HIGH_ALARM,
        FAULT_REPORTED: FAULT,
    },
}

# How the measurand's unit is written in reasons (UNIT_LABELS of detector_profile, without importing it).
_UNIT_TEXT = {"pct_lel": "%LEL", "ppm": "ppm"}

# Why a detector in any state cannot be trusted (Safety treats it as blind; see `distrust`).
UNSTABLE = "unstable"
LINK_DEGRADED = "link_degraded"

_FAULT_STATUSES = (C.STATUS_FAULT, C.STATUS_CALIBRATION, C.STATUS_END_OF_LIFE)

# Sample classes, ordered by danger.
_CLEAR = 0
_LOW = 1
_HIGH = 2


def pct_to_centi(pct):
    """A set point in %LEL or ppm (int or float from config) as integer hundredths, rounded half up."""
    return int(pct * C.CENTI + (0.5 if pct >= 0 else -0.5))


class DetectorSettings:
    """The per-detector numbers the state machine needs, in core units (ms, hundredths of the measurand's
    unit: %LEL for combustible gas, ppm for CO and CO2)."""

    def __init__(self, low_centi, high_centi, hysteresis_centi, confirm_samples, confirm_window_ms,
                 comm_lost_after_ms, warmup_max_ms, heartbeat_frozen_after_ms=None, full_scale_centi=None,
                 clear_hold_samples=C.DEFAULT_CLEAR_HOLD_SAMPLES, clear_hold_ms=C.DEFAULT_CLEAR_HOLD_S * 1000,
                 scan_period_ms=C.DEFAULT_SCAN_PERIOD_MS, measurand=C.MEASURAND_COMBUSTIBLE):
        if measurand not in C.MEASURAND_UNIT:
            raise ValueError("unknown measurand %r" % (measurand,))
        self.measurand = measurand
        self.unit = C.MEASURAND_UNIT[measurand]
        self.low_centi = low_centi
        self.high_centi = high_centi
        self.hysteresis_centi = hysteresis_centi
        self.confirm_samples = confirm_samples
        self.confirm_window_ms = confirm_window_ms
        self.comm_lost_after_ms = comm_lost_after_ms
        self.warmup_max_ms = warmup_max_ms
        self.heartbeat_frozen_after_ms = heartbeat_frozen_after_ms
        self.full_scale_centi = full_scale_centi
        self.clear_hold_samples = clear_hold_samples
        self.clear_hold_ms = clear_hold_ms
        # A sample older than this and the alarm budget no longer holds: the detector is comm lost.
        self.stale_after_ms = min(comm_lost_after_ms, link_budget_ms(scan_period_ms, confirm_samples, confirm_window_ms))


def link_budget_ms(scan_period_ms, confirm_samples, confirm_window_ms):
    """The longest gap between good samples that still confirms a leak inside the alarm budget.

    With every gap at most L, gas at the detector is in a sample within L and confirmed by the
    confirm_samples-th sample or by the first one confirm_window_ms after the first: within
    L + min((C - 1) x L, window + L), plus the scan that acts. GB 16808 (unverified): alarm within 10 s.
    """
    room_ms = C.ALARM_LATENCY_BUDGET_MS - scan_period_ms
    by_count = room_ms // confirm_samples
    by_window = (room_ms - confirm_window_ms) // 2
    return by_count if by_count > by_window else by_window


def settings_from_config(detector_cfg, alarm_cfg, heartbeat_frozen_after_ms=None, scan_period_ms=C.DEFAULT_SCAN_PERIOD_MS):
    """DetectorSettings from a normalised detector entry, the `alarm` section and the scan period.

    A combustible-gas detector's set points are its *_pct_lel keys, a CO or CO2 detector's its *_ppm keys.
    """
    measurand = detector_cfg.get("measurand", C.MEASURAND_COMBUSTIBLE)
    unit = C.MEASURAND_UNIT[measurand]
    full_scale = detector_cfg.get("full_scale_" + unit)
    return DetectorSettings(
        low_centi=pct_to_centi(detector_cfg["low_alarm_" + unit]),
        high_centi=pct_to_centi(detector_cfg["high_alarm_" + unit]),
        hysteresis_centi=pct_to_centi(detector_cfg["hysteresis_" + unit]),
        confirm_samples=alarm_cfg["confirm_samples"],
        confirm_window_ms=alarm_cfg["confirm_window_ms"],
        comm_lost_after_ms=alarm_cfg["comm_lost_after_s"] * 1000,
        warmup_max_ms=alarm_cfg["warmup_max_s"] * 1000,
        heartbeat_frozen_after_ms=heartbeat_frozen_after_ms,
        full_scale_centi=pct_to_centi(full_scale) if full_scale is not None else None,
        clear_hold_samples=alarm_cfg["clear_hold_samples"],
        clear_hold_ms=alarm_cfg["clear_hold_s"] * 1000,
        scan_period_ms=scan_period_ms,
        measurand=measurand,
    )


class Transition:
    """One change of a detector's state, with what caused it (becomes one event record).

    value: the reading in hundredths of %LEL for a combustible-gas detector; None for a CO or CO2 detector,
    whose ppm an event's %LEL value must never carry (its reason states the reading with its unit).
    """

    def __init__(self, name, old, new, trigger, value, reason):
        self.name = name
        self.old = old
        self.new = new
        self.trigger = trigger
        self.value = value
        self.reason = reason


class DetectorState:
    """One detector's state machine. Feed it `update(now_ms, sample)` every scan.

    `sample` is a detector_profile.Sample when a complete reading arrived this scan, else None.
    Normal is earned, never given back by one good sample: leaving any other state needs the
    detector clear for the clear hold (clear_hold_samples clean samples in a row, no failed poll
    between, and clear_hold_ms since the last bad one), stable, and on a healthy link.
    """

    def __init__(self, name, settings, now_ms):
        self.name = name
        self.settings = settings
        self.state = WARMUP
        self.since_ms = now_ms
        self.reason = "power on"
        self.measurand = settings.measurand
        self.concentration_centi_pct_lel = None  # the latest reading of a combustible-gas detector
        self.concentration_centi_ppm = None  # the latest reading of a CO or CO2 detector
        self.device_status = None
        self.over_range = False
        self.last_sample_ms = now_ms
        self.last_error = ""
        self.has_monitored = False  # reached normal or alarm once: a later warm-up means it went blind
        self.unstable = ""  # why the detector's reports keep relapsing, or ""
        self._warmup_since_ms = now_ms
        # Gas evidence of the present episode: samples at or above each set point, not necessarily in a
        # row; an episode ends only when the detector has been clear for the clear hold.
        self._low_count = 0
        self._low_first_ms = None
        self._high_count = 0
        self._high_first_ms = None
        self._clean_run = 0  # clean samples in a row, with no failed poll between
        self._last_bad_ms = None  # the latest bad evidence: a sample that was not clean, or a move away from normal
        self._bad = None  # the last sample's class (a Schmitt trigger over the hysteresis band); None before any
        self._relapses = []  # ms of the latest clean -> bad flips, at most C.RELAPSE_LIMIT
        self._polls = []  # outcome of the latest polls (True answered), at most C.LINK_WINDOW_POLLS
        self._link_degraded = False
        self._heartbeat = None
        self._heartbeat_changed_ms = now_ms

    @property
    def blind(self):
        """True when the detector cannot be trusted to see gas: fault, comm lost, back in warm-up in
        service, unstable, or on a degraded link."""
        return (self.state in UNHEALTHY_STATES or (self.state == WARMUP and self.has_monitored)
                or self.distrust() != "")

    def distrust(self):
        """UNSTABLE, LINK_DEGRADED or "": why this detector's reports cannot be trusted whatever its state."""
        if self.unstable:
            return UNSTABLE
        if self.link_degraded():
            return LINK_DEGRADED
        return ""

    def link_degraded(self):
        """True from when at least half of the latest C.LINK_WINDOW_POLLS polls failed until at most a
        quarter do (hysteresis: a link losing about half its replies does not flap between the two)."""
        return self._link_degraded

    def polls_seen(self):
        """How many polls the link figures cover (at most C.LINK_WINDOW_POLLS)."""
        return len(self._polls)

    def failed_polls(self):
        """How many of the latest polls (at most C.LINK_WINDOW_POLLS) failed."""
        return len([ok for ok in self._polls if not ok])

    def link_text(self):
        return "%d of the last %d polls failed" % (self.failed_polls(), len(self._polls))

    def reads_clear(self):
        """The latest sample was clean: normal status, reading below the low set point minus hysteresis."""
        return self._bad is False

    def hold_remaining_ms(self, now_ms):
        """How long until the clear hold's time is served, if the detector stays clear (0: served)."""
        if self._last_bad_ms is None:
            return 0
        left = self.settings.clear_hold_ms - (now_ms - self._last_bad_ms)
        return left if left > 0 else 0

    def clear_for_hold(self, now_ms):
        """The clear hold is served: enough clean samples in a row, for long enough, stable, good link."""
        return (self._clean_run >= self.settings.clear_hold_samples and self.hold_remaining_ms(now_ms) == 0
                and not self.distrust())

    def note_comm_error(self, now_ms, detail):
        """A poll failed (timeout, CRC, exception...): kept as the reason if the detector goes silent.

        A failure restarts the clean run and counts against the link; away from normal once the detector
        has been in service it is bad evidence too (before that, at power-on, it is only absence of evidence:
        silence long enough is comm loss, whose clear hold starts when it is declared).
        """
        self.last_error = detail
        self._clean_run = 0
        self._note_poll(False)
        if self.state != NORMAL and self.has_monitored:
            self._last_bad_ms = now_ms

    def update(self, now_ms, sample):
        """Advance by one scan; returns a Transition or None."""
        self._expire_unstable(now_ms)
        if sample is None:
            silent_ms = now_ms - self.last_sample_ms
            silent = silent_ms >= self.settings.stale_after_ms
            if silent:
                self._clean_run = 0  # replies spread over silences do not prove health
            if self.state != COMM_LOST and silent:
                return self._move(now_ms, SILENT, self._silence_text(silent_ms))
            if (self.state == WARMUP and self._warmup_since_ms is not None
                    and now_ms - self._warmup_since_ms >= self.settings.warmup_max_ms):
                return self._move(now_ms, WARMUP_OVERDUE, "still warming up after %d s" % (self.settings.warmup_max_ms // 1000))
            return None
        self.last_sample_ms = now_ms
        self.last_error = ""
        self._note_poll(True)
        trigger, reason = self._classify(now_ms, sample)
        if trigger is None:
            return None
        return self._move(now_ms, trigger, reason)

    def _silence_text(self, silent_ms):
        s = self.settings
        if silent_ms < s.comm_lost_after_ms:
            text = ("link degraded: no good reply for %s s, longer than the %s s within which a leak must be "
                    "sampled to trip inside the %d s alarm budget" % (
                        _fmt_s(silent_ms), _fmt_s(s.stale_after_ms), C.ALARM_LATENCY_BUDGET_MS // 1000))
        else:
            text = "no reply for %d s" % (silent_ms // 1000)
        if self.last_error:
            text += " (last error: %s)" % self.last_error
        return text

    def _note_poll(self, ok):
        self._polls.append(ok)
        if len(self._polls) > C.LINK_WINDOW_POLLS:
            self._polls.pop(0)
        failed = self.failed_polls()
        if len(self._polls) >= C.LINK_WINDOW_POLLS and 2 * failed >= len(self._polls):
            self._link_degraded = True
        elif 4 * failed <= len(self._polls):
            self._link_degraded = False

    def _expire_unstable(self, now_ms):
        """An unstable detector is stable again after a whole relapse window without a relapse."""
        if self.unstable and now_ms - self._relapses[-1] >= C.RELAPSE_WINDOW_S * 1000:
            self.unstable = ""

    def _note_evidence(self, now_ms, bad, holds=True):
        """Count the clean run, stamp bad evidence (when it `holds`), count relapses, end a served episode."""
        if bad:
            if self._bad is False:
                self._relapse(now_ms)
            self._bad = True
            if holds:
                self._last_bad_ms = now_ms
            self._clean_run = 0
            return
        self._bad = False
        self._clean_run += 1
        if self._clean_run >= self.settings.clear_hold_samples and self.hold_remaining_ms(now_ms) == 0:
            self._low_count = 0
            self._high_count = 0

    def _relapse(self, now_ms):
        self._relapses.append(now_ms)
        if len(self._relapses) > C.RELAPSE_LIMIT:
            self._relapses.pop(0)
        span_ms = now_ms - self._relapses[0]
        if not self.unstable and len(self._relapses) >= C.RELAPSE_LIMIT and span_ms < C.RELAPSE_WINDOW_S * 1000:
            self.unstable = "unstable: went from clear to alarm, fault or warm-up %d times in %s s" % (
                len(self._relapses), _fmt_s(span_ms))

    def _is_bad(self, status, conc, over_range, fault):
        """Whether a sample is bad evidence: anything but a normal status with a reading below the low set
        point minus hysteresis. A reading inside the hysteresis band keeps the previous class."""
        if fault or over_range or status != C.STATUS_NORMAL:
            return True
        if conc is None:
            return False  # a contact detector: its status says it all
        s = self.settings
        if conc >= s.low_centi:
            return True
        if conc < s.low_centi - s.hysteresis_centi:
            return False
        return self._bad is not False

    def _classify(self, now_ms, sample):
        """The trigger this sample gives, with the confirmation, hysteresis and priorities applied."""
        s = self.settings
        status = sample.status
        malformed = _malformed(sample) or self._wrong_unit(sample)
        if malformed:
            # The last line of defence behind the profile decoder: never act on what we cannot read.
            self.device_status = C.STATUS_FAULT
            self._note_evidence(now_ms, True)
            return FAULT_REPORTED, malformed
        unknown_status = ""
        if status not in C.STATUSES:
            # Unknown is a fault, but a reading above a set point still raises its alarm first.
            unknown_status = "unknown detector status %r" % (status,)
            status = C.STATUS_FAULT
        conc, sample_full_scale = self._reading(sample)
        if s.unit == "pct_lel":
            self.concentration_centi_pct_lel = conc
        else:
            self.concentration_centi_ppm = conc
        self.device_status = status
        full_scale = s.full_scale_centi
        if sample_full_scale is not None and sample_full_scale > 0:
            full_scale = sample_full_scale
        over_range = status == C.STATUS_OVER_RANGE or (
            conc is not None and full_scale is not None and conc >= full_scale)
        self.over_range = over_range
        fault = unknown_status or self._fault_in(now_ms, sample)
        # Warming up at power-on is expected, not bad news: it breaks the clean run but starts no hold.
        expected_warmup = status == C.STATUS_WARMUP and not self.has_monitored
        self._note_evidence(now_ms, self._is_bad(status, conc, over_range, fault), not expected_warmup)
        # Danger first: over-range and the detector's own alarm act at once, whatever else is wrong.
        if over_range:
            return self._to_level(_HIGH, "over-range (%s)" % self._fmt(conc))
        if status == C.STATUS_HIGH_ALARM:
            return self._to_level(_HIGH, "detector reports high alarm at %s" % self._fmt(conc))
        reading = _CLEAR
        if conc is not None and status != C.STATUS_WARMUP:
            if conc >= s.high_centi:
                reading = _HIGH
            elif conc >= s.low_centi:
                reading = _LOW
        # A warm-up sample or one without a reading adds no gas evidence.
        measuring = conc is not None and status != C.STATUS_WARMUP
        confirmed = self._confirm(now_ms, reading) if measuring else _CLEAR
        if confirmed == _HIGH:
            return self._to_level(_HIGH, "reading %s >= high set point %s" % (self._fmt(conc), self._fmt(s.high_centi)))
        if self.state == HIGH_ALARM and conc is not None and conc >= s.high_centi - s.hysteresis_centi:
            return None, ""  # within the clearing hysteresis: the high alarm holds
        if fault:
            return FAULT_REPORTED, fault
        if status == C.STATUS_WARMUP:
            if self._warmup_since_ms is None:
                self._warmup_since_ms = now_ms
            if now_ms - self._warmup_since_ms >= s.warmup_max_ms:
                return WARMUP_OVERDUE, "still warming up after %d s" % (s.warmup_max_ms // 1000)
            return WARMUP_REPORTED, "detector warming up"
        device_low = status in (C.STATUS_LOW_ALARM, C.STATUS_PRE_ALARM)
        if self.state == HIGH_ALARM and (device_low or reading == _LOW):
            return FELL_BELOW_HIGH, "reading %s below high set point" % self._fmt(conc)
        if device_low:
            return self._to_level(_LOW, "detector reports %s at %s" % (status.replace("_", " "), self._fmt(conc)))
        if confirmed == _LOW:
            return self._to_level(_LOW, "reading %s >= low set point %s" % (self._fmt(conc), self._fmt(s.low_centi)))
        if reading != _CLEAR:
            return None, ""  # above a set point, not yet confirmed: hold the present state
        return self._clearing(now_ms, conc)

    def _confirm(self, now_ms, reading):
        """Count the episode's samples at or above each set point; returns the confirmed level.

        A level is confirmed by confirm_samples such samples, or by one that comes confirm_window_ms or
        more after the first. Clean samples in between do not restart the count (only a served clear
        hold does), so a reading that jumps between gas and clean every poll still confirms.
        """
        s = self.settings
        if reading >= _LOW:
            if self._low_count == 0:
                self._low_first_ms = now_ms
            self._low_count += 1
        if reading >= _HIGH:
            if self._high_count == 0:
                self._high_first_ms = now_ms
            self._high_count += 1
        if reading >= _HIGH and (self._high_count >= s.confirm_samples
                                 or now_ms - self._high_first_ms >= s.confirm_window_ms):
            return _HIGH
        if reading >= _LOW and (self._low_count >= s.confirm_samples
                                or now_ms - self._low_first_ms >= s.confirm_window_ms):
            return _LOW
        return _CLEAR

    def _to_level(self, level, reason):
        if level == _HIGH:
            return HIGH_CONFIRMED, reason
        return LOW_CONFIRMED, reason

    def _reading(self, sample):
        """(reading, full scale) of the sample in hundredths of this detector's unit, each int or None."""
        if self.settings.unit == "pct_lel":
            return sample.concentration_centi_pct_lel, sample.full_scale_centi_pct_lel
        return sample.concentration_centi_ppm, sample.full_scale_centi_ppm

    def _wrong_unit(self, sample):
        """Why a sample carries a reading in the other unit (a %LEL number from a CO channel...), or ""."""
        if self.settings.unit == "pct_lel":
            other = (sample.concentration_centi_ppm, sample.full_scale_centi_ppm)
        else:
            other = (sample.concentration_centi_pct_lel, sample.full_scale_centi_pct_lel)
        if other[0] is None and other[1] is None:
            return ""
        return "reading in %s from a %s detector: a wrong-unit profile, never converted" % (
            "ppm" if self.settings.unit == "pct_lel" else "%LEL", self.measurand)

    def _fmt(self, centi):
        return _fmt(centi, _UNIT_TEXT[self.settings.unit])

    def _fault_in(self, now_ms, sample):
        """Why this sample shows a fault, or "" when it does not."""
        frozen = ""
        frozen_ms = self.settings.heartbeat_frozen_after_ms
        if frozen_ms is not None and sample.heartbeat is not None:
            if sample.heartbeat != self._heartbeat:
                self._heartbeat = sample.heartbeat
                self._heartbeat_changed_ms = now_ms
            elif now_ms - self._heartbeat_changed_ms >= frozen_ms:
                frozen = "heartbeat frozen at %d for %d s" % (sample.heartbeat, (now_ms - self._heartbeat_changed_ms) // 1000)
        if sample.status in _FAULT_STATUSES:
            return sample.detail or ("detector reports %s" % sample.status.replace("_", " "))
        conc = self._reading(sample)[0]
        if conc is not None and conc <= C.NEGATIVE_DRIFT_FAULT_CENTI[self.measurand]:
            return "reading %s: negative drift, recalibrate" % self._fmt(conc)
        return frozen

    def _clearing(self, now_ms, conc):
        """A healthy sample below the set points: hysteresis, then the clear hold, before normal."""
        s = self.settings
        level = conc if conc is not None else 0
        if self.state == HIGH_ALARM:
            if level >= s.high_centi - s.hysteresis_centi:
                return None, ""
            if level >= s.low_centi - s.hysteresis_centi:
                return FELL_BELOW_HIGH, "reading %s below high set point" % self._fmt(conc)
        if self.state == LOW_ALARM and level >= s.low_centi - s.hysteresis_centi:
            return None, ""
        if self.state == NORMAL or not self.clear_for_hold(now_ms):
            return None, ""
        trigger = CLEARED if self.state in ALARM_STATES else HEALTHY
        reason = "reading %s, clear for %d samples in a row" % (self._fmt(conc), self._clean_run)
        if self._last_bad_ms is not None:
            reason += " and %s s since the last bad report" % _fmt_s(now_ms - self._last_bad_ms)
        return trigger, reason

    def _move(self, now_ms, trigger, reason):
        new = TRANSITIONS[self.state].get(trigger)
        if new is None or new == self.state:
            return None
        old = self.state
        self.state = new
        self.since_ms = now_ms
        self.reason = reason
        if new != NORMAL:
            self._last_bad_ms = now_ms  # leaving this state again needs a whole clear hold from here
            self._clean_run = 0
        if new == WARMUP and self._warmup_since_ms is None:
            self._warmup_since_ms = now_ms
        if new in (NORMAL, LOW_ALARM, HIGH_ALARM):
            self.has_monitored = True
        if new == NORMAL:
            self._warmup_since_ms = None  # the warm-up clock stops only on proven health
        return Transition(self.name, old, new, trigger, self.concentration_centi_pct_lel, reason)


def _malformed(sample):
    """Why a sample's numbers cannot be trusted at all (not integers), or ""."""
    for value in (sample.concentration_centi_pct_lel, sample.full_scale_centi_pct_lel, sample.heartbeat,
                  getattr(sample, "concentration_centi_ppm", None), getattr(sample, "full_scale_centi_ppm", None)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return "unreadable value %r in reply" % (value,)
    return ""


def _fmt(centi, unit_text="%LEL"):
    """Hundredths of a unit as text, e.g. 2550 -> '25.50 %LEL', 285000 -> '2850.00 ppm' (integer maths: same
    on MicroPython)."""
    if centi is None:
        return "no reading"
    sign = "-" if centi < 0 else ""
    centi = -centi if centi < 0 else centi
    return "%s%d.%02d %s" % (sign, centi // 100, centi % 100, unit_text)


def _fmt_s(ms):
    """Milliseconds as seconds with two decimals, e.g. 4950 -> '4.95' (integer maths: same on MicroPython)."""
    return "%d.%02d" % (ms // 1000, (ms % 1000) // 10)
