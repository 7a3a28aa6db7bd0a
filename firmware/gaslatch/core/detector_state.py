"""The state of one gas detector, decided from its samples and the time alone.

Everything that moves a detector between warm-up, normal, alarm, fault and comm lost lives here;
the transitions are the table below, from which docs/safety.md draws its diagram.
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
HEALTHY = "healthy"  # confirm_samples consecutive healthy samples below the low set point
LOW_CONFIRMED = "low_confirmed"  # low alarm confirmed (reading) or reported by the detector
HIGH_CONFIRMED = "high_confirmed"  # high alarm confirmed, reported, or over-range
FELL_BELOW_HIGH = "fell_below_high"  # reading below high set point minus hysteresis, above low
CLEARED = "cleared"  # reading below low set point minus hysteresis, no alarm reported
FAULT_REPORTED = "fault_reported"  # device fault, calibration, end of life, frozen heartbeat, drift
WARMUP_REPORTED = "warmup_reported"  # the detector says it is warming up
WARMUP_OVERDUE = "warmup_overdue"  # still warming up after warmup_max_s
SILENT = "silent"  # no good sample for comm_lost_after_s

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

# A reading this far below zero means the sensor has drifted and cannot see a leak of that size.
NEGATIVE_DRIFT_FAULT_CENTI_PCT_LEL = -10 * C.CENTI

_FAULT_STATUSES = (C.STATUS_FAULT, C.STATUS_CALIBRATION, C.STATUS_END_OF_LIFE)

# Sample classes, ordered by danger.
_CLEAR = 0
_LOW = 1
_HIGH = 2


def pct_to_centi(pct):
    """A set point in %LEL (int or float from config) as integer hundredths, rounded half up."""
    return int(pct * C.CENTI + (0.5 if pct >= 0 else -0.5))


class DetectorSettings:
    """The per-detector numbers the state machine needs, in core units (ms, centi-%LEL)."""

    def __init__(self, low_centi, high_centi, hysteresis_centi, confirm_samples, confirm_window_ms,
                 comm_lost_after_ms, warmup_max_ms, heartbeat_frozen_after_ms=None, full_scale_centi=None):
        self.low_centi = low_centi
        self.high_centi = high_centi
        self.hysteresis_centi = hysteresis_centi
        self.confirm_samples = confirm_samples
        self.confirm_window_ms = confirm_window_ms
        self.comm_lost_after_ms = comm_lost_after_ms
        self.warmup_max_ms = warmup_max_ms
        self.heartbeat_frozen_after_ms = heartbeat_frozen_after_ms
        self.full_scale_centi = full_scale_centi


def settings_from_config(detector_cfg, alarm_cfg, heartbeat_frozen_after_ms=None):
    """DetectorSettings from a normalised detector entry and the `alarm` section of the config."""
    full_scale = detector_cfg.get("full_scale_pct_lel")
    return DetectorSettings(
        low_centi=pct_to_centi(detector_cfg["low_alarm_pct_lel"]),
        high_centi=pct_to_centi(detector_cfg["high_alarm_pct_lel"]),
        hysteresis_centi=pct_to_centi(detector_cfg["hysteresis_pct_lel"]),
        confirm_samples=alarm_cfg["confirm_samples"],
        confirm_window_ms=alarm_cfg["confirm_window_ms"],
        comm_lost_after_ms=alarm_cfg["comm_lost_after_s"] * 1000,
        warmup_max_ms=alarm_cfg["warmup_max_s"] * 1000,
        heartbeat_frozen_after_ms=heartbeat_frozen_after_ms,
        full_scale_centi=pct_to_centi(full_scale) if full_scale is not None else None,
    )


class Transition:
    """One change of a detector's state, with what caused it (becomes one event record)."""

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
    """

    def __init__(self, name, settings, now_ms):
        self.name = name
        self.settings = settings
        self.state = WARMUP
        self.since_ms = now_ms
        self.reason = "power on"
        self.concentration_centi_pct_lel = None
        self.device_status = None
        self.over_range = False
        self.last_sample_ms = now_ms
        self.last_error = ""
        self.has_monitored = False  # reached normal or alarm once: a later warm-up means it went blind
        self._warmup_since_ms = now_ms
        self._low_run = 0
        self._low_run_since_ms = None
        self._high_run = 0
        self._high_run_since_ms = None
        self._healthy_run = 0
        self._heartbeat = None
        self._heartbeat_changed_ms = now_ms

    @property
    def blind(self):
        """True when the detector cannot see gas: fault, comm lost, or back in warm-up in service."""
        return self.state in UNHEALTHY_STATES or (self.state == WARMUP and self.has_monitored)

    def note_comm_error(self, detail):
        """A poll failed (timeout, CRC...): kept as the reason if the detector goes silent.

        Recovery needs consecutive good replies, so a failure restarts the count.
        """
        self.last_error = detail
        self._healthy_run = 0

    def update(self, now_ms, sample):
        """Advance by one scan; returns a Transition or None."""
        if sample is None:
            silent = now_ms - self.last_sample_ms >= self.settings.comm_lost_after_ms
            if silent:
                self._healthy_run = 0  # replies spread over silences do not prove health
            if self.state != COMM_LOST and silent:
                reason = "no reply for %d s" % ((now_ms - self.last_sample_ms) // 1000)
                if self.last_error:
                    reason += " (last error: %s)" % self.last_error
                return self._move(now_ms, SILENT, reason)
            if (self.state == WARMUP and self._warmup_since_ms is not None
                    and now_ms - self._warmup_since_ms >= self.settings.warmup_max_ms):
                return self._move(now_ms, WARMUP_OVERDUE, "still warming up after %d s" % (self.settings.warmup_max_ms // 1000))
            return None
        self.last_sample_ms = now_ms
        self.last_error = ""
        trigger, reason = self._classify(now_ms, sample)
        if trigger is None:
            return None
        return self._move(now_ms, trigger, reason)

    def _classify(self, now_ms, sample):
        """The trigger this sample gives, with the confirmation, hysteresis and priorities applied."""
        s = self.settings
        conc = sample.concentration_centi_pct_lel
        status = sample.status
        malformed = _malformed(sample)
        if malformed:
            # The last line of defence behind the profile decoder: never act on what we cannot read.
            self.device_status = C.STATUS_FAULT
            self._healthy_run = 0
            return FAULT_REPORTED, malformed
        unknown_status = ""
        if status not in C.STATUSES:
            # Unknown is a fault, but a reading above a set point still raises its alarm first.
            unknown_status = "unknown detector status %r" % (status,)
            status = C.STATUS_FAULT
        self.concentration_centi_pct_lel = conc
        self.device_status = status
        full_scale = s.full_scale_centi
        if sample.full_scale_centi_pct_lel is not None and sample.full_scale_centi_pct_lel > 0:
            full_scale = sample.full_scale_centi_pct_lel
        over_range = status == C.STATUS_OVER_RANGE or (
            conc is not None and full_scale is not None and conc >= full_scale)
        self.over_range = over_range
        # Danger first: over-range and the detector's own alarm act at once, whatever else is wrong.
        if over_range:
            self._reset_runs()
            return self._to_level(_HIGH, "over-range (%s)" % _fmt(conc))
        if status == C.STATUS_HIGH_ALARM:
            self._reset_runs()
            return self._to_level(_HIGH, "detector reports high alarm at %s" % _fmt(conc))
        reading = _CLEAR
        if conc is not None and status != C.STATUS_WARMUP:
            if conc >= s.high_centi:
                reading = _HIGH
            elif conc >= s.low_centi:
                reading = _LOW
        # A warm-up sample or one without a reading neither advances nor breaks a confirmation run.
        measuring = conc is not None and status != C.STATUS_WARMUP
        confirmed = self._confirm(now_ms, reading) if measuring else _CLEAR
        if confirmed == _HIGH:
            return self._to_level(_HIGH, "reading %s >= high set point %s" % (_fmt(conc), _fmt(s.high_centi)))
        if self.state == HIGH_ALARM and conc is not None and conc >= s.high_centi - s.hysteresis_centi:
            return None, ""  # within the clearing hysteresis: the high alarm holds
        fault = unknown_status or self._fault_in(now_ms, sample)
        if fault:
            self._healthy_run = 0
            return FAULT_REPORTED, fault
        if status == C.STATUS_WARMUP:
            self._healthy_run = 0
            if self._warmup_since_ms is None:
                self._warmup_since_ms = now_ms
            if now_ms - self._warmup_since_ms >= s.warmup_max_ms:
                return WARMUP_OVERDUE, "still warming up after %d s" % (s.warmup_max_ms // 1000)
            return WARMUP_REPORTED, "detector warming up"
        device_low = status in (C.STATUS_LOW_ALARM, C.STATUS_PRE_ALARM)
        if self.state == HIGH_ALARM and (device_low or reading == _LOW):
            return FELL_BELOW_HIGH, "reading %s below high set point" % _fmt(conc)
        if device_low:
            return self._to_level(_LOW, "detector reports %s at %s" % (status.replace("_", " "), _fmt(conc)))
        if confirmed == _LOW:
            return self._to_level(_LOW, "reading %s >= low set point %s" % (_fmt(conc), _fmt(s.low_centi)))
        if reading != _CLEAR:
            return None, ""  # above a set point, not yet confirmed: hold the present state
        return self._clearing(conc)

    def _confirm(self, now_ms, reading):
        """Count consecutive samples at or above each set point; returns the confirmed level."""
        s = self.settings
        if reading >= _LOW:
            if self._low_run == 0:
                self._low_run_since_ms = now_ms
            self._low_run += 1
        else:
            self._low_run = 0
        if reading >= _HIGH:
            if self._high_run == 0:
                self._high_run_since_ms = now_ms
            self._high_run += 1
        else:
            self._high_run = 0
        if self._high_run and (self._high_run >= s.confirm_samples
                               or now_ms - self._high_run_since_ms >= s.confirm_window_ms):
            return _HIGH
        if self._low_run and (self._low_run >= s.confirm_samples
                              or now_ms - self._low_run_since_ms >= s.confirm_window_ms):
            return _LOW
        return _CLEAR

    def _reset_runs(self):
        self._low_run = 0
        self._high_run = 0

    def _to_level(self, level, reason):
        self._healthy_run = 0
        if level == _HIGH:
            return HIGH_CONFIRMED, reason
        return LOW_CONFIRMED, reason

    def _fault_in(self, now_ms, sample):
        """Why this sample shows a fault, or "" when it does not."""
        if sample.status in _FAULT_STATUSES:
            return sample.detail or ("detector reports %s" % sample.status.replace("_", " "))
        conc = sample.concentration_centi_pct_lel
        if conc is not None and conc <= NEGATIVE_DRIFT_FAULT_CENTI_PCT_LEL:
            return "reading %s: negative drift, recalibrate" % _fmt(conc)
        frozen_ms = self.settings.heartbeat_frozen_after_ms
        if frozen_ms is not None and sample.heartbeat is not None:
            if sample.heartbeat != self._heartbeat:
                self._heartbeat = sample.heartbeat
                self._heartbeat_changed_ms = now_ms
            elif now_ms - self._heartbeat_changed_ms >= frozen_ms:
                return "heartbeat frozen at %d for %d s" % (sample.heartbeat, (now_ms - self._heartbeat_changed_ms) // 1000)
        return ""

    def _clearing(self, conc):
        """A healthy sample below the set points: hysteresis for alarms, confirmation for recovery."""
        s = self.settings
        level = conc if conc is not None else 0
        if self.state == HIGH_ALARM:
            if level >= s.high_centi - s.hysteresis_centi:
                return None, ""
            if level >= s.low_centi - s.hysteresis_centi:
                return FELL_BELOW_HIGH, "reading %s below high set point" % _fmt(conc)
            return CLEARED, "reading %s below low set point" % _fmt(conc)
        if self.state == LOW_ALARM:
            if level >= s.low_centi - s.hysteresis_centi:
                return None, ""
            return CLEARED, "reading %s below low set point" % _fmt(conc)
        if self.state == NORMAL:
            return None, ""
        self._healthy_run += 1
        if self._healthy_run >= s.confirm_samples:
            return HEALTHY, "reading %s, detector healthy" % _fmt(conc)
        return None, ""

    def _move(self, now_ms, trigger, reason):
        new = TRANSITIONS[self.state].get(trigger)
        if new is None or new == self.state:
            return None
        old = self.state
        self.state = new
        self.since_ms = now_ms
        self.reason = reason
        self._healthy_run = 0
        if new == WARMUP and self._warmup_since_ms is None:
            self._warmup_since_ms = now_ms
        if new in (NORMAL, LOW_ALARM, HIGH_ALARM):
            self.has_monitored = True
        if new == NORMAL:
            self._warmup_since_ms = None  # the warm-up clock stops only on proven health
        return Transition(self.name, old, new, trigger, self.concentration_centi_pct_lel, reason)


def _malformed(sample):
    """Why a sample's numbers cannot be trusted at all (not integers), or ""."""
    for value in (sample.concentration_centi_pct_lel, sample.full_scale_centi_pct_lel, sample.heartbeat):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return "unreadable value %r in reply" % (value,)
    return ""


def _fmt(centi):
    """Hundredths of %LEL as text, e.g. 2550 -> '25.50 %LEL' (integer maths: same on MicroPython)."""
    if centi is None:
        return "no reading"
    sign = "-" if centi < 0 else ""
    centi = -centi if centi < 0 else centi
    return "%s%d.%02d %%LEL" % (sign, centi // 100, centi % 100)
