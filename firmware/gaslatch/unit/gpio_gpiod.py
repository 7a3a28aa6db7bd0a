"""GPIO pins through the Linux GPIO character device with the libgpiod v2 Python bindings (package `gpiod`).

Works on every Raspberry Pi and is the only backend for the Pi 5; on the header's chip, offset = BCM number.
"""

from __future__ import annotations

import errno
from typing import Any, Callable, Sequence

from gaslatch.unit.gpio_lines import PULL_DOWN, PULL_UP, GpioError, InputPin, OutputPin

CONSUMER = "gaslatch"  # shown by `gpioinfo` next to each line this service holds
INSTALL_HINT = "install the libgpiod v2 bindings: pip install 'gpiod>=2.2' (Debian's python3-libgpiod is v1)"


def import_gpiod() -> Any:
    """The gpiod module, v2 API; raises GpioError naming the package when it is missing or v1."""
    try:
        import gpiod
    except ImportError as error:
        raise GpioError("gpio.backend is gpiod but the Python package gpiod is not installed: %s" % INSTALL_HINT) \
            from error
    if not hasattr(gpiod, "request_lines"):
        raise GpioError("the installed gpiod module is the libgpiod v1 API: %s" % INSTALL_HINT)
    return gpiod


def _claim_error(chip: str, error: OSError) -> GpioError:
    if error.errno == errno.ENOENT:
        hint = ("set gpio.chip to the 40-pin header's chip; `gpiodetect` lists the chips (pinctrl-bcm2835/-bcm2711, "
                "or pinctrl-rp1 on a Pi 5)")
    elif error.errno in (errno.EACCES, errno.EPERM):
        hint = ("add the service user to the gpio group (usermod -aG gpio gaslatch) or give the unit "
                "SupplementaryGroups=gpio")
    elif error.errno == errno.EBUSY:
        hint = "another program or a kernel driver holds one of the pins; `gpioinfo` shows each line's consumer"
    elif error.errno == errno.EINVAL:
        hint = "a pin number is not a line of this chip; check gpio.chip and the lines' pin numbers"
    else:
        hint = "check gpio.chip; `gpiodetect` lists the GPIO chips"
    return GpioError("cannot claim GPIO lines on %s: %s; %s" % (chip, error, hint))


class GpiodPins:
    """The gpiod backend: one line request holds every pin. Polarity is applied by Lines, so active_low is off."""

    def __init__(self, chip: str, request_lines: Callable[..., Any] | None = None):
        """request_lines: gpiod.request_lines, or a stand-in with its signature (tests check the mapping)."""
        self.chip = chip
        self._gpiod = import_gpiod()
        self._request_lines = request_lines or self._gpiod.request_lines
        self._request: Any = None

    def line_config(self, inputs: Sequence[InputPin], outputs: Sequence[OutputPin]) -> dict[int, Any]:
        """offset -> gpiod.LineSettings for one request: outputs with their initial value, inputs with their bias."""
        line = self._gpiod.line
        bias = {PULL_DOWN: line.Bias.PULL_DOWN, PULL_UP: line.Bias.PULL_UP}
        config: dict[int, Any] = {}
        for pin in outputs:
            config[pin.bcm] = self._gpiod.LineSettings(
                direction=line.Direction.OUTPUT, drive=line.Drive.PUSH_PULL, active_low=False,
                output_value=line.Value.ACTIVE if pin.initial_level else line.Value.INACTIVE)
        for pin in inputs:
            config[pin.bcm] = self._gpiod.LineSettings(
                direction=line.Direction.INPUT, bias=bias.get(pin.pull, line.Bias.DISABLED), active_low=False)
        return config

    def claim(self, inputs: Sequence[InputPin], outputs: Sequence[OutputPin]) -> None:
        """One request: the kernel sets each output's initial value as it turns the pin into an output."""
        config = self.line_config(inputs, outputs)
        try:
            self._request = self._request_lines(self.chip, consumer=CONSUMER, config=config)
        except OSError as error:
            raise _claim_error(self.chip, error) from error

    def read(self, bcm: int) -> int | None:
        try:
            value = self._request.get_value(bcm)
        except Exception:  # OSError from the kernel, or a released request: unreadable, never a level
            return None
        return 1 if value == self._gpiod.line.Value.ACTIVE else 0

    def write(self, bcm: int, level: int) -> None:
        line = self._gpiod.line
        try:
            self._request.set_value(bcm, line.Value.ACTIVE if level else line.Value.INACTIVE)
        except Exception as error:
            raise GpioError("cannot drive GPIO%d on %s: %s" % (bcm, self.chip, error)) from error

    def release(self) -> None:
        """libgpiod documents a released line's level as undefined: wiring must hold an undriven pin de-energised."""
        request, self._request = self._request, None
        if request is not None:
            request.release()
