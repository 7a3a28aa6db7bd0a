"""The controller's named GPIO lines (valve, fan, buttons, fire input...) with polarity and input debounce.

The runtime sees logical levels (True = active); a backend (gpio_sim, gpio_gpiod, gpio_rpi) sees physical pins.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Protocol, Sequence

from gaslatch.core import proving, safety

# Every output that a scan writes (safety.OUTPUTS) plus each bus's `de_line`; both come from the config.
OUTPUT_LINES = tuple(sorted(safety.OUTPUTS))
INPUT_LINES = tuple(sorted((
    safety.IN_RESET, safety.IN_SILENCE, safety.IN_FIRE, safety.IN_ESTOP, safety.IN_FAN_PROVEN,
    safety.IN_VALVE_CLOSED, safety.IN_VALVE_OPEN, proving.IN_GAS_PRESSURE,
)))

# The safe state of every output at the pin level is "not energised": a hold valve closes, the fault relay
# drops (signals a fault), the fan, sounder, beacon and RS-485 driver are off. The core decides anything else.
SAFE_OUTPUT_ACTIVE = False

PULL_DOWN = "down"
PULL_UP = "up"
# Every input is pulled down, so an open circuit (cut wire, unplugged connector) reads physical 0 whatever
# the polarity. With contacts switching 3.3 V to the pin (docs/operations-gpio.md), a normally closed safety
# contact configured active "low" then reads active when its wire is cut, and a normally open button
# configured active "high" reads released. Polarity alone cannot choose the pull: the same open circuit must
# read active on one line and inactive on the other.
INPUT_PULL = PULL_DOWN


class GpioError(Exception):
    """A GPIO line could not be claimed or written; the message names the line or pin and what to do."""


class InputPin(NamedTuple):
    """An input to claim: BCM number, the logical line's name (sim files, messages) and its pull."""

    bcm: int
    name: str
    pull: str


class OutputPin(NamedTuple):
    """An output to claim, driven at initial_level (physical 0/1) from the moment it is claimed."""

    bcm: int
    name: str
    initial_level: int


class Pins(Protocol):
    """What every backend implements. Levels are physical (0 = low, 1 = high), before polarity."""

    def claim(self, inputs: Sequence[InputPin], outputs: Sequence[OutputPin]) -> None:
        """Claim every pin at once; outputs start at their initial level. Raises GpioError."""

    def read(self, bcm: int) -> int | None:
        """Level of a claimed input, or None when it cannot be read. Never raises."""

    def write(self, bcm: int, level: int) -> None:
        """Drive a claimed output. Raises GpioError."""

    def release(self) -> None:
        """Give the pins back. The caller has already written the safe levels."""


def line_directions(cfg: Mapping) -> tuple[set[str], set[str]]:
    """(input names, output names) that the normalised config can use, wired or not."""
    outputs = set(OUTPUT_LINES)
    for bus in cfg["buses"].values():
        if bus.get("de_line"):
            outputs.add(bus["de_line"])
    inputs = set(INPUT_LINES)
    for det in cfg["detectors"].values():
        if det["kind"] == "contact":
            inputs.add(det["line"])
            if det.get("fault_line"):
                inputs.add(det["fault_line"])
    return inputs, outputs


class InputDebounce:
    """One input's debounced level: a new level counts once it has held debounce_ms; unreadable counts at once.

    The first level ever read counts at once (there is nothing to bounce from). After an unreadable read, a
    level must hold debounce_ms again, so a flaky line cannot produce button presses.
    """

    _NOTHING_YET = object()

    def __init__(self, debounce_ms: int):
        self.debounce_ms = debounce_ms
        self.level: object = self._NOTHING_YET
        self._candidate: bool | None = None
        self._candidate_since_ms = 0

    def update(self, now_ms: int, raw: bool | None) -> bool | None:
        """Feed one raw logical reading; returns the level that counts now."""
        if raw is None:
            self.level = None
            self._candidate = None
            return None
        if self.level is self._NOTHING_YET:
            self.level = raw
            return raw
        if raw == self.level:
            self._candidate = None
            return raw
        if raw != self._candidate:
            self._candidate = raw
            self._candidate_since_ms = now_ms
        if now_ms - self._candidate_since_ms >= self.debounce_ms:
            self.level = raw
            self._candidate = None
        return self.level  # type: ignore[return-value]


def _physical(active: bool, active_high: bool) -> int:
    return 1 if active == active_high else 0


