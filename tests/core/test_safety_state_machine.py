"""Hypothesis drives the kitchen at random and checks the safety invariants after every step.

Gas levels, device statuses, silences, buttons, interlocks, inhibits and remote closes arrive in
any order and at any time; the rules below must hold whatever happens.
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D

from tests.core.safety_harness import PERIOD_MS, Kitchen, config_doc

NAMES = ("d1", "d2", "d3")
CONFIRM_MS = C.DEFAULT_CONFIRM_WINDOW_MS
FAULT_BUDGET_MS = (C.DEFAULT_COMM_LOST_AFTER_S + C.DEFAULT_FAULT_TRIP_AFTER_S) * 1000
INHIBIT_MAX_MIN = 10


class KitchenMachine(RuleBasedStateMachine):
    @initialize(fire=st.booleans(), proving=st.booleans())
    def build(self, fire, proving):
        doc = config_doc(
            n_detectors=len(NAMES),
            interlocks={"fire_input": fire, "estop_input": True},
            fan={"mode": "continuous" if proving else "alarm", "proving": proving, "proving_grace_s": 5},
            inhibit={"max_minutes": INHIBIT_MAX_MIN},
        )
        self.k = Kitchen(doc)
        self.high_since = {}  # detector -> ms its reading has been >= high in every sample
        self.silent_since = {}  # detector -> ms it went silent
        self.inhibit_started = {}
        self.checked_scans = 0

    # ---- stimuli ----
    @rule(name=st.sampled_from(NAMES), pct=st.sampled_from([0.0, 5.0, 9.9, 10.0, 15.0, 24.9, 25.0, 40.0, 99.0, 100.0, 150.0]))
    def set_gas(self, name, pct):
        self.k.gas[name] = pct

    @rule(name=st.sampled_from(NAMES), status=st.sampled_from(C.STATUSES))
    def set_status(self, name, status):
        self.k.status[name] = status

    @rule(name=st.sampled_from(NAMES), silent=st.booleans())
    def set_silent(self, name, silent):
        if silent:
            self.k.silent.add(name)
        else:
            self.k.silent.discard(name)

    @rule(line=st.sampled_from(["fire_input", "estop_input", "fan_proven"]), level=st.booleans())
    def set_input(self, line, level):
        self.k.inputs[line] = level

    @rule(line=st.sampled_from(["reset_button", "silence_button"]))
    def press(self, line):
        self.k.inputs[line] = True
        self._scan()

    @rule(name=st.sampled_from(NAMES), minutes=st.integers(-1, 40))
    def inhibit(self, name, minutes):
        ok, _ = self.k.safety.command_inhibit(self.k.now_ms, name, minutes, "test")
        if ok:
            assert 1 <= minutes <= INHIBIT_MAX_MIN
            self.inhibit_started[name] = self.k.now_ms

    @rule()
    def remote_close(self):
        self.k.safety.command_close_valve(self.k.now_ms, "platform")
        self._scan()
        assert not self.k.valve_open, "a remote close takes effect on the next scan"

    @rule(ms=st.sampled_from([PERIOD_MS, 500, 1000, 2500, 5000, 12000, 45000]))
    def wait(self, ms):
        end = self.k.now_ms + ms
        while self.k.now_ms < end:
            self._scan()

    # ---- one scan with every per-scan invariant ----
    def _scan(self):
        k = self.k
        now = k.now_ms
        for name in NAMES:
            responding = name not in k.silent
            warm = k.status[name] == C.STATUS_WARMUP
            if responding and not warm and D.pct_to_centi(k.gas[name]) >= D.pct_to_centi(C.DEFAULT_HIGH_ALARM_PCT_LEL):
                self.high_since.setdefault(name, now)
            else:
                self.high_since.pop(name, None)
            if responding:
                self.silent_since.pop(name, None)
            else:
                self.silent_since.setdefault(name, now)
        sampled = [name for name in NAMES if name not in k.silent]
        k.scan()
        _, before, after, out_before, out_after, events = k.scan_log[-1]
        self._check_scan(now, before, after, out_before, out_after, events)
        # Over-range is never safe: the scan that saw it ends with a high alarm and the valve closed.
        for name in sampled:
            if k.detectors[name].over_range and name not in k.safety.inhibits:
                assert k.detectors[name].state == D.HIGH_ALARM and k.safety.latched and not out_after["valve"]

    def _check_scan(self, now, before, after, out_before, out_after, events):
        k = self.k
        # Every detector state change has exactly one event, and nothing else claims one.
        changed = sorted(n for n in NAMES if before[n] != after[n])
        detector_events = sorted(e["source"] for e in events if e["type"] == "detector")
        assert changed == detector_events
        for e in events:
            if e["type"] == "detector":
                assert e["state"] == after[e["source"]]
        # Every output change has exactly one event.
        out_changed = sorted(n for n in out_after if out_before.get(n) != out_after[n])
        assert out_changed == sorted(e["source"] for e in events if e["type"] == "output")
        # The valve only opens through an accepted local reset.
        if out_after["valve"] and not out_before.get("valve"):
            resets = [e for e in events if e["type"] == "reset"]
            assert resets and resets[0]["source"] == "reset button"
        # A reset is never accepted while anything blocks it.
        if any(e["type"] == "reset" for e in events):
            for n in NAMES:
                assert after[n] == D.NORMAL, "reset accepted while %s is %s" % (n, after[n])
            assert not any(k.safety.interlocks.values())
        # A latched kitchen never has the valve energised.
        if k.safety.latched:
            assert not out_after["valve"]

    # ---- invariants over time ----
    @invariant()
    def confirmed_high_reading_always_closes_the_valve(self):
        k = self.k
        for name, since in self.high_since.items():
            if name in k.safety.inhibits:
                continue
            if k.now_ms - since > CONFIRM_MS + PERIOD_MS:
                assert not k.valve_open and k.safety.latched, "%s high since %d, valve open" % (name, since)


    @invariant()
    def comm_loss_beyond_grace_always_closes(self):
        k = self.k
        for name, since in self.silent_since.items():
            if name in k.safety.inhibits:
                continue
            if k.now_ms - since > FAULT_BUDGET_MS + PERIOD_MS:
                assert not k.valve_open and k.safety.latched

    @invariant()
    def inhibit_never_outlives_its_maximum(self):
        k = self.k
        for name, until in k.safety.inhibits.items():
            assert until - self.inhibit_started[name] <= INHIBIT_MAX_MIN * 60000
            assert k.now_ms - self.inhibit_started[name] < INHIBIT_MAX_MIN * 60000 + PERIOD_MS
        assert len(k.safety.inhibits) <= 1

    @invariant()
    def sequence_numbers_strictly_increase(self):
        seqs = [e["seq"] for e in self.k.events]
        assert all(b == a + 1 for a, b in zip(seqs, seqs[1:]))


KitchenMachine.TestCase.settings = settings(
    settings.get_profile(settings._current_profile), stateful_step_count=60)
test_safety_invariants = KitchenMachine.TestCase
