"""Gas pressure proving (BS 6173 with IGEM/UP/19; Merlin 2000C): the pipework downstream of the valve is proved
tight after a local reset, before the gas stays on.

One machine, run from a table like the trip latch. An accepted local reset starts it (safety.py moves the latch
to PROVING); it drives the valve only in its fill phase and ends in PASSED (the latch arms: the gas may flow) or
FAILED (the latch stays closed, the fault relay drops, and only another local reset starts it again). A trip
cause while it runs (gas, an interlock, the schedule, a remote close) or a power cut ends it closed: safety.py
latches as at any trip, and a restart always starts latched.

- CHECK, valve closed, proving.check_s: there must be no pressure downstream. Pressure here with the valve
  closed is gas coming through a passing (leaking) main valve, or gas trapped from before: either way the test
  cannot go on, and the person is told to let the trapped gas out at a burner (valve closed) and reset again.
- FILL, valve open until the pressure is reached, at most proving.fill_s: no pressure in that time means an
  appliance left open, a large leak, or no supply.
- WATCH, valve closed, proving.watch_s (20 s as Merlin's start-up test): the pressure must hold. The switch
  opening, or the transmitter dropping by more than max_drop_kpa, is a leak downstream (or an appliance open).

The pressure comes from a low-pressure switch (input `gas_pressure`, made when pressure is present) or a 4-20 mA
transmitter (an analog channel and its range). A switch or a channel that cannot be read counts as the worst
reading for the phase: pressure present in CHECK, no pressure in FILL and WATCH. Proving can never open the gas
by itself: the fill is the only time it opens the valve, for at most fill_s, and only after a local reset.
"""

from gaslatch.core import events as E

NONE = "none"
SWITCH = "switch"
TRANSMITTER = "transmitter"
MODES = (NONE, SWITCH, TRANSMITTER)

IN_GAS_PRESSURE = "gas_pressure"

# States.
IDLE = "idle"  # not proving: before the first reset, after a pass, or interrupted
CHECK = "check"  # valve closed: no pressure downstream allowed
FILL = "fill"  # valve open: the pipework fills
WATCH = "watch"  # valve closed again: the pressure must hold
PASSED = "passed"  # proved tight: the latch arms
FAILED = "failed"  # a phase failed: the latch stays closed until another reset
STATES = (IDLE, CHECK, FILL, WATCH, PASSED, FAILED)

# Triggers.
START = "start"  # a local reset was accepted
PRESSURE = "pressure"  # pressure present (switch made; transmitter above low_kpa in CHECK, at fill_kpa in FILL)
LOST = "lost"  # in WATCH: the switch opened, or the transmitter dropped more than max_drop_kpa
TIME_UP = "time_up"  # the phase's time is over
ABORT = "abort"  # a trip cause while proving: safety.py latches
DONE = "done"  # the latch took the result (PASSED or FAILED back to IDLE)

# state -> {trigger: next state}; a trigger absent from a state's row leaves it unchanged. Entering CHECK, FILL
# or WATCH starts the phase's timer.
TRANSITIONS = {
    IDLE: {START: CHECK},
    CHECK: {PRESSURE: FAILED, TIME_UP: FILL, ABORT: IDLE},
    FILL: {PRESSURE: WATCH, TIME_UP: FAILED, ABORT: IDLE},
    WATCH: {LOST: FAILED, TIME_UP: PASSED, ABORT: IDLE},
    PASSED: {DONE: IDLE},
    FAILED: {START: CHECK},
}

FAILURE_TEXT = {
    CHECK: "pressure downstream with the valve closed: a passing main valve, or gas trapped in the pipework; "
           "with the valve closed, let it out at a burner, then press RESET again",
    FILL: "no pressure after filling: an appliance left open, a large leak, or no gas supply; close every "
          "appliance and check the supply, then press RESET again",
    WATCH: "pressure not held: a leak downstream of the valve or an appliance open; do not use the gas, call a "
           "gas engineer",
}

# 4-20 mA: below 3.6 mA or above 21 mA is a failed transmitter or loop (NAMUR NE43), not a pressure.
MIN_UA = 3600
MAX_UA = 21000


