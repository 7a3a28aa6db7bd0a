"""The kitchen's safety logic: trip latch, local reset, interlocks, schedule, inhibits and outputs.

Fed the detectors' states, the input lines, local wall time and `now_ms`; returns the output
levels and records one event per change of state. It never reads a clock, a port or a file.
There is no way in here to open the valve except an accepted local reset.

Everything that decides the kitchen's outputs lives in this file: six small machines and a few
records, each keeping its state in the `Safety` attributes named below. The latch and the pulse
valve run transition tables (LATCH_TRANSITIONS, PULSE_TRANSITIONS), from which docs/safety.md
draws their diagrams; the others are a timer or two each, and stay code.

- Trip latch: `latch`, with `trip_reason`, `trip_causes`, `_cause_keys`, the remote closes
  waiting in `pending_close`, and what the latest scan's reset came to in `reset_press` (for the
  controller's reset window). Driven by each scan's trip causes, the reset button (a rising edge,
  from `_prev_inputs`) and, once at power-on if configured, the auto-arm.
- Interlocks: `interlocks` (fire, e-stop, ventilation). Driven by the input lines; the ventilation
  interlock by the airflow proving (`airflow`, airflow.py's table: the no-air check at power-on, the
  proving grace, the loss confirmation and the bridged-switch fault).
- Silence: `silenced_until_ms`, `silenced_alarms`, `_silence_request`. Driven by the silence
  button or command, the alarms sounding (`_alarms`) and the time.
- Inhibit: `inhibits` (detector -> until_ms). Driven by the inhibit commands and the time.
- Valve: `valve_commanded_open`, `valve_command_ms`, `valve_fault` follow the latch and watch the
  feedback switches; a pulse valve's closing pulses are `valve_pulse` and `valve_pulse_until_ms`,
  driven by the latch, the feedback and the time.
- Fan run-on: `fan_run_until_ms`. Driven by the alarms and the time.
- Records: `schedule_state` (the attended hours at the wall time); per detector `unhealthy_since`
  and `high_since` (timers only a return to normal stops) and `distrust` (as last recorded); and
  `self_test_faults`, what the platform's start-up self-test found (fixed for the whole run: a trip
  cause, a reset blocker and a fault, until a restart finds the unit intact).

How they combine: `evaluate` steps them in one fixed order each scan. The records, inhibits,
interlocks and schedule are brought up to date; a reset press is judged against them; the trip
causes (detectors not inhibited, interlocks, schedule, remote closes) move the latch; the silence
follows the alarms; the valve follows the latch. The outputs are then read off: valve from the
latch (a pulse valve: its pulses), fan from the alarms and the run-on, sounder from the alarms
less the silence, beacon from the alarms and a gas latch, fault relay from the detectors, the
valve feedback, the airflow and the self-test.
"""

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core import events as E
from gaslatch.core.airflow import INTERLOCK_REASON as AIRFLOW_INTERLOCK_REASON
from gaslatch.core.airflow import Airflow
from gaslatch.core import proving as PV
from gaslatch.core import schedule as S

# Logical input lines (the platform maps them to pins and applies polarity and debounce).
IN_RESET = "reset_button"
IN_SILENCE = "silence_button"
IN_FIRE = "fire_input"
IN_ESTOP = "estop_input"
IN_FAN_PROVEN = "fan_proven"
IN_VALVE_CLOSED = "valve_feedback_closed"
IN_VALVE_OPEN = "valve_feedback_open"

# Logical output lines: True = energised.
OUT_VALVE = "valve"
OUT_FAN = "fan"
OUT_SOUNDER = "sounder"
OUT_BEACON = "beacon"
OUT_FAULT_RELAY = "fault_relay"
OUTPUTS = (OUT_BEACON, OUT_FAN, OUT_FAULT_RELAY, OUT_SOUNDER, OUT_VALVE)



def safe_outputs(valve_type):
    """The outputs when the controller stops, cleanly or on an internal error: every line de-energised.

    That is the state a power cut or an unpowered Pi leaves too, so all three look the same: valve
    closed, fault relay dropped (the panel shows a fault), fan, sounder and beacon off (no sounder blip
    each time systemd restarts the unit). For a pulse valve "closed" is a closing pulse: the platform
    holds valve=True for valve.pulse_ms, then False.
    """
    return {OUT_VALVE: valve_type == "pulse", OUT_FAN: False, OUT_SOUNDER: False, OUT_BEACON: False,
            OUT_FAULT_RELAY: False}


INTERLOCK_FIRE = "fire_alarm"
INTERLOCK_ESTOP = "emergency_stop"
INTERLOCK_VENTILATION = "ventilation"

