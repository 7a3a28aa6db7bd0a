"""GPIO pins through RPi.GPIO (Pi 4 and older) or the rpi-lgpio shim that offers the same module on newer kernels.

Numbers are BCM numbers (GPIO.setmode(GPIO.BCM)).
"""

from __future__ import annotations

from typing import Any, Sequence

from gaslatch.unit.gpio_lines import PULL_DOWN, PULL_UP, GpioError, InputPin, OutputPin

INSTALL_HINT = ("install RPi.GPIO (pip install RPi.GPIO, Pi 4 and older) or its lgpio shim (pip install rpi-lgpio), "
                "or set gpio.backend to gpiod")


def import_rpi_gpio() -> Any:
    """The RPi.GPIO module; raises GpioError naming the package when it is missing or refuses this machine."""
    try:
        import RPi.GPIO as gpio_module
    except ImportError as error:
        raise GpioError("gpio.backend is rpi but the Python package RPi.GPIO is not installed: %s" % INSTALL_HINT) \
            from error
    except RuntimeError as error:  # RPi.GPIO raises this off a Pi or without access to /dev/gpiomem
        raise GpioError("RPi.GPIO cannot run here (%s): on a Pi add the service user to the gpio group; "
                        "otherwise %s" % (error, INSTALL_HINT)) from error
    return gpio_module


class RpiPins:
    """The rpi backend. Outputs are set up (with their initial level) before any input."""

    def __init__(self, gpio_module: Any = None):
        """gpio_module: RPi.GPIO, or a stand-in with its functions and constants (tests check the mapping)."""
        self._gpio = gpio_module if gpio_module is not None else import_rpi_gpio()
        self._inputs: list[int] = []
        self._outputs: set[int] = set()

    def claim(self, inputs: Sequence[InputPin], outputs: Sequence[OutputPin]) -> None:
        gpio = self._gpio
        pull = {PULL_DOWN: gpio.PUD_DOWN, PULL_UP: gpio.PUD_UP}
        try:
            gpio.setwarnings(False)  # outputs stay set up between runs on purpose (see release)
            gpio.setmode(gpio.BCM)
            for pin in outputs:
                gpio.setup(pin.bcm, gpio.OUT, initial=gpio.HIGH if pin.initial_level else gpio.LOW)
                self._outputs.add(pin.bcm)
            for pin in inputs:
                gpio.setup(pin.bcm, gpio.IN, pull_up_down=pull.get(pin.pull, gpio.PUD_OFF))
                self._inputs.append(pin.bcm)
        except (RuntimeError, ValueError, OSError) as error:
            raise GpioError("cannot set up GPIO pins with RPi.GPIO: %s; add the service user to the gpio group and "
                            "check that no other program uses the pins" % error) from error

    def read(self, bcm: int) -> int | None:
        try:
            return 1 if self._gpio.input(bcm) else 0
        except Exception:  # RuntimeError/ValueError from RPi.GPIO: unreadable, never a level
            return None

    def write(self, bcm: int, level: int) -> None:
        if bcm not in self._outputs:
            raise GpioError("GPIO%d is not a claimed output" % bcm)
        gpio = self._gpio
        try:
            gpio.output(bcm, gpio.HIGH if level else gpio.LOW)
        except Exception as error:
            raise GpioError("cannot drive GPIO%d with RPi.GPIO: %s" % (bcm, error)) from error

    def release(self) -> None:
        """Inputs go back to the kernel; outputs stay driven at their last (safe) level, because
        GPIO.cleanup() would turn them into floating inputs."""
        if self._inputs:
            self._gpio.cleanup(list(self._inputs))
        self._inputs = []
        self._outputs = set()
