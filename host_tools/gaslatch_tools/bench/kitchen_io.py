"""The kitchen's wired hardware on the `sim` GPIO directory: valve, fan, buttons and safety contacts.

The HIL bench runs the real `gaslatch run`; this plays what its lines are wired to, in real time,
reading the output files the controller writes and writing back the inputs a real kitchen would give.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, Mapping, NamedTuple, TypeVar

from gaslatch.core import proving, safety
from gaslatch.unit.gpio_lines import line_directions
from gaslatch.unit.gpio_sim import DIR_MODE, VALUE_FILE, parse_value, write_line_file

VALVE_TYPES = ("hold", "pulse", "motorised")
VALVE_FAULTS = ("stuck_open", "no_feedback")
FAN_FAULTS = ("motor_failed", "switch_failed", "switch_bridged", "gusts")
# gusts: the proving switch drops out for GUST_OPEN_S of every GUST_PERIOD_S while the fan runs (wind on the duct).
GUST_PERIOD_S = 1.5
GUST_OPEN_S = 0.4
PIPE_FAULTS = ("passing_valve", "leak", "appliance_open", "no_supply")
DEFAULT_PIPE_FILL_S = 0.5  # a kitchen's pipework reaches the switch's set point in well under a second
DEFAULT_PIPE_LEAK_S = 2.0  # with a leak, the pressure falls below the switch's set point this long after closing
LINE_ACTIVE = ("high", "low")

# The controller scans every 20-1000 ms; a 2 ms poll sees every output change well inside one scan
# and costs about 2 % of a core (five small file reads per poll).
DEFAULT_POLL_S = 0.002
DEFAULT_FAN_SPIN_UP_S = 1.0
DEFAULT_FAN_RUN_DOWN_S = 0.5
# Inputs that a model drives; a person drives every other input (buttons, contacts, contact detectors).
MODEL_INPUTS = (safety.IN_FAN_PROVEN, safety.IN_VALVE_CLOSED, safety.IN_VALVE_OPEN, proving.IN_GAS_PRESSURE)
POWER = "power"  # trace name of the controller's supply (see KitchenIO.power)
_READ_LIMIT_BYTES = 16
T = TypeVar("T")


class KitchenIOError(Exception):
    """A bench action the emulated kitchen cannot do (unknown line, a model's line, a bad setting, a write
    that failed); the message names the line or setting."""


class LineChange(NamedTuple):
    """One change in the bench trace: logical level (True = active or energised; None = the file is missing
    or unreadable) at t_s seconds after the bench start; line POWER is the controller's supply."""

    t_s: float
    line: str
    level: bool | None


