"""Address and baud rate changes, proven: the detector answers at its new setting and falls silent at the old.

set-address and set-baud write a commissioning register; a write's reply proves nothing, the read-back does.
"""

from __future__ import annotations

import time

from gaslatch.core.detector_profile import Profile
from gaslatch_tools.commission.bus_client import BusClient, BusError
from gaslatch_tools.commission.bus_scan import Line, Tally, client_line, poll, silent_at

# After an address or baud write the device must answer at its new setting within this time.
VERIFY_S = 3.0


def answers_at(client: BusClient, address: int, line: Line) -> bool:
    """True if a device answers `address` at `line`; the client goes back to its own line setting after."""
    kept = client_line(client)
    if line != kept:
        client.reconfigure(*line)
    answered = not silent_at(client, address)
    if line != kept:
        client.reconfigure(*kept)
    return answered


def answers_within(client: BusClient, address: int, profile: Profile, gas: str, within_s: float) -> bool:
    """True once `address` answers a complete poll at the client's line setting, trying until within_s."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            poll(client, Tally(), address, profile, gas, attempts=1)
            return True
        except BusError:
            if time.monotonic() >= deadline:
                return False


def verify_change(client: BusClient, profile: Profile, gas: str, old_address: int, new_address: int,
                  new_line: Line) -> tuple[bool, bool]:
    """After the write: (answers a complete poll at new_address, new_line within VERIFY_S; then silent at the old).

    The old setting is old_address at the client's line setting, which the client is left at.
    """
    old_line = client_line(client)
    if new_line != old_line:
        client.reconfigure(*new_line)
    moved = answers_within(client, new_address, profile, gas, VERIFY_S)
    if new_line != old_line:
        client.reconfigure(*old_line)
    return moved, moved and silent_at(client, old_address)