class Lines:
    """The wired lines of one controller over a Pins backend; claims them (outputs safe) when built."""

    def __init__(self, cfg: Mapping, pins: Pins):
        """cfg: normalised config (gaslatch.core.config.load_config). Raises GpioError."""
        self._pins = pins
        input_names, output_names = line_directions(cfg)
        self._inputs: dict[str, tuple[int, bool]] = {}
        self._outputs: dict[str, tuple[int, bool]] = {}
        owner: dict[int, str] = {}
        for name in sorted(cfg["lines"]):
            line = cfg["lines"][name]
            bcm, active_high = line["pin"], line["active"] == "high"
            if bcm in owner:
                raise GpioError("lines %s and %s are both on GPIO%d: give each line its own pin in the config's "
                                "lines section" % (owner[bcm], name, bcm))
            owner[bcm] = name
            if name in output_names:
                self._outputs[name] = (bcm, active_high)
            elif name in input_names:
                self._inputs[name] = (bcm, active_high)
            else:
                raise GpioError("line %s (GPIO%d) is not used by anything: outputs are %s or a bus's de_line; "
                                "inputs are %s or a contact detector's line/fault_line; rename or remove it"
                                % (name, bcm, ", ".join(OUTPUT_LINES), ", ".join(INPUT_LINES)))
        self._debounce = {name: InputDebounce(cfg["gpio"]["debounce_ms"]) for name in self._inputs}
        self._written: dict[str, bool | None] = {name: SAFE_OUTPUT_ACTIVE for name in self._outputs}
        pins.claim(
            [InputPin(bcm, name, INPUT_PULL) for name, (bcm, _) in sorted(self._inputs.items())],
            [OutputPin(bcm, name, _physical(SAFE_OUTPUT_ACTIVE, high))
             for name, (bcm, high) in sorted(self._outputs.items())],
        )
        self._closed = False

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._inputs))

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._outputs))

    def read_inputs(self, now_ms: int) -> dict[str, bool | None]:
        """Every wired input, debounced and logical: True = active, None = could not be read."""
        levels: dict[str, bool | None] = {}
        for name, (bcm, active_high) in sorted(self._inputs.items()):
            physical = self._pins.read(bcm)
            raw = None if physical is None else (physical == 1) == active_high
            levels[name] = self._debounce[name].update(now_ms, raw)
        return levels

    def refresh(self) -> None:
        """Forget what was written, so the next write_outputs() drives every line again (heals a line that
        something else changed underneath)."""
        for name in self._written:
            self._written[name] = None

    def write_outputs(self, levels: Mapping[str, bool]) -> None:
        """Drive the wired outputs named in levels (True = energised); other names are ignored.

        A pin is written only when its level changes. Raises GpioError after trying every line if any write
        failed; a failed line is written again on the next call.
        """
        if self._closed:
            raise GpioError("GPIO lines are closed")
        failures = []
        for name in sorted(levels):
            if name not in self._outputs:
                continue
            active = bool(levels[name])
            if self._written[name] == active:
                continue
            bcm, active_high = self._outputs[name]
            self._written[name] = None
            try:
                self._pins.write(bcm, _physical(active, active_high))
            except GpioError as error:
                failures.append(str(error))
                continue
            self._written[name] = active
        if failures:
            raise GpioError("; ".join(failures))

    def close(self) -> None:
        """Write every output's safe (de-energised) level, then release the pins. Safe to call twice."""
        if self._closed:
            return
        try:
            self.write_outputs({name: SAFE_OUTPUT_ACTIVE for name in self._outputs})
        finally:
            self._closed = True
            self._pins.release()


def open_lines(cfg: Mapping) -> Lines:
    """The Lines of a normalised config over the backend it names in gpio.backend. Raises GpioError."""
    gpio = cfg["gpio"]
    backend = gpio["backend"]
    if backend == "sim":
        from gaslatch.unit.gpio_sim import SimPins
        pins: Pins = SimPins(gpio["sim_dir"])
    elif backend == "gpiod":
        from gaslatch.unit.gpio_gpiod import GpiodPins
        pins = GpiodPins(gpio["chip"])
    elif backend == "rpi":
        from gaslatch.unit.gpio_rpi import RpiPins
        pins = RpiPins()
    else:
        raise GpioError("gpio.backend %r is not one of gpiod, rpi, sim" % (backend,))
    return Lines(cfg, pins)