# The trip latch's states. Every state but ARMED keeps the valve closed.
AWAITING_AUTO_ARM = "awaiting_auto_arm"  # power on with auto-arm configured: closed, arms once nothing blocks
LATCHED = "latched"  # tripped, or powered on: closed until a local reset
GAS_LATCHED = "gas_latched"  # tripped with gas among the causes: the beacon stays on until the reset
PROVING = "proving"  # reset accepted with pressure proving configured: closed but for the fill (proving.py)
ARMED = "armed"  # reset accepted (and the pipework proved, where configured), no trip since: the valve may open
LATCH_STATES = (AWAITING_AUTO_ARM, LATCHED, GAS_LATCHED, PROVING, ARMED)

# Latch triggers: what a scan found.
TRIP = "trip"  # a trip cause, none of them gas: a blind detector, an interlock, the schedule, a remote close
GAS_TRIP = "gas_trip"  # a confirmed high alarm (combustible gas with its zone's confirmation, CO, CO2) among the causes

# The trip cause of a detector's confirmed high alarm, by what it measures: combustible gas, CO's trip level,
# CO2's isolation level (IGEM/UP/19). Each latches like gas (GAS_TRIP).
_HIGH_CAUSE = {
    C.MEASURAND_COMBUSTIBLE: ("gas", "gas: %s high alarm"),
    C.MEASURAND_CO: ("co", "co: %s at the CO trip level"),
    C.MEASURAND_CO2: ("co2", "co2: %s at the CO2 isolation level (IGEM/UP/19)"),
}
_GAS_TRIP_KINDS = tuple(kind for kind, _ in _HIGH_CAUSE.values())
RESET = "reset"  # the reset button pressed (a rising edge) and nothing blocks a reset
AUTO_ARM = "auto_arm"  # no trip cause and nothing blocks a reset
PROVE = "prove"  # the reset button pressed, nothing blocks a reset, and pressure proving is configured
PROVED = "proved"  # the pressure proving passed
PROVING_FAILED = "proving_failed"  # the pressure proving failed: closed until another reset

# The latch's state at power-on, by valve.startup.
LATCH_AT_POWER_ON = {
    "manual_reset": LATCHED,
    "auto_arm_external_manual_valve": AWAITING_AUTO_ARM,
}

# The transition table: state -> {trigger: next state}. A trigger absent from a state's row leaves the
# state unchanged; a cause new while latched is still recorded, and re-pulses a pulse valve.
LATCH_TRANSITIONS = {
    AWAITING_AUTO_ARM: {TRIP: LATCHED, GAS_TRIP: GAS_LATCHED, RESET: ARMED, AUTO_ARM: ARMED},
    LATCHED: {GAS_TRIP: GAS_LATCHED, RESET: ARMED, PROVE: PROVING},
    GAS_LATCHED: {RESET: ARMED, PROVE: PROVING},
    PROVING: {TRIP: LATCHED, GAS_TRIP: GAS_LATCHED, PROVED: ARMED, PROVING_FAILED: LATCHED},
    ARMED: {TRIP: LATCHED, GAS_TRIP: GAS_LATCHED},
}

# A pulse valve's closing pulses: the output is energised in the PULSE states only. A valve that
# still reports open gets up to three pulses per trip (the first and two repeats), then it is a valve fault.
PULSE_IDLE = "idle"  # no pulse yet (before the first scan; a hold or motorised valve stays here)
PULSE_1 = "pulse_1"
AFTER_1 = "after_pulse_1"
PULSE_2 = "pulse_2"
AFTER_2 = "after_pulse_2"
PULSE_3 = "pulse_3"
AFTER_3 = "after_pulse_3"
PULSE_STATES = (PULSE_IDLE, PULSE_1, AFTER_1, PULSE_2, AFTER_2, PULSE_3, AFTER_3)
PULSING = (PULSE_1, PULSE_2, PULSE_3)

# Pulse triggers.
CLOSE = "close"  # power on, a trip, or a cause new while latched: a fresh pulse and a fresh count
NOT_CLOSED = "not_closed"  # commanded closed, yet not closed after travel_s (or both switches made)
PULSE_DONE = "pulse_done"  # pulse_ms since the pulse began

# The transition table: state -> {trigger: next state}. Entering a PULSE state, even the same one,
# starts a pulse of pulse_ms; a trigger absent from a state's row leaves the state unchanged.
PULSE_TRANSITIONS = {
    PULSE_IDLE: {CLOSE: PULSE_1},
    PULSE_1: {CLOSE: PULSE_1, NOT_CLOSED: PULSE_2, PULSE_DONE: AFTER_1},
    AFTER_1: {CLOSE: PULSE_1, NOT_CLOSED: PULSE_2},
    PULSE_2: {CLOSE: PULSE_1, NOT_CLOSED: PULSE_3, PULSE_DONE: AFTER_2},
    AFTER_2: {CLOSE: PULSE_1, NOT_CLOSED: PULSE_3},
    PULSE_3: {CLOSE: PULSE_1, PULSE_DONE: AFTER_3},
    AFTER_3: {CLOSE: PULSE_1},
}