def pressure_pa(current_ua, range_kpa):
    """A transmitter's loop current (µA) as pascals (4 mA = 0, 20 mA = range_kpa), or None outside NE43's band."""
    if not isinstance(current_ua, int) or isinstance(current_ua, bool) or not MIN_UA <= current_ua <= MAX_UA:
        return None
    return max(0, (current_ua - 4000) * int(range_kpa * 1000) // 16000)


class Proving:
    """The pressure proving of one kitchen: step() once per scan while the latch is PROVING."""

    def __init__(self, cfg):
        """cfg: the config's proving section."""
        self.mode = cfg["mode"]
        self.check_ms = cfg["check_s"] * 1000
        self.fill_ms = cfg["fill_s"] * 1000
        self.watch_ms = cfg["watch_s"] * 1000
        transmitter = cfg["transmitter"]
        self.channel = transmitter["channel"]
        self.range_kpa = transmitter["range_kpa"]
        self.low_pa = int(transmitter["low_kpa"] * 1000)
        self.fill_pa = int(transmitter["fill_kpa"] * 1000)
        self.drop_pa = int(transmitter["max_drop_kpa"] * 1000)
        self.state = IDLE
        self.since_ms = 0
        self.watch_start_pa = None
        self.seen = ""  # the pressures seen in the phase, for the record
        self.failure = ""  # why the last proving failed, until another starts

    @property
    def enabled(self):
        return self.mode != NONE

    @property
    def valve_open(self):
        """The valve is open only while filling."""
        return self.state == FILL

    def left_s(self, now_ms):
        """Seconds left in the present phase (0 outside the timed phases)."""
        limit = {CHECK: self.check_ms, FILL: self.fill_ms, WATCH: self.watch_ms}.get(self.state)
        return 0 if limit is None else max(0, (self.since_ms + limit - now_ms + 999) // 1000)

    def reading(self, inputs, analog_ua):
        """(present, pascals): pressure present as the phase judges it, and the transmitter's reading (None for
        a switch, or a transmitter that cannot be read)."""
        if self.mode == SWITCH:
            made = inputs.get(IN_GAS_PRESSURE)
            if made is None:  # unreadable: the worst for the phase
                return self.state == CHECK, None
            return bool(made), None
        pa = pressure_pa((analog_ua or {}).get(self.channel), self.range_kpa)
        if pa is None:
            return self.state == CHECK, None
        if self.state == CHECK:
            return pa > self.low_pa, pa
        if self.state == FILL:
            return pa >= self.fill_pa, pa
        return pa >= self.watch_start_pa - self.drop_pa if self.watch_start_pa is not None else True, pa

    def start(self, now_ms, log, source):
        self._fire(now_ms, START)
        self.failure = ""
        log.emit(now_ms, E.PROVING, E.SEVERITY_INFO, source, "started", None,
                 "proving the pipework (%s): check %d s, fill up to %d s, watch %d s" % (
                     self.mode, self.check_ms // 1000, self.fill_ms // 1000, self.watch_ms // 1000))

    def abort(self, now_ms, log, why):
        if self.state in (CHECK, FILL, WATCH):
            phase = self.state
            self._fire(now_ms, ABORT)
            log.emit(now_ms, E.PROVING, E.SEVERITY_WARNING, "proving", "interrupted", None,
                     "interrupted in the %s phase: %s; the valve stays closed" % (phase, why))

    def step(self, now_ms, inputs, analog_ua, log):
        """One scan while proving: returns PASSED or FAILED when it ends, else None."""
        if self.state not in (CHECK, FILL, WATCH):
            return None
        present, pa = self.reading(inputs, analog_ua)
        if pa is not None:
            self.seen = "%.2f kPa" % (pa / 1000.0)
        elif self.mode == SWITCH:
            self.seen = "switch %s" % ({True: "made", False: "open", None: "unreadable"}[inputs.get(IN_GAS_PRESSURE)])
        else:
            self.seen = "transmitter unreadable"
        phase = self.state
        elapsed = now_ms - self.since_ms
        if phase == CHECK:
            self._fire(now_ms, PRESSURE if present else TIME_UP if elapsed >= self.check_ms else None)
        elif phase == FILL:
            self._fire(now_ms, PRESSURE if present else TIME_UP if elapsed >= self.fill_ms else None)
            if self.state == WATCH:
                self.watch_start_pa = pa
        elif phase == WATCH:
            self._fire(now_ms, LOST if not present else TIME_UP if elapsed >= self.watch_ms else None)
        if self.state == FAILED:
            self.failure = "%s (%s phase, %s)" % (FAILURE_TEXT[phase], phase, self.seen)
            log.emit(now_ms, E.PROVING, E.SEVERITY_FAULT, "proving", "failed", pa, self.failure)
            return FAILED
        if self.state == PASSED:
            log.emit(now_ms, E.PROVING, E.SEVERITY_INFO, "proving", "passed", pa,
                     "pipework proved tight: pressure held for %d s (%s)" % (self.watch_ms // 1000, self.seen))
            self._fire(now_ms, DONE)
            return PASSED
        return None

    def _fire(self, now_ms, trigger):
        new = TRANSITIONS[self.state].get(trigger) if trigger is not None else None
        if new is not None and new != self.state:
            self.state = new
            self.since_ms = now_ms
            if new != WATCH:
                self.watch_start_pa = None