class Valve:
    """The shutoff valve: position 0.0 (closed) to 1.0 (open), moving at 1/travel_s per second.

    What the coil (the `valve` output) does, by type:
      hold       energised: opens; de-energised or no power: the spring closes it.
                 With manual_reopen (a valve reopened by hand, valve.startup auto_arm_external_manual_valve)
                 it opens only after manual_open() while energised; losing the coil drops the hand latch.
      pulse      a closing pulse trips the latch and it closes; it stays closed until manual_open() (a person
                 re-latching it on site, refused while the coil is energised); no power: stays where it is.
      motorised  energised: the motor drives it open; de-energised: drives it closed; no power: stays put.
    Limit switches: the closed one is made only at position 0.0, the open one only at 1.0, so on a move the
    switch it leaves breaks at once and the other makes at the end of travel.
    Faults: stuck_open (it cannot move towards closed: an open valve stays open with its open switch made),
    no_feedback (it moves, but both switches keep the levels they had when the fault began).
    Thread-safe; time only comes in through step().
    """

    def __init__(self, valve_type: str = "hold", travel_s: float = 1.5, open_at_start: bool = False,
                 manual_reopen: bool = False):
        if valve_type not in VALVE_TYPES:
            raise KitchenIOError("valve type %r is not one of %s" % (valve_type, ", ".join(VALVE_TYPES)))
        if not travel_s > 0:
            raise KitchenIOError("valve travel_s must be more than 0, not %r" % (travel_s,))
        if manual_reopen and valve_type != "hold":
            raise KitchenIOError("manual_reopen is for a hold valve; a pulse valve is always reopened by hand")
        self.valve_type = valve_type
        self.travel_s = float(travel_s)
        self.manual_reopen = manual_reopen
        self._lock = threading.Lock()
        self._position = 1.0 if open_at_start else 0.0
        self._target = self._position
        self._hand_latched = open_at_start
        self._coil = False
        self._last_s: float | None = None
        self._faults: set[str] = set()
        self._frozen: tuple[bool, bool] | None = None

    @property
    def position(self) -> float:
        with self._lock:
            return self._position

    @property
    def faults(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._faults))

    def switches(self) -> tuple[bool, bool]:
        """(closed switch made, open switch made) as the wires report them."""
        with self._lock:
            return self._switches()

    def _switches(self) -> tuple[bool, bool]:
        if self._frozen is not None:
            return self._frozen
        return self._position <= 0.0, self._position >= 1.0

    def step(self, now_s: float, coil: bool, powered: bool = True) -> None:
        """Move for the time since the last step, then follow the coil as it is now."""
        with self._lock:
            if self._last_s is not None and now_s > self._last_s:
                self._move(now_s - self._last_s)
            self._last_s = now_s
            self._coil = coil and powered
            self._target = self._new_target(powered)

    def _move(self, dt_s: float) -> None:
        target = self._target
        if "stuck_open" in self._faults and target < self._position:
            return
        if target > self._position:
            self._position = min(target, self._position + dt_s / self.travel_s)
        elif target < self._position:
            self._position = max(target, self._position - dt_s / self.travel_s)

    def _new_target(self, powered: bool) -> float:
        if self.valve_type == "pulse":
            if self._coil:
                self._hand_latched = False  # the pulse trips the latch
            return 1.0 if self._hand_latched else 0.0
        if self.valve_type == "hold":
            if not self._coil:
                self._hand_latched = False
            return 1.0 if self._coil and (self._hand_latched or not self.manual_reopen) else 0.0
        if not powered:
            return self._position  # a motor without power stays where it is
        return 1.0 if self._coil else 0.0

    def manual_open(self) -> bool:
        """A person opens the valve on site; False when the mechanism refuses (coil state, see the class).

        Raises KitchenIOError for a valve with no hand latch (motorised, or hold without manual_reopen).
        """
        with self._lock:
            if self.valve_type == "pulse":
                if self._coil:
                    return False  # trip-free: it cannot be latched while the closing pulse is on
            elif self.valve_type == "hold" and self.manual_reopen:
                if not self._coil:
                    return False  # nothing holds it open without the coil
            else:
                raise KitchenIOError("a %s valve%s has no hand latch: the controller opens it" % (
                    self.valve_type, "" if self.valve_type == "motorised" else " without manual_reopen"))
            self._hand_latched = True
            self._target = 1.0
            return True

    def inject(self, kind: str) -> None:
        """Start a fault, one of VALVE_FAULTS."""
        if kind not in VALVE_FAULTS:
            raise KitchenIOError("valve fault %r is not one of %s" % (kind, ", ".join(VALVE_FAULTS)))
        with self._lock:
            if kind == "no_feedback" and self._frozen is None:
                self._frozen = self._switches()
            self._faults.add(kind)

    def clear(self, kind: str | None = None) -> None:
        """End one fault, or every fault when kind is None."""
        with self._lock:
            kinds = set(self._faults) if kind is None else {kind}
            self._faults -= kinds
            if "no_feedback" in kinds:
                self._frozen = None


class _Faults:
    """What the fan and the pipe share: a set of injected faults under a lock, ended one by one or all at once."""

    _lock: threading.Lock
    _faults: set[str]

    def clear(self, kind: str | None = None) -> None:
        """End one fault, or every fault when kind is None."""
        with self._lock:
            if kind is None:
                self._faults.clear()
            else:
                self._faults.discard(kind)