_DETECTOR_SEVERITY = {
    D.WARMUP: E.SEVERITY_INFO,
    D.NORMAL: E.SEVERITY_INFO,
    D.LOW_ALARM: E.SEVERITY_ALARM,
    D.HIGH_ALARM: E.SEVERITY_ALARM,
    D.FAULT: E.SEVERITY_FAULT,
    D.COMM_LOST: E.SEVERITY_FAULT,
}


class Safety:
    """The kitchen-wide state machine. One instance per controller, fed once per scan."""

    def __init__(self, cfg, log, detector_zones, self_test_faults=(), startup_note=""):
        """cfg: normalised config; log: events.EventLog; detector_zones: detector name -> zone name;
        self_test_faults: what the start-up self-test found wrong (texts; none: it passed or was not run);
        startup_note: appended to the startup event's reason (the config identity, the self-test)."""
        self.cfg = cfg
        self.log = log
        self.detector_zones = detector_zones
        self.valve_type = cfg["valve"]["type"]
        self.valve_feedback = cfg["valve"]["feedback"]
        self.schedule = S.Schedule(cfg["schedule"]["attended"]) if cfg["schedule"]["enabled"] else None
        # The scan: what the latest one saw and set.
        self.started = False
        self._detectors = {}  # the controller's DetectorStates, as last evaluated
        self._inputs = {}  # the input levels of the latest scan
        # A button already held when the controller starts is not a press: it must be seen released first
        # (a stuck or miswired button never resets anything by itself).
        self._prev_inputs = {IN_RESET: True, IN_SILENCE: True}
        self.outputs = {}
        # Trip latch (LATCH_TRANSITIONS).
        self.latch = LATCH_AT_POWER_ON[cfg["valve"]["startup"]]  # closed until a local reset (or the auto-arm)
        self.trip_reason = "power on: valve closed until local reset"
        self.trip_causes = []
        self._cause_keys = ()  # the stable keys of the latest scan's causes, to tell a new one
        self.pending_close = []  # sources of remote closes, each a cause in the next scan
        self.reset_press = None  # what the latest scan's reset (button or auto-arm) came to, for reset_window
        self.close_commands = 0
        # Interlocks.
        self.interlocks = {INTERLOCK_FIRE: False, INTERLOCK_ESTOP: False, INTERLOCK_VENTILATION: False}
        self.airflow = Airflow(cfg["fan"], OUT_FAN in cfg["lines"]) if cfg["fan"]["proving"] else None
        # Gas pressure proving after a local reset (proving.py's table), driven while the latch is PROVING.
        self.proving = PV.Proving(cfg["proving"])
        # Silence.
        self.silenced_until_ms = None
        self.silenced_alarms = ()  # the alarms sounding when silenced: any other re-sounds
        self._silence_request = None  # who asked, until the scan acts on it
        self._alarms = ()  # the alarms sounding after the latest scan
        # Inhibit.
        self.inhibits = {}  # detector -> until_ms
        # Valve: commanded position and feedback; a pulse valve's pulses (PULSE_TRANSITIONS).
        self.valve_commanded_open = False
        self.valve_command_ms = 0
        self.valve_fault = ""
        self.valve_pulse = PULSE_IDLE
        self.valve_pulse_until_ms = 0  # when the present pulse ends (in a PULSE state)
        # Fan run-on.
        self.fan_run_until_ms = None
        # Records: the attended hours, and per detector what its states alone do not keep.
        self.schedule_state = None
        self.unhealthy_since = {}  # detector -> ms it went blind; cleared only when it is normal again
        self.high_since = {}  # detector -> ms it first went high; cleared only when it is normal again
        self.distrust = {}  # detector -> why it cannot be trusted (detector_state.UNSTABLE...), as last recorded
        self.self_test_faults = tuple(self_test_faults)
        self._startup_note = startup_note

    @property
    def latched(self):
        """True while the valve must stay closed: every latch state but armed."""
        return self.latch != ARMED

    # ---- commands (from the platform's local socket or the uplink, already authenticated) ----

    def command_close_valve(self, now_ms, source):
        """Always allowed: it can only make the kitchen safer. Takes effect on the next scan."""
        self.pending_close.append(source)
        self.log.emit(now_ms, E.COMMAND, E.SEVERITY_WARNING, source, "close_valve", None, "close valve requested")
        return True, "valve will close on the next scan"

    def command_silence(self, now_ms, source):
        """Silence the sounder for the configured time (from the next scan); a new alarm re-sounds."""
        if not self._alarms:
            return False, "nothing is sounding"
        self._silence_request = source
        return True, "sounder silenced for %d s" % self.cfg["sounder"]["silence_s"]

    def command_inhibit(self, now_ms, detector, minutes, source):
        """Maintenance inhibit of one detector, time-limited; the others stay live."""
        max_min = self.cfg["inhibit"]["max_minutes"]
        if detector not in self.detector_zones:
            return False, "no detector named %s" % detector
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1 or minutes > max_min:
            return False, "inhibit time must be 1..%d minutes" % max_min
        if self.inhibits:
            # One at a time, and never renewed: an inhibit always ends and the detector is live again.
            return False, "detector %s is already inhibited: one at a time, no renewal" % sorted(self.inhibits)[0]
        det = self._detectors.get(detector)
        if det is not None and det.measurand == C.MEASURAND_CO2:
            # IGEM/UP/19: no overrides of the CO2 interlock, not even for a bump test (its test closes the gas).
            return False, "detector %s is a CO2 detector: its interlock is never inhibited (IGEM/UP/19: no " \
                          "overrides)" % detector
        state = det.state if det is not None else None
        if state == D.NORMAL and det.blind:
            return False, "detector %s cannot be trusted (%s): only a normal detector can be inhibited" % (
                detector, det.distrust().replace("_", " "))
        if state == D.NORMAL and det.hold_remaining_ms(now_ms):
            return False, "detector %s reported gas or a fault %d s ago: inhibit it once clear for %d s" % (
                detector, (det.settings.clear_hold_ms - det.hold_remaining_ms(now_ms)) // 1000,
                det.settings.clear_hold_ms // 1000)
        if state != D.NORMAL:
            return False, "detector %s is %s: only a normal detector can be inhibited" % (
                detector, (state or "not read yet").replace("_", " "))
        self.inhibits[detector] = now_ms + minutes * 60000
        self.log.emit(now_ms, E.INHIBIT, E.SEVERITY_WARNING, detector, "started", minutes,
                      "inhibited for %d min by %s" % (minutes, source))
        return True, "detector %s inhibited for %d min" % (detector, minutes)

    def command_end_inhibit(self, now_ms, detector, source):
        if detector not in self.inhibits:
            return False, "detector %s is not inhibited" % detector
        del self.inhibits[detector]
        self.log.emit(now_ms, E.INHIBIT, E.SEVERITY_INFO, detector, "ended", None, "ended by %s" % source)
        return True, "inhibit of %s ended" % detector

    # ---- the scan ----

    def evaluate(self, now_ms, detectors, transitions, inputs, wall, analog_ua=None):
        """One scan. detectors: name -> DetectorState; transitions: this scan's detector Transitions;
        analog_ua: the 4-20 mA channels (the pressure proving's transmitter).

        Returns the output levels (name -> bool).
        """
        self._detectors = detectors
        self.reset_press = None
        if not self.started:
            self.started = True
            self.valve_command_ms = now_ms
            self.log.emit(now_ms, E.STARTUP, E.SEVERITY_FAULT if self.self_test_faults else E.SEVERITY_WARNING,
                          "controller", "latched", None,
                          self.trip_reason + ("; " + self._startup_note if self._startup_note else ""))
            self._start_pulse(now_ms)
        for tr in transitions:
            self.log.emit(now_ms, E.DETECTOR, _DETECTOR_SEVERITY[tr.new], tr.name, tr.new, tr.value, tr.reason)
        self._record_distrust(now_ms, detectors)
        self._expire_inhibits(now_ms)
        self._track_unhealthy(now_ms, detectors)
        fan_needed = self._gas_needs_fan(detectors)  # inhibits are settled for this scan: read once
        self._update_interlocks(now_ms, inputs, fan_needed)
        self._update_schedule(now_ms, wall)
        if self._rising(inputs, IN_RESET):
            self._local_reset(now_ms, detectors, inputs, "reset button")
        causes = self._trip_causes(now_ms, detectors)
        self._apply_causes(now_ms, causes)
        if self.latch == PROVING:
            self._step_proving(now_ms, inputs, analog_ua)
        if not causes and self.latch == AWAITING_AUTO_ARM:
            self._auto_arm(now_ms, detectors, inputs)
        alarms = self._sounding_alarms(detectors)
        self._alarms = alarms
        if self._rising(inputs, IN_SILENCE):
            self._silence_request = "silence button"
        self._update_silence(now_ms, alarms)
        self._update_valve(now_ms, inputs)
        outputs = {
            OUT_VALVE: self._valve_level(now_ms),
            OUT_FAN: self._fan_level(now_ms, fan_needed),
            OUT_SOUNDER: bool(alarms) and self.silenced_until_ms is None,
            OUT_BEACON: bool(alarms) or self.latch == GAS_LATCHED,
            OUT_FAULT_RELAY: self._healthy(detectors),
        }
        for name in OUTPUTS:
            if self.outputs.get(name) != outputs[name]:
                self.log.emit(now_ms, E.OUTPUT, E.SEVERITY_INFO, name, "on" if outputs[name] else "off", None,
                              _output_reason(name, outputs[name], self.valve_type))
        self.outputs = outputs
        self._inputs = inputs
        # Only a definite "released" re-arms a button: an unreadable read between two "pressed" is no press.
        self._prev_inputs = {IN_RESET: inputs.get(IN_RESET) is not False,
                             IN_SILENCE: inputs.get(IN_SILENCE) is not False}
        return outputs

    # ---- pieces of the scan ----

    def _rising(self, inputs, line):
        return bool(inputs.get(line)) and not self._prev_inputs.get(line)

    def _expire_inhibits(self, now_ms):
        for name in sorted(self.inhibits):
            if now_ms >= self.inhibits[name]:
                del self.inhibits[name]
                self.log.emit(now_ms, E.INHIBIT, E.SEVERITY_INFO, name, "ended", None, "inhibit time expired")

    def _record_distrust(self, now_ms, detectors):
        """One detector_health event whenever a detector becomes unstable, its link degraded, or both end."""
        for name in sorted(detectors):
            det = detectors[name]
            kind = det.distrust()
            if kind == self.distrust.get(name, ""):
                continue
            self.distrust[name] = kind
            if kind == D.UNSTABLE:
                self.log.emit(now_ms, E.DETECTOR_HEALTH, E.SEVERITY_FAULT, name, kind, None, det.unstable)
            elif kind == D.LINK_DEGRADED:
                self.log.emit(now_ms, E.DETECTOR_HEALTH, E.SEVERITY_FAULT, name, kind, None,
                              "link degraded: " + det.link_text())
            else:
                self.log.emit(now_ms, E.DETECTOR_HEALTH, E.SEVERITY_INFO, name, "ok", None,
                              "stable and answering again (%s)" % det.link_text())

    def _track_unhealthy(self, now_ms, detectors):
        """Timers that only a return to normal stops, so flapping states cannot restart them."""
        for name in sorted(detectors):
            det = detectors[name]
            if det.state == D.NORMAL and not det.blind:
                self.unhealthy_since.pop(name, None)
                self.high_since.pop(name, None)
                continue
            if det.blind and name not in self.unhealthy_since:
                self.unhealthy_since[name] = now_ms
            if det.state == D.HIGH_ALARM and name not in self.high_since:
                self.high_since[name] = now_ms

    def _update_interlocks(self, now_ms, inputs, fan_needed):
        cfg = self.cfg
        # An enabled safety input that the platform could not read (missing or None) counts as active.
        fire = cfg["interlocks"]["fire_input"] and _active_or_unread(inputs, IN_FIRE)
        estop = cfg["interlocks"]["estop_input"] and _active_or_unread(inputs, IN_ESTOP)
        vent = False
        if self.airflow is not None:
            # An unreadable switch (None) is no proof of airflow.
            self.airflow.step(now_ms, inputs.get(IN_FAN_PROVEN) is True, fan_needed)
            vent = self.airflow.interlock_active
        new = {INTERLOCK_FIRE: bool(fire), INTERLOCK_ESTOP: bool(estop), INTERLOCK_VENTILATION: vent}
        for name in (INTERLOCK_ESTOP, INTERLOCK_FIRE, INTERLOCK_VENTILATION):
            if new[name] != self.interlocks[name]:
                self.log.emit(now_ms, E.INTERLOCK, E.SEVERITY_ALARM if new[name] else E.SEVERITY_INFO, name,
                              "active" if new[name] else "clear", None, self._interlock_text(name, new[name]))
        self.interlocks = new

    def _interlock_text(self, name, active):
        if name == INTERLOCK_VENTILATION and active:
            return AIRFLOW_INTERLOCK_REASON[self.airflow.state]
        return _INTERLOCK_TEXT[name][active]

    def _gas_needs_fan(self, detectors):
        """A detector in alarm and not inhibited: the fan runs now (dilution), whatever else holds it."""
        for name in sorted(detectors):
            if name not in self.inhibits and detectors[name].state in D.ALARM_STATES:
                return True
        return False

    def _update_schedule(self, now_ms, wall):
        if self.schedule is None:
            return
        state = self.schedule.state(wall)
        if state != self.schedule_state:
            self.log.emit(now_ms, E.SCHEDULE, E.SEVERITY_INFO, "schedule", state, None, _SCHEDULE_TEXT[state])
            self.schedule_state = state

    def _trip_causes(self, now_ms, detectors):
        """Everything that, right now, requires the valve closed: (stable key, text) pairs, sorted."""
        causes = []
        fault_trip_ms = self.cfg["alarm"]["fault_trip_after_s"] * 1000
        for name in sorted(detectors):
            if name in self.inhibits:
                continue
            det = detectors[name]
            if det.state == D.HIGH_ALARM and self._zone_confirms(now_ms, name, detectors):
                kind, text = _HIGH_CAUSE[det.measurand]
                causes.append((kind + ":" + name, text % name))
            since = self.unhealthy_since.get(name)
            if since is not None and now_ms - since >= fault_trip_ms:
                causes.append(("fault:" + name, "fault: %s %s for %d s" % (
                    name, det.state.replace("_", " "), (now_ms - since) // 1000)))
        for name in (INTERLOCK_ESTOP, INTERLOCK_FIRE, INTERLOCK_VENTILATION):
            if self.interlocks[name]:
                causes.append(("interlock:" + name, "interlock: %s" % _INTERLOCK_TEXT[name][True]))
        if self.schedule is not None and self.schedule_state != S.ATTENDED:
            causes.append(("schedule", "schedule: %s" % _SCHEDULE_TEXT[self.schedule_state]))
        for fault in self.self_test_faults:
            causes.append(("self_test:" + fault, "self-test failed: " + fault))
        for source in self.pending_close:
            self.close_commands += 1  # each command is a cause of its own, even while latched
            causes.append(("command:%d" % self.close_commands, "command: close valve from %s" % source))
        self.pending_close = []
        return causes

    def _apply_causes(self, now_ms, causes):
        """Latch on any cause; a cause new while latched is recorded and re-pulses a pulse valve."""
        keys = tuple(key for key, _ in causes)
        new = [text for key, text in causes if key not in self._cause_keys]
        self._cause_keys = keys
        self.trip_causes = [text for _, text in causes]
        if not causes:
            return
        trigger = TRIP
        for key in keys:
            if key.split(":", 1)[0] in _GAS_TRIP_KINDS:
                trigger = GAS_TRIP
        old = self.latch
        self.latch = LATCH_TRANSITIONS[old].get(trigger, old)
        if old == PROVING and self.latch != PROVING:
            self.proving.abort(now_ms, self.log, "; ".join(self.trip_causes))
        if old in (ARMED, PROVING) and self.latch != old:
            self.trip_reason = "; ".join(self.trip_causes)
            self.log.emit(now_ms, E.TRIP, E.SEVERITY_ALARM, "controller", "latched", None, self.trip_reason)
            self._start_pulse(now_ms)
        elif old != ARMED and new:
            self.log.emit(now_ms, E.TRIP, E.SEVERITY_ALARM, "controller", "latched", None,
                          "already latched; new: " + "; ".join(new))
            self._start_pulse(now_ms)

    def _zone_confirms(self, now_ms, name, detectors):
        """Two-detector confirmation (GB 16808-2025 option) of combustible gas, bounded and failing safe.

        A CO or CO2 trip level acts alone (IGEM/UP/19: no overrides), and such a detector neither confirms
        nor vetoes a gas alarm: it cannot see combustible gas."""
        det = detectors[name]
        if det.measurand != C.MEASURAND_COMBUSTIBLE:
            return True
        zone_name = self.detector_zones[name]
        zone = self.cfg["zones"].get(zone_name)
        if zone is None or not zone["two_detector_confirmation"]:
            return True
        if det.over_range:
            return True
        # Measured from the first high alarm since the detector was last normal: dips do not restart it.
        if now_ms - self.high_since.get(name, now_ms) >= zone["two_detector_timeout_s"] * 1000:
            return True
        for other in sorted(detectors):
            if (other == name or self.detector_zones[other] != zone_name
                    or detectors[other].measurand != C.MEASURAND_COMBUSTIBLE):
                continue
            # A partner in alarm confirms; a partner that cannot see gas cannot veto.
            if other in self.inhibits or detectors[other].state != D.NORMAL or detectors[other].blind:
                return True
        return False

    def last_inputs(self):
        """The input levels the latest scan saw (for a status report of what would block a reset)."""
        return dict(self._inputs)

    def reset_blockers(self, now_ms, detectors, inputs):
        """Why a local reset would be refused now (empty list = it would be accepted)."""
        blockers = []
        for name in sorted(detectors):
            blockers.extend(_detector_blockers(now_ms, name, detectors[name]))
        for name in (INTERLOCK_ESTOP, INTERLOCK_FIRE):
            if self.interlocks[name]:
                blockers.append(_INTERLOCK_TEXT[name][True])
        if self.airflow is not None and self.airflow.blocker():
            blockers.append(self.airflow.blocker())
        if self.schedule is not None and self.schedule_state != S.ATTENDED:
            blockers.append(_SCHEDULE_TEXT[self.schedule_state])
        if self.valve_fault:
            blockers.append("valve fault: %s" % self.valve_fault)
        for fault in self.self_test_faults:
            blockers.append("self-test failed: %s" % fault)
        return blockers

    def _local_reset(self, now_ms, detectors, inputs, source):
        if not self.latched:
            return
        blockers = self.reset_blockers(now_ms, detectors, inputs)
        if blockers:
            self.log.emit(now_ms, E.RESET_REFUSED, E.SEVERITY_WARNING, source, "refused", None, "; ".join(blockers))
            self.reset_press = {"state": "refused", "reasons": blockers}
            return
        if self.proving.enabled:
            self._unlatch(now_ms, PROVE, source, "local reset accepted: proving the pipework before the gas opens")
            if self.latch == PROVING:
                self.proving.start(now_ms, self.log, source)
                self.trip_reason = "proving the gas pipework before the gas opens"
            return
        self._unlatch(now_ms, RESET, source, "local reset accepted: valve may open")

    def _auto_arm(self, now_ms, detectors, inputs):
        if self.reset_blockers(now_ms, detectors, inputs):
            return
        self._unlatch(now_ms, AUTO_ARM, "controller", "auto-arm after power on (external manual-reset valve)")

    def _unlatch(self, now_ms, trigger, source, reason):
        old = self.latch
        self.latch = LATCH_TRANSITIONS[old].get(trigger, old)
        if self.latch == old:
            return
        self.trip_reason = ""
        self.trip_causes = []
        self.reset_press = {"state": "accepted"}
        self.log.emit(now_ms, E.RESET, E.SEVERITY_INFO, source, self.latch, None, reason)

    def _step_proving(self, now_ms, inputs, analog_ua):
        """The proving's phase for this scan; its end moves the latch (PROVED arms, PROVING_FAILED latches)."""
        outcome = self.proving.step(now_ms, inputs, analog_ua, self.log)
        if outcome == PV.PASSED:
            self.latch = LATCH_TRANSITIONS[self.latch][PROVED]
            self.trip_reason = ""
        elif outcome == PV.FAILED:
            self.latch = LATCH_TRANSITIONS[self.latch][PROVING_FAILED]
            self.trip_reason = "pressure proving failed: " + self.proving.failure

    def _start_pulse(self, now_ms):
        """A closing pulse for a pulse-type valve; each new trip starts a fresh count of re-pulses."""
        if self.valve_type == "pulse":
            self._move_pulse(now_ms, CLOSE)

    def _move_pulse(self, now_ms, trigger):
        """Moves the pulse valve as PULSE_TRANSITIONS says; True when it moved (a new pulse, or one ended)."""
        new = PULSE_TRANSITIONS[self.valve_pulse].get(trigger)
        if new is None:
            return False
        self.valve_pulse = new
        if new in PULSING:
            self.valve_pulse_until_ms = now_ms + self.cfg["valve"]["pulse_ms"]
        return True

    def _sounding_alarms(self, detectors):
        """The alarms that want the sounder: (source, state) pairs, sorted."""
        alarms = []
        for name in sorted(detectors):
            if name not in self.inhibits and detectors[name].state in D.ALARM_STATES:
                alarms.append((name, detectors[name].state))
        if self.valve_fault and not self.valve_commanded_open:
            alarms.append(("valve", "fail_to_close"))
        return tuple(alarms)

    def _update_silence(self, now_ms, alarms):
        request = self._silence_request
        self._silence_request = None
        if self.silenced_until_ms is not None:
            ended = ""
            if not alarms:
                ended = "alarms cleared"
            elif now_ms >= self.silenced_until_ms:
                ended = "silence time expired: sounding again"
            else:
                for alarm in alarms:
                    if alarm not in self.silenced_alarms:
                        ended = "new alarm at %s (%s): sounding again" % (alarm[0], alarm[1].replace("_", " "))
                        break
            if ended:
                self.silenced_until_ms = None
                self.silenced_alarms = ()
                self.log.emit(now_ms, E.SILENCE, E.SEVERITY_INFO, "sounder", "ended", None, ended)
        if request is not None and alarms and self.silenced_until_ms is None:
            silence_s = self.cfg["sounder"]["silence_s"]
            self.silenced_until_ms = now_ms + silence_s * 1000
            self.silenced_alarms = alarms
            self.log.emit(now_ms, E.SILENCE, E.SEVERITY_INFO, "sounder", "silenced", silence_s,
                          "silenced for %d s by %s" % (silence_s, request))

    def _update_valve(self, now_ms, inputs):
        """Follow the latch; watch the feedback switches for a valve that does not move."""
        want_open = self.latch == ARMED or (self.latch == PROVING and self.proving.valve_open)
        if want_open != self.valve_commanded_open:
            self.valve_commanded_open = want_open
            self.valve_command_ms = now_ms
        if self.valve_feedback == "none":
            return
        closed = bool(inputs.get(IN_VALVE_CLOSED, False))
        opened = bool(inputs.get(IN_VALVE_OPEN, False)) if self.valve_feedback == "both" else not closed
        travel_ms = self.cfg["valve"]["travel_s"] * 1000
        late = now_ms - self.valve_command_ms >= travel_ms
        fault = ""
        if self.valve_feedback == "both" and closed and opened:
            fault = "closed and open switches both made: check feedback wiring"
        elif not want_open and not closed and late:
            fault = "commanded closed but not closed after %d s" % (travel_ms // 1000)
        elif want_open and not opened and late:
            fault = "commanded open but not open after %d s" % (travel_ms // 1000)
        if fault and self.valve_type == "pulse" and not want_open and self._move_pulse(now_ms, NOT_CLOSED):
            self.valve_command_ms = now_ms
            return
        if fault != self.valve_fault:
            if fault:
                self.log.emit(now_ms, E.VALVE_FAULT, E.SEVERITY_FAULT, "valve", "fault", None, fault)
            else:
                self.log.emit(now_ms, E.VALVE_FAULT, E.SEVERITY_INFO, "valve", "ok", None, "valve position matches command")
            self.valve_fault = fault

    def _valve_level(self, now_ms):
        if self.valve_type == "pulse":
            if self.valve_pulse in PULSING and now_ms >= self.valve_pulse_until_ms:
                self._move_pulse(now_ms, PULSE_DONE)
            return self.valve_pulse in PULSING
        return self.valve_commanded_open

    def _fan_level(self, now_ms, fan_needed):
        fan = self.cfg["fan"]
        if fan_needed:
            self.fan_run_until_ms = now_ms + fan["run_on_s"] * 1000
            return True
        if self.airflow is not None and self.airflow.holds_fan_off:
            return False  # the no-air check at power-on (airflow.py)
        if fan["mode"] == "continuous":
            return True
        if self.fan_run_until_ms is not None and now_ms < self.fan_run_until_ms:
            return True
        self.fan_run_until_ms = None
        return False

    def _healthy(self, detectors):
        """The fault relay: no blind detector, no valve fault, proven extract airflow where it is
        required (a dead fan closes the gas; the relay tells the panel why it needs a person), and a
        passed start-up self-test."""
        for name in sorted(detectors):
            if detectors[name].blind:
                return False
        return (not self.valve_fault and not self.interlocks[INTERLOCK_VENTILATION] and not self.self_test_faults
                and not self.proving.failure)

    def status(self, now_ms):
        """A snapshot for `gaslatch status` and the uplink's retained state."""
        return {
            "latched": self.latched,
            "trip_reason": self.trip_reason,
            "trip_causes": list(self.trip_causes),
            "interlocks": dict(self.interlocks),
            "airflow": None if self.airflow is None else self.airflow.state,
            "proving": {"mode": self.proving.mode, "phase": self.proving.state, "left_s": self.proving.left_s(now_ms),
                        "failure": self.proving.failure},
            "schedule": self.schedule_state,
            "inhibits": dict((name, max(0, until - now_ms) // 1000) for name, until in self.inhibits.items()),
            "silenced_s": None if self.silenced_until_ms is None else max(0, self.silenced_until_ms - now_ms) // 1000,
            "valve_fault": self.valve_fault,
            "self_test_faults": list(self.self_test_faults),
            "outputs": dict(self.outputs),
        }


def _detector_blockers(now_ms, name, det):
    """Why this detector blocks a reset: its state, the clear hold still to serve, and distrust."""
    out = []
    hold_s = (det.hold_remaining_ms(now_ms) + 999) // 1000
    if det.state != D.NORMAL:
        text = "%s: %s" % (name, det.state.replace("_", " "))
        if hold_s:
            text += " (clear hold: at least %d s more clear)" % hold_s
        out.append(text)
    elif hold_s:
        out.append("%s: bad report %d s ago (clear hold: at least %d s more clear)" % (
            name, (det.settings.clear_hold_ms // 1000) - hold_s, hold_s))
    kind = det.distrust()
    if kind == D.UNSTABLE:
        out.append("%s %s" % (name, det.unstable))
    elif kind == D.LINK_DEGRADED:
        out.append("%s: link degraded, %s" % (name, det.link_text()))
    return out


def _active_or_unread(inputs, line):
    """A safety input's level; missing or None (could not be read) counts as active."""
    value = inputs.get(line)
    return True if value is None else bool(value)


_INTERLOCK_TEXT = {
    INTERLOCK_FIRE: {True: "fire alarm input active", False: "fire alarm input clear"},
    INTERLOCK_ESTOP: {True: "emergency stop pressed", False: "emergency stop released"},
    INTERLOCK_VENTILATION: {True: "extract airflow not proven", False: "extract airflow proven"},
}

_SCHEDULE_TEXT = {
    S.ATTENDED: "inside attended hours",
    S.UNATTENDED: "outside attended hours: gas off (人走阀关)",
    S.CLOCK_UNKNOWN: "clock not set: attended hours cannot be checked",
}


def _output_reason(name, level, valve_type):
    if name == OUT_VALVE and valve_type == "pulse":
        return "closing pulse" if level else "pulse ended"
    if name == OUT_VALVE:
        return "valve energised (open)" if level else "valve de-energised (closed)"
    if name == OUT_FAULT_RELAY:
        return "healthy" if level else "fault present"
    return "%s %s" % (name, "on" if level else "off")
