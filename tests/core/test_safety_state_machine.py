"""Hypothesis drives the kitchen at random and checks the safety invariants after every step.

Gas levels, device statuses, silences, buttons, interlocks, inhibits and remote closes arrive in
any order and at any time; the rules below must hold whatever happens. Detectors also behave as real
hardware does: statuses that flap every few polls, replies lost in any pattern, alarm statuses
without a reading, readings that jump, drops back into warm-up, while reset is pressed at any moment.
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D

from tests.core.safety_harness import PERIOD_MS, Kitchen, config_doc

NAMES = ("d1", "d2", "d3")
CONFIRM_MS = C.DEFAULT_CONFIRM_WINDOW_MS
HOLD_MS = C.DEFAULT_CLEAR_HOLD_S * 1000
LOW = D.pct_to_centi(C.DEFAULT_LOW_ALARM_PCT_LEL)
HIGH = D.pct_to_centi(C.DEFAULT_HIGH_ALARM_PCT_LEL)
CLEAN_BELOW = LOW - D.pct_to_centi(C.DEFAULT_HYSTERESIS_PCT_LEL)
ALARM_STATUSES = (C.STATUS_PRE_ALARM, C.STATUS_LOW_ALARM, C.STATUS_HIGH_ALARM, C.STATUS_OVER_RANGE)
PCTS = [None, -12.0, 0.0, 2.0, 8.0, 9.9, 10.0, 15.0, 24.9, 25.0, 40.0, 99.0, 100.0, 150.0]

# One step of a detector's behaviour: (reading %LEL or None, status, answers?, for how many scans).
behaviour_step = st.tuples(
    st.sampled_from(PCTS),
    st.one_of(st.just(C.STATUS_NORMAL), st.sampled_from(C.STATUSES)),
    st.booleans(),
    st.integers(1, 12),
)
# Replies lost in a pattern (True = answered), for a reading that does not change: a loose wire.
loss_pattern = st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=6)
# A link that loses most replies: one answered poll in every `every` scans (0.2 s to 12 s apart), so the gaps
# between good samples straddle the link budget (~5 s) and the 10 s comm-loss limit.
sparse_pattern = st.integers(2, 120).map(lambda every: [(True, 1), (False, every - 1)])
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
        self.scripts = {}  # detector -> its behaviour, one (pct, status, answers) per scan, repeated
        self.scan_index = 0
        self.leak_since = {}  # detector -> ms gas at or above high has been at the sensor, seen or not
        self.last_bad = {}  # detector -> ms of its latest definitely bad sample (oracle, not the code's own)
        self.last_alarm_report = {}  # detector -> ms of its latest alarm report (status or reading)
        self.latest_bad = {}  # detector -> whether its latest delivered sample was definitely bad
        self.evidence = {}  # detector -> "bad" / "clean" after its latest definite sample
        self.relapses = {}  # detector -> ms of each definite clean -> bad flip
        self.blind_since = {}  # detector -> ms since it has been blind without a break

    # ---- stimuli ----
    @rule(name=st.sampled_from(NAMES), pct=st.sampled_from([0.0, 5.0, 9.9, 10.0, 15.0, 24.9, 25.0, 40.0, 99.0, 100.0, 150.0]))
    def set_gas(self, name, pct):
        self.scripts.pop(name, None)
        self.k.gas[name] = pct

    @rule(name=st.sampled_from(NAMES), status=st.sampled_from(C.STATUSES))
    def set_status(self, name, status):
        self.scripts.pop(name, None)
        self.k.status[name] = status

    @rule(name=st.sampled_from(NAMES), silent=st.booleans())
    def set_silent(self, name, silent):
        self.scripts.pop(name, None)
        if silent:
            self.k.silent.add(name)
        else:
            self.k.silent.discard(name)

    @rule(name=st.sampled_from(NAMES), steps=st.lists(behaviour_step, min_size=2, max_size=6))
    def behave(self, name, steps):
        """Flapping statuses, jumping readings, alarms without readings, intermittent replies, warm-up."""
        self.scripts[name] = [(pct, status, answers) for pct, status, answers, scans in steps for _ in range(scans)]

    @rule(name=st.sampled_from(NAMES), pct=st.sampled_from([0.0, 25.0, 40.0, 99.0]),
          pattern=st.one_of(loss_pattern, sparse_pattern))
    def lossy_link(self, name, pct, pattern):
        """A steady reading (a leak or clean air) behind a link that loses replies in any pattern, kept for
        the whole alarm budget at least (a leak it hides must be confirmed or declared by then)."""
        self.scripts[name] = [(pct, C.STATUS_NORMAL, answers) for answers, scans in pattern for _ in range(scans)]
        self.wait(C.ALARM_LATENCY_BUDGET_MS + PERIOD_MS)

    @rule(name=st.sampled_from(NAMES), status=st.sampled_from(ALARM_STATUSES + (C.STATUS_FAULT, C.STATUS_WARMUP)),
          every=st.integers(1, 6))
    def flap(self, name, status, every):
        """The independent bench's case: a status alternating with normal every few polls, little gas."""
        self.scripts[name] = [(2.0, status, True)] * every + [(2.0, C.STATUS_NORMAL, True)] * every

    @rule()
    def all_clear(self):
        """Everything put right at once (clean air, every detector healthy and answering, interlocks clear, fan
        proven), so that what follows meets a kitchen a reset could open: one misbehaving detector is enough."""
        self.scripts.clear()
        for name in NAMES:
            self.k.gas[name] = 0.0
            self.k.status[name] = C.STATUS_NORMAL
            self.k.silent.discard(name)
        self.k.inputs.update({"fire_input": False, "estop_input": False, "fan_proven": True})

    @rule(line=st.sampled_from(["fire_input", "estop_input", "fan_proven"]), level=st.booleans())
    def set_input(self, line, level):
        self.k.inputs[line] = level

    @rule(line=st.sampled_from(["reset_button", "silence_button"]))
    def press(self, line):
        self.k.inputs[line] = True
        self._scan()

    @rule(gaps=st.lists(st.integers(1, 7), min_size=1, max_size=8))
    def pump_reset(self, gaps):
        """An operator pressing reset again and again, released for a few scans between presses."""
        for gap in gaps:
            self.press("reset_button")
            for _ in range(gap):
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
        self._play_scripts()
        for name in NAMES:
            responding = name not in k.silent
            warm = k.status[name] == C.STATUS_WARMUP
            if responding and not warm and k.gas[name] is not None and D.pct_to_centi(k.gas[name]) >= HIGH:
                self.high_since.setdefault(name, now)
            else:
                self.high_since.pop(name, None)
            if responding:
                self.silent_since.pop(name, None)
            else:
                self.silent_since.setdefault(name, now)
        sampled = [name for name in NAMES if name not in k.silent]
        self._track_evidence(now, sampled)
        k.scan()
        _, before, after, out_before, out_after, events = k.scan_log[-1]
        self._check_scan(now, before, after, out_before, out_after, events)
        self._check_hostile(now, out_before, out_after, events)
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

    def _play_scripts(self):
        k = self.k
        for name, script in sorted(self.scripts.items()):
            pct, status, answers = script[self.scan_index % len(script)]
            k.gas[name] = pct
            k.status[name] = status
            if answers:
                k.silent.discard(name)
            else:
                k.silent.add(name)
        self.scan_index += 1

    def _track_evidence(self, now, sampled):
        """The oracle: what each detector reported, judged without the code under test."""
        k = self.k
        for name in NAMES:
            pct = k.gas[name]
            centi = None if pct is None else D.pct_to_centi(pct)
            status = k.status[name]
            if centi is not None and centi >= HIGH and status != C.STATUS_WARMUP:
                self.leak_since.setdefault(name, now)
            else:
                self.leak_since.pop(name, None)
            if name not in sampled:
                continue
            alarm = status in ALARM_STATUSES or (centi is not None and centi >= LOW)
            bad = alarm or status != C.STATUS_NORMAL or (centi is not None and centi <= -10 * C.CENTI)
            clean = not bad and (centi is None or centi < CLEAN_BELOW)
            if alarm:
                self.last_alarm_report[name] = now
            # A warm-up report before the detector was ever in service starts no clear hold (docs/safety.md):
            # it is the sensor heating after power-on, not evidence against a detector that was watching
            # (it still blocks a reset: latest_bad below).
            power_on_warmup = status == C.STATUS_WARMUP and not k.detectors[name].has_monitored
            if bad and not power_on_warmup:
                self.last_bad[name] = now
                if self.evidence.get(name) == "clean":
                    self.relapses.setdefault(name, []).append(now)
                self.evidence[name] = "bad"
            elif clean:
                self.evidence[name] = "clean"
            self.latest_bad[name] = bad

    def _check_hostile(self, now, out_before, out_after, events):
        k = self.k
        # The valve is never commanded open within the clear hold after any alarm report.
        if out_after["valve"] and not out_before.get("valve"):
            for name, at in self.last_alarm_report.items():
                assert now - at >= HOLD_MS, "valve opened %d ms after an alarm report from %s" % (now - at, name)
        # A reset is never accepted while any detector's latest evidence is bad or inside its hold.
        if any(e["type"] == "reset" for e in events):
            for name in NAMES:
                assert not self.latest_bad.get(name), "reset accepted on %s's bad report" % name
                if name in self.last_bad:
                    assert now - self.last_bad[name] >= HOLD_MS, "reset %d ms after %s's bad report" % (
                        now - self.last_bad[name], name)
        for name in NAMES:
            det = k.detectors[name]
            # Whatever makes a detector blind (fault, comm lost, unstable, degraded link, warm-up in service)
            # closes the valve after the fault trip delay, and drops the fault relay at once.
            if det.blind:
                self.blind_since.setdefault(name, now)
                assert not out_after["fault_relay"]
            else:
                self.blind_since.pop(name, None)
            if (name not in k.safety.inhibits and name in self.blind_since
                    and now - self.blind_since[name] > C.DEFAULT_FAULT_TRIP_AFTER_S * 1000 + PERIOD_MS):
                assert k.safety.latched and not out_after["valve"], "%s blind since %d, valve open" % (
                    name, self.blind_since[name])
            # A leak is confirmed within the alarm budget, or the detector is a declared fault by then.
            since = self.leak_since.get(name)
            if since is not None and now - since >= C.ALARM_LATENCY_BUDGET_MS:
                assert det.state == D.HIGH_ALARM or det.blind, "%s: leak for %d ms, detector %s and trusted" % (
                    name, now - since, det.state)
            # A detector that keeps relapsing is unstable: the fault relay is dropped.
            recent = [t for t in self.relapses.get(name, []) if now - t < C.RELAPSE_WINDOW_S * 1000]
            if len(recent) >= C.RELAPSE_LIMIT:
                assert det.unstable and not out_after["fault_relay"], "%s relapsed %d times, still trusted" % (
                    name, len(recent))

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