class Fan(_Faults):
    """The extract fan and its airflow proving switch (a differential-pressure switch, normally open).

    Airflow is proven once the motor has run spin_up_s without a break, and stays proven for run_down_s after
    it stops. Faults: motor_failed (the motor stops whatever the fan output says), switch_failed (the motor
    runs but the switch never makes: a pressure tube off), switch_bridged (the switch is made whatever the
    fan does: a wire across its contacts), gusts (the switch chatters open for GUST_OPEN_S of every
    GUST_PERIOD_S). Thread-safe; time only comes in through step().
    """

    def __init__(self, spin_up_s: float = DEFAULT_FAN_SPIN_UP_S, run_down_s: float = DEFAULT_FAN_RUN_DOWN_S):
        if spin_up_s < 0 or run_down_s < 0:
            raise KitchenIOError("fan spin_up_s and run_down_s must be 0 or more, not %r and %r"
                                 % (spin_up_s, run_down_s))
        self.spin_up_s = spin_up_s
        self.run_down_s = run_down_s
        self._lock = threading.Lock()
        self._spinning = False
        self._airflow = False
        self._changed_s = 0.0
        self._now_s = 0.0
        self._gusts_since_s = 0.0
        self._faults: set[str] = set()

    @property
    def spinning(self) -> bool:
        with self._lock:
            return self._spinning

    @property
    def proven(self) -> bool:
        """The proving switch is made."""
        with self._lock:
            if "switch_bridged" in self._faults:
                return True
            if "gusts" in self._faults and (self._now_s - self._gusts_since_s) % GUST_PERIOD_S < GUST_OPEN_S:
                return False
            return self._airflow and "switch_failed" not in self._faults

    @property
    def faults(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._faults))

    def step(self, now_s: float, running: bool, powered: bool = True) -> None:
        with self._lock:
            self._now_s = now_s
            spinning = running and powered and "motor_failed" not in self._faults
            if spinning != self._spinning:
                self._spinning = spinning
                self._changed_s = now_s
            elapsed_s = now_s - self._changed_s
            if spinning and not self._airflow and elapsed_s >= self.spin_up_s:
                self._airflow = True
            elif not spinning and self._airflow and elapsed_s >= self.run_down_s:
                self._airflow = False

    def inject(self, kind: str) -> None:
        """Start a fault, one of FAN_FAULTS."""
        if kind not in FAN_FAULTS:
            raise KitchenIOError("fan fault %r is not one of %s" % (kind, ", ".join(FAN_FAULTS)))
        with self._lock:
            if kind == "gusts" and kind not in self._faults:
                self._gusts_since_s = self._now_s
            self._faults.add(kind)



class Pipe(_Faults):
    """The gas pipework downstream of the valve and its low-pressure switch (made when pressure is present).

    With the valve open and gas supplied it fills in fill_s; with the valve closed it keeps its pressure (gas
    trapped, appliances off) until someone vents it at a burner (vent()). Faults: passing_valve (gas comes
    through the closed valve: pressure builds in fill_s), leak (the pressure falls leak_s after the valve
    closed), appliance_open (a burner left on: no pressure ever holds or builds), no_supply (it never fills).
    Thread-safe; time only comes in through step().
    """

    def __init__(self, fill_s: float = DEFAULT_PIPE_FILL_S, leak_s: float = DEFAULT_PIPE_LEAK_S):
        self.fill_s, self.leak_s = fill_s, leak_s
        self._lock = threading.Lock()
        self._pressure = False
        self._open = False
        self._changed_s = 0.0
        self._faults: set[str] = set()

    @property
    def pressure(self) -> bool:
        with self._lock:
            return self._pressure

    def step(self, now_s: float, valve_open: bool) -> None:
        with self._lock:
            if valve_open != self._open:
                self._open, self._changed_s = valve_open, now_s
            elapsed_s = now_s - self._changed_s
            if "appliance_open" in self._faults:
                self._pressure = False
            elif valve_open:
                if "no_supply" in self._faults:
                    self._pressure = False
                elif elapsed_s >= self.fill_s:
                    self._pressure = True
            elif "passing_valve" in self._faults:
                if elapsed_s >= self.fill_s:
                    self._pressure = True
            elif "leak" in self._faults and elapsed_s >= self.leak_s:
                self._pressure = False

    def vent(self) -> None:
        """A person lets the trapped gas out at a burner (the valve closed)."""
        with self._lock:
            if not self._open:
                self._pressure = False

    def inject(self, kind: str) -> None:
        if kind not in PIPE_FAULTS:
            raise KitchenIOError("pipe fault %r is not one of %s" % (kind, ", ".join(PIPE_FAULTS)))
        with self._lock:
            self._faults.add(kind)



