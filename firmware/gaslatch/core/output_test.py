"""Commissioning pulses of the non-valve outputs: the installer checks each sounder, beacon, fan and relay.

A pulse overrides the safety logic's level of one output for at most MAX_TEST_OUTPUT_MS, driven by
`now_ms`; the valve is never pulsed (its test is a close command, and reopening it needs the local
reset like after any trip). The fault relay is tested by dropping it, as a fault would.
"""

from gaslatch.core.safety import OUT_BEACON, OUT_FAN, OUT_FAULT_RELAY, OUT_SOUNDER

TESTABLE_OUTPUTS = (OUT_FAN, OUT_SOUNDER, OUT_BEACON, OUT_FAULT_RELAY)
MAX_TEST_OUTPUT_MS = 10000


class OutputTests:
    """The pulses under way: line -> the ms they end."""

    def __init__(self):
        self.until_ms = {}

    def start(self, now_ms, line, ms):
        """Pulse `line` (one of TESTABLE_OUTPUTS) for ms, capped; returns the ms it will be held."""
        held_ms = max(0, min(ms, MAX_TEST_OUTPUT_MS))
        self.until_ms[line] = now_ms + held_ms
        return held_ms

    def apply(self, now_ms, outputs):
        """The outputs with the pulses under way laid over them (a new dict); ended pulses are dropped."""
        if not self.until_ms:
            return outputs
        out = dict(outputs)
        for line in list(self.until_ms):
            if now_ms >= self.until_ms[line]:
                del self.until_ms[line]
            else:
                out[line] = line != OUT_FAULT_RELAY
        return out
