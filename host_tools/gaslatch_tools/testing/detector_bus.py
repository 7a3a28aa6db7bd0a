"""A pty detector bus in one line: the bench's EmulatedBus with an EmulatedDetector of one profile at each address.

For the tests and benchmarks of the running unit that need detectors answering, not a scenario: gas set by address,
silences and damaged replies through the bus's faults (inject(address, "no_reply") ...).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from gaslatch_tools.bench.emulated_bus import EmulatedBus
from gaslatch_tools.bench.emulated_detector import DEFAULT_FULL_SCALE_PPM, EmulatedDetector
from gaslatch_tools.bench.gas_model import GasModel

BAUD = 9600


class DetectorBus(EmulatedBus):
    """Detectors of `profile` at `addresses` behind `link` (a symlink to a fresh pty), answering from the start.

    detectors: {address: EmulatedDetector}; no warm-up, clean air. close() removes the pty and the link.
    measurands: {address: "co" or "co2"} for CO or CO2 detectors (their gas in ppm, full scale 10000 ppm).
    """

    def __init__(self, link: str, addresses: Iterable[int], profile: str = "cn-generic", baud: int = BAUD,
                 clock: Callable[[], float] = time.monotonic, measurands: dict[int, str] | None = None):
        super().__init__(link, baud, clock=clock)
        measurands = measurands or {}
        self.detectors = {address: EmulatedDetector(profile, address, clock=clock, baud=baud,
                                                    **_measuring(measurands.get(address)))
                          for address in addresses}
        for detector in self.detectors.values():
            self.add(detector)
        self.start()

    def set_gas(self, address: int, pct_lel: float) -> None:
        """The detector at address senses pct_lel from now on (0: clean air)."""
        self.detectors[address].gas = GasModel(pct_lel) if pct_lel else None


def _measuring(measurand: str | None) -> dict:
    """EmulatedDetector options of a CO or CO2 detector (ppm, a 0-10000 ppm sensor); none for combustible gas."""
    if measurand is None:
        return {}
    return {"measurand": measurand, "full_scale_pct_lel": DEFAULT_FULL_SCALE_PPM}
