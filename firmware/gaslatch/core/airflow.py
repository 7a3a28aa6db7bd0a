"""Proving the extract airflow (BS 6173 with IGEM/UP/19): the gas needs a proven fan, without nuisance trips.

One machine, run from a table like the trip latch: the airflow switch (a differential-pressure switch or a
fan-current relay on `fan_proven`), the fan command and the time move it; safety.py reads from its state
whether the ventilation interlock is active, what blocks a reset, and whether the fan is held off.

- Start-up: with the fan line wired, the fan is held off at power-on until the switch is seen open: a
  switch already made with the fan stopped is bridged or stuck (burner controls make the same "no-air"
  check before every start). The fan may still be running down after a restart, so the switch gets
  fan.rundown_s to open; made after that is a fault, and the fan stays off until the switch is seen
  open (the bridge removed), then starts and must prove as at any start. A gas alarm starts the fan at
  once, check or fault or not.
- Proving: once started, the fan has fan.proving_grace_s to make the switch.
- Running: airflow must be lost for fan.loss_confirm_s without a break before the interlock trips, so
  a gust that makes the switch chatter for a moment closes nothing, while a dead fan closes the gas
  a few seconds later. Any reading of "proven" restarts the count.
- A failure clears when the switch proves again; the gas stays off until a local reset (safety.py).
"""

# States.
CHECKING = "checking"  # power on, fan held off: waiting for the switch to be seen open
STARTING = "starting"  # fan on: waiting for the switch to make, within proving_grace_s
PROVEN = "proven"  # airflow proven
LOSING = "losing"  # the switch opened while proven: not yet for loss_confirm_s
FAILED = "failed"  # not proven within the grace, or lost for loss_confirm_s: the interlock is active
BRIDGED = "bridged"  # made while the fan was held off, after rundown_s: a bridged or stuck switch
STATES = (CHECKING, STARTING, PROVEN, LOSING, FAILED, BRIDGED)

# Triggers.
SWITCH_OPEN = "switch_open"  # the switch reads open (or cannot be read)
SWITCH_MADE = "switch_made"  # the switch reads made
FAN_NEEDED = "fan_needed"  # a gas alarm needs the fan now
RUNDOWN_OVER = "rundown_over"  # still made rundown_s after power on, with the fan held off
GRACE_OVER = "grace_over"  # not made proving_grace_s after the fan started
LOSS_CONFIRMED = "loss_confirmed"  # open for loss_confirm_s without a break

# state -> {trigger: next state}; a trigger absent from a state's row leaves it unchanged. Entering
# STARTING or LOSING starts its timer.
TRANSITIONS = {
    CHECKING: {SWITCH_OPEN: STARTING, FAN_NEEDED: STARTING, RUNDOWN_OVER: BRIDGED},
    STARTING: {SWITCH_MADE: PROVEN, GRACE_OVER: FAILED},
    PROVEN: {SWITCH_OPEN: LOSING},
    LOSING: {SWITCH_MADE: PROVEN, LOSS_CONFIRMED: FAILED},
    FAILED: {SWITCH_MADE: PROVEN},
    BRIDGED: {SWITCH_OPEN: STARTING},
}

# Why a reset is refused in each state but PROVEN, and what the interlock event says.
BLOCKER_TEXT = {
    CHECKING: "fan airflow not proven: the airflow switch is made with the fan stopped; waiting for it to "
              "open before the fan starts",
    STARTING: "fan airflow not proven: start the extract fan first",
    LOSING: "fan airflow not proven: the airflow switch opened",
    FAILED: "extract airflow not proven",
    BRIDGED: "airflow switch made while the fan was stopped: bridged or stuck switch; check its wiring and "
             "pressure tubes",
}
INTERLOCK_REASON = {
    FAILED: "extract airflow not proven",
    BRIDGED: "airflow switch made with the fan stopped (bridged or stuck): airflow cannot be proven",
}


class Airflow:
    """The airflow proving of one kitchen: step() once per scan."""

    def __init__(self, fan_cfg, fan_wired):
        """fan_cfg: the config's fan section (proving on); fan_wired: the controller drives the fan line."""
        self.grace_ms = fan_cfg["proving_grace_s"] * 1000
        self.loss_ms = fan_cfg["loss_confirm_s"] * 1000
        self.rundown_ms = fan_cfg["rundown_s"] * 1000
        self.state = CHECKING if fan_wired else STARTING
        self.since_ms = None  # when the present state began (set on the first step)

    @property
    def interlock_active(self):
        """The ventilation interlock: airflow failed or cannot be proven."""
        return self.state in (FAILED, BRIDGED)

    @property
    def holds_fan_off(self):
        """The fan stays off for the no-air check, and while the switch is bridged (so that it can be seen
        open once mended); a gas alarm overrides this in safety.py."""
        return self.state in (CHECKING, BRIDGED)

    def blocker(self):
        """Why a local reset would be refused ('' when airflow is proven)."""
        return BLOCKER_TEXT.get(self.state, "")

    def step(self, now_ms, switch_made, fan_needed):
        """One scan: switch_made True/False (None when unreadable: open); fan_needed, a gas alarm
        wants the fan. Returns the new state when it changed, else None."""
        if self.since_ms is None:
            self.since_ms = now_ms
        old = self.state
        self._fire(now_ms, SWITCH_MADE if switch_made else SWITCH_OPEN)
        if fan_needed:
            self._fire(now_ms, FAN_NEEDED)
        elapsed_ms = now_ms - self.since_ms
        if self.state == CHECKING and elapsed_ms >= self.rundown_ms:
            self._fire(now_ms, RUNDOWN_OVER)
        elif self.state == STARTING and elapsed_ms >= self.grace_ms:
            self._fire(now_ms, GRACE_OVER)
        elif self.state == LOSING and elapsed_ms >= self.loss_ms:
            self._fire(now_ms, LOSS_CONFIRMED)
        return self.state if self.state != old else None

    def _fire(self, now_ms, trigger):
        new = TRANSITIONS[self.state].get(trigger)
        if new is not None and new != self.state:
            self.state = new
            self.since_ms = now_ms