def _active_high(name: str, active: str) -> bool:
    if active not in LINE_ACTIVE:
        raise KitchenIOError("line %s: active must be high or low, not %r" % (name, active))
    return active == "high"


class KitchenIO:
    """Every wired line of one controller, played by one polling thread (start()/close(), or step() by hand).

    inputs/outputs: line name -> its `active` level ("high"/"low") from the config's lines section, so the
    bench works in logical levels (True = active/energised) and the files hold physical ones. Only the
    outputs the safety logic writes are followed (valve, fan, sounder, beacon, fault_relay).
    """

    def __init__(self, sim_dir: str, inputs: Mapping[str, str], outputs: Mapping[str, str],
                 valve: Valve | None = None, fan: Fan | None = None,
                 clock: Callable[[], float] = time.monotonic, t0_s: float | None = None,
                 poll_s: float = DEFAULT_POLL_S):
        self.sim_dir = sim_dir
        self.valve = valve or Valve()
        self.fan = fan or Fan()
        self.pipe = Pipe()
        self.clock = clock
        self.t0_s = clock() if t0_s is None else t0_s
        self.poll_s = poll_s
        self._in_high = {name: _active_high(name, active) for name, active in inputs.items()}
        self._out_high = {name: _active_high(name, active) for name, active in outputs.items()
                          if name in safety.OUTPUTS}
        both = sorted(set(self._in_high) & set(self._out_high))
        if both:
            raise KitchenIOError("line %s is given as both an input and an output" % both[0])
        self._lock = threading.RLock()
        self._wanted: dict[str, bool] = {name: False for name in self._in_high}  # logical, before cuts
        self._written: dict[str, int | None] = {name: None for name in self._in_high}  # physical
        self._cut: set[str] = set()
        self._releases: dict[str, float] = {}  # button -> clock time it is let go
        self._levels: dict[str, bool | None] = {}
        self._trace: list[LineChange] = []
        self._powered = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error_count = 0
        self.last_error = ""

    @classmethod
    def from_config(cls, cfg: Mapping, *, valve_travel_s: float | None = None, valve_open_at_start: bool = False,
                    fan_spin_up_s: float | None = None, fan_run_down_s: float = DEFAULT_FAN_RUN_DOWN_S,
                    clock: Callable[[], float] = time.monotonic, t0_s: float | None = None,
                    poll_s: float = DEFAULT_POLL_S) -> KitchenIO:
        """The kitchen a normalised config describes (gaslatch.core.config.load_config, gpio.backend sim).

        The valve is of the configured type and moves in valve_travel_s (default: half the configured
        travel_s, a healthy valve inside its rated stroke); a hold valve with valve.startup
        auto_arm_external_manual_valve needs manual_open(). The fan proves airflow in fan_spin_up_s (default:
        DEFAULT_FAN_SPIN_UP_S, or half of fan.proving_grace_s when that is shorter).
        """
        if cfg["gpio"]["backend"] != "sim":
            raise KitchenIOError("the bench plays the sim GPIO backend; the config has gpio.backend %s"
                                 % cfg["gpio"]["backend"])
        input_names, output_names = line_directions(cfg)
        lines = cfg["lines"]
        valve_cfg = cfg["valve"]
        valve = Valve(valve_cfg["type"],
                      valve_cfg["travel_s"] / 2 if valve_travel_s is None else valve_travel_s,
                      open_at_start=valve_open_at_start,
                      manual_reopen=(valve_cfg["type"] == "hold"
                                     and valve_cfg["startup"] == "auto_arm_external_manual_valve"))
        spin_up_s = (min(DEFAULT_FAN_SPIN_UP_S, cfg["fan"]["proving_grace_s"] / 2) if fan_spin_up_s is None
                     else fan_spin_up_s)
        return cls(cfg["gpio"]["sim_dir"],
                   {name: lines[name]["active"] for name in sorted(input_names) if name in lines},
                   {name: lines[name]["active"] for name in sorted(output_names) if name in lines},
                   valve=valve, fan=Fan(spin_up_s, fan_run_down_s), clock=clock, t0_s=t0_s, poll_s=poll_s)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._in_high))

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._out_high))

    # ---- what a person on site does ----
    # Each returns the clock time the line took its level: read under the lock once the new file is written
    # beside the old, just before the rename that shows it to the controller (_publish), so it is when the
    # controller can first see the change, however long the caller waited for the lock, the GIL or a CPU
    # before. A bench action is timed from it (an action timed before the call would count that wait as the
    # controller's; each system call of the write gives the GIL up, and on a loaded machine each can wait).

    def set_input(self, name: str, active: bool) -> float:
        """Set a contact (fire_input, estop_input, a contact detector's line) or a button, logically."""
        with self._lock:
            self._check_person_input(name)
            self._releases.pop(name, None)
            self._wanted[name] = bool(active)
            return self._sync_input(name, self.clock())

    def press(self, name: str, hold_s: float | None = None) -> float:
        """Press a button; with hold_s the bench lets it go that long after (else call release())."""
        with self._lock:
            pressed = self.set_input(name, True)
            if hold_s is not None:
                self._releases[name] = pressed + hold_s
            return pressed

    def release(self, name: str) -> float:
        return self.set_input(name, False)

    def cut_wire(self, name: str) -> float:
        """An open circuit on any input, model-driven ones too: the pull-down makes it read physical 0."""
        with self._lock:
            self._check_input(name)
            self._cut.add(name)
            return self._sync_input(name, self.clock())

    def mend_wire(self, name: str) -> float:
        with self._lock:
            self._check_input(name)
            self._cut.discard(name)
            return self._sync_input(name, self.clock())

    def at_once(self, change: Callable[[], T]) -> tuple[T, float]:
        """Makes a change to a model (a fault on the valve, fan or pipe, a hand on the valve, a vent) and plays
        it in a step straight after, under the lock: (what change returned, the clock time of that step).

        Without the step the change would count from the polling thread's next pass (a fan's run-down, a
        valve's switches), which comes late when the bench's process waits for a CPU; a failed write in the
        step is counted as the thread counts one, and retried by it.
        """
        with self._lock:
            result = change()
            now = self.clock()
            try:
                self.step(now)
            except KitchenIOError as error:
                self.error_count += 1
                self.last_error = str(error)
            return result, now

    def power(self, on: bool) -> None:
        """The controller's supply: without it every output relay drops (a power cut, with the SIGKILL of
        ControllerProcess.power_cut), whatever the output files still say.

        Losing it also sets every output file to its inactive level, as a Pi's pins lose theirs: a
        restarted controller never finds the dead run's levels still driving the valve.
        """
        with self._lock:
            if bool(on) != self._powered:
                self._powered = bool(on)
                self._trace.append(LineChange(self.clock() - self.t0_s, POWER, self._powered))
            if not on:
                for name, high in sorted(self._out_high.items()):
                    if not os.path.exists(self._path(name)):
                        continue  # a line no controller has claimed yet
                    try:
                        write_line_file(self._path(name), b"%d\n" % (0 if high else 1))
                    except OSError as error:
                        raise KitchenIOError("cannot reset output %s: %s" % (self._path(name), error)) from error

    # ---- the thread ----

    def start(self) -> None:
        """Write every input's level (before or after the controller starts), then follow the outputs."""
        if self._thread is not None:
            raise KitchenIOError("the kitchen I/O is already running")
        try:
            os.makedirs(self.sim_dir, DIR_MODE, exist_ok=True)
        except OSError as error:
            raise KitchenIOError("cannot create the sim GPIO directory %s: %s" % (self.sim_dir, error)) from error
        self.step()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kitchen-io", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread; the files keep their last levels. Safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> KitchenIO:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.step()
            except KitchenIOError as error:  # retried on the next poll; the thread must keep playing
                self.error_count += 1
                self.last_error = str(error)

    def step(self, now: float | None = None) -> None:
        """One pass: read the outputs, let held buttons go, move the valve and fan, write their switches.
        now: the clock time of the pass (default: the clock, read under the lock)."""
        with self._lock:
            if now is None:
                now = self.clock()
            for name in sorted(self._out_high):
                # timed when read, not at the pass's start: the change came before the read, and a pass held
                # back between the two (the GIL, a CPU) would time it before the controller had made it
                level = self._read_output(name)
                self._record(self.clock(), name, level)
            for name, until in sorted(self._releases.items()):
                if now >= until:
                    del self._releases[name]
                    self._wanted[name] = False
            energised = {name: bool(self._levels.get(name)) and self._powered for name in self._out_high}
            self.valve.step(now, energised.get(safety.OUT_VALVE, False), self._powered)
            self.fan.step(now, energised.get(safety.OUT_FAN, False), self._powered)
            self.pipe.step(now, self.valve.position > 0.5)
            closed, opened = self.valve.switches()
            for name, level in ((safety.IN_VALVE_CLOSED, closed), (safety.IN_VALVE_OPEN, opened),
                                (safety.IN_FAN_PROVEN, self.fan.proven), (proving.IN_GAS_PRESSURE, self.pipe.pressure)):
                if name in self._wanted:
                    self._wanted[name] = level
            failures = []
            for name in sorted(self._in_high):
                try:
                    self._sync_input(name, now)
                except KitchenIOError as error:
                    failures.append(str(error))
            if failures:
                raise KitchenIOError("; ".join(failures))

    # ---- what the bench reads ----

    def snapshot(self) -> dict[str, bool | None]:
        """Every line's current logical level (outputs as last read, inputs as last written)."""
        with self._lock:
            return dict(self._levels)

    def trace(self) -> list[LineChange]:
        """Every change of every line since the start, in order."""
        with self._lock:
            return list(self._trace)

    # ---- files ----

    def _check_input(self, name: str) -> None:
        if name not in self._in_high:
            raise KitchenIOError("%s is not a wired input; wired inputs are %s" % (
                name, ", ".join(sorted(self._in_high)) or "none"))

    def _check_person_input(self, name: str) -> None:
        self._check_input(name)
        if name in MODEL_INPUTS:
            raise KitchenIOError("%s follows the %s model: inject a fault on it, or cut_wire(%r)" % (
                name, "fan" if name == safety.IN_FAN_PROVEN else "valve", name))

    def _path(self, name: str) -> str:
        return os.path.join(self.sim_dir, name, VALUE_FILE)

    def _read_output(self, name: str) -> bool | None:
        try:
            with open(self._path(name), "rb") as handle:
                physical = parse_value(handle.read(_READ_LIMIT_BYTES))
        except OSError:
            return None
        return None if physical is None else (physical == 1) == self._out_high[name]

    def _sync_input(self, name: str, now: float) -> float:
        """Write the input's physical level if it changed; a failed write is tried again next time. Returns the
        clock time the new level was shown (now when the level was already there)."""
        high = self._in_high[name]
        physical = 0 if name in self._cut else (1 if self._wanted[name] == high else 0)
        if physical != self._written[name]:
            try:
                os.makedirs(os.path.dirname(self._path(name)), DIR_MODE, exist_ok=True)
                now = self._publish(self._path(name), b"%d\n" % physical)
            except OSError as error:
                raise KitchenIOError("cannot write input %s: %s" % (self._path(name), error)) from error
            self._written[name] = physical
        self._record(now, name, (physical == 1) == high)
        return now

    def _publish(self, path: str, data: bytes) -> float:
        """write_line_file's atomic replace, with the clock read between the written temporary file and the
        rename: returned, the time the controller's next read can see the new level."""
        shown: list[float] = []
        write_line_file(path, data, before_replace=lambda: shown.append(self.clock()))
        return shown[0]

    def _record(self, now: float, name: str, level: bool | None) -> None:
        if name not in self._levels or self._levels[name] != level:
            self._levels[name] = level
            self._trace.append(LineChange(now - self.t0_s, name, level))
