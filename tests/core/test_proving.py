"""Gas pressure proving after a local reset: the table's promises, each phase's failure, interruptions, and a
property over any pressure history: the gas never stays open without a passed proving after a reset."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core import proving as PV
from gaslatch.core import safety as SF

from tests.core.safety_harness import PERIOD_MS, Kitchen, config_doc

PROVING = {"mode": "switch", "check_s": 3, "fill_s": 2, "watch_s": 5}
TRANSMITTER = {"mode": "transmitter", "check_s": 3, "fill_s": 2, "watch_s": 5,
               "transmitter": {"channel": "ain3", "range_kpa": 10, "low_kpa": 0.5, "fill_kpa": 1.5,
                               "max_drop_kpa": 0.25}}


def ua(kpa, range_kpa=10):
    """The loop current of a 0-range_kpa transmitter reading kpa."""
    return int(4000 + 16000 * kpa / range_kpa)


class Pipe:
    """The pipework downstream of the valve, as a pressure switch sees it: it fills while the valve is open; it
    holds (tight), leaks away (leak_after_ms after the valve closed) or fills through a passing valve."""

    def __init__(self, kitchen, tight=True, passing=False, supply=True, leak_after_ms=0):
        self.k, self.tight, self.passing, self.supply, self.leak_after_ms = kitchen, tight, passing, supply, leak_after_ms
        self.pressure = False
        self.closed_at = None

    def scan(self):
        valve_open = self.k.outputs.get("valve", False)
        if valve_open and self.supply:
            self.pressure, self.closed_at = True, None
        elif not valve_open:
            self.closed_at = self.k.now_ms if self.closed_at is None else self.closed_at
            if self.passing:
                self.pressure = True
            elif not self.tight and self.k.now_ms - self.closed_at >= self.leak_after_ms:
                self.pressure = False
        self.k.inputs[PV.IN_GAS_PRESSURE] = self.pressure
        return self.k.scan()

    def run(self, ms):
        end = self.k.now_ms + ms
        while self.k.now_ms < end:
            self.scan()


def kitchen(proving=PROVING, **sections):
    k = Kitchen(config_doc(proving=proving, valve={"type": "hold", "travel_s": 2}, **sections))
    k.run(1000)
    return k


def reset(k, pipe):
    k.inputs["reset_button"] = True
    return pipe.scan()


def proving_events(k):
    return [(e["state"], e["reason"]) for e in k.events_of("proving")]


def test_a_tight_pipework_is_proved_check_fill_watch_and_then_the_gas_stays_on():
    k = kitchen()
    pipe = Pipe(k)
    events = reset(k, pipe)
    assert [e["state"] for e in events if e["type"] == "reset"] == ["proving"]
    assert k.safety.latch == SF.PROVING and not k.valve_open
    pipe.run(3000 - PERIOD_MS)
    assert not k.valve_open, "the check keeps the valve closed"
    pipe.run(2 * PERIOD_MS)
    assert k.safety.proving.state in (PV.FILL, PV.WATCH)
    pipe.run(5500)
    assert k.safety.latch == SF.ARMED and k.valve_open
    assert [s for s, _ in proving_events(k)] == ["started", "passed"]
    moves = [e["state"] for e in k.events_of("output") if e["source"] == "valve" and e["t_ms"] > 0]
    assert moves == ["on", "off", "on"], "open to fill, closed to watch, open for good"


def test_pressure_in_the_check_is_a_passing_valve_or_trapped_gas_and_keeps_the_gas_off():
    k = kitchen()
    pipe = Pipe(k, passing=True)
    pipe.pressure = True
    reset(k, pipe)
    pipe.run(10000)
    assert k.safety.latch == SF.LATCHED and not k.valve_open
    (failed,) = [r for s, r in proving_events(k) if s == "failed"]
    assert "passing main valve" in failed and "check phase" in failed and "switch made" in failed
    assert k.outputs["fault_relay"] is False, "a failed proving drops the fault relay"
    assert "pressure proving failed" in k.safety.trip_reason
    assert not [e for e in k.events_of("output") if e["source"] == "valve" and e["state"] == "on"], \
        "the valve never opened"


def test_a_leak_in_the_watch_fails_and_only_another_reset_starts_again():
    k = kitchen()
    pipe = Pipe(k, tight=False, leak_after_ms=2000)
    reset(k, pipe)
    pipe.run(12000)
    assert k.safety.latch == SF.LATCHED and not k.valve_open
    assert "watch phase" in [r for s, r in proving_events(k) if s == "failed"][0]
    pipe.run(30000)
    assert [s for s, _ in proving_events(k)] == ["started", "failed"], "never again by itself"
    pipe.tight = True
    reset(k, pipe)
    pipe.run(12000)
    assert k.safety.latch == SF.ARMED and k.outputs["fault_relay"] is True


def test_no_pressure_after_the_fill_is_an_open_appliance_or_no_supply():
    k = kitchen()
    pipe = Pipe(k, supply=False)
    reset(k, pipe)
    pipe.run(8000)
    assert "fill phase" in [r for s, r in proving_events(k) if s == "failed"][0]
    assert k.safety.latch == SF.LATCHED and not k.valve_open


def test_a_gas_alarm_in_the_middle_ends_it_closed():
    k = kitchen()
    pipe = Pipe(k)
    reset(k, pipe)
    pipe.run(3500)
    assert k.safety.proving.state in (PV.FILL, PV.WATCH)
    k.gas["d1"] = 40.0
    pipe.run(3000)
    assert k.safety.latch == SF.GAS_LATCHED and not k.valve_open
    assert [s for s, _ in proving_events(k)] == ["started", "interrupted"]
    k.gas["d1"] = 0.0
    pipe.run(20000)
    assert k.safety.latch == SF.GAS_LATCHED, "interrupted is never resumed by itself"


def test_an_unreadable_switch_is_the_worst_reading_for_each_phase():
    k = kitchen()
    pipe = Pipe(k)
    reset(k, pipe)
    k.inputs[PV.IN_GAS_PRESSURE] = None
    k.scan()
    assert k.safety.latch == SF.LATCHED and "switch unreadable" in [r for s, r in proving_events(k) if s == "failed"][0]


def test_a_transmitter_proves_by_pressure_and_fails_on_a_drop_beyond_its_limit():
    for drop_kpa, passes in ((0.1, True), (0.4, False)):
        k = kitchen(TRANSMITTER)
        k.analog["ain3"] = ua(0.0)
        k.inputs["reset_button"] = True
        k.scan()
        while k.safety.latch == SF.PROVING:
            if k.safety.proving.state == PV.FILL:
                k.analog["ain3"] = ua(2.0)
            elif k.safety.proving.state == PV.WATCH:
                k.analog["ain3"] = ua(2.0 - drop_kpa * min(1.0, (k.now_ms - k.safety.proving.since_ms) / 4000))
            k.scan()
        assert (k.safety.latch == SF.ARMED) is passes, (drop_kpa, proving_events(k))
    k = kitchen(TRANSMITTER)
    k.analog["ain3"] = 2500  # below NAMUR NE43's 3.6 mA: a broken loop, not a pressure
    k.inputs["reset_button"] = True
    k.scan()
    assert k.safety.latch == SF.LATCHED and "transmitter unreadable" in proving_events(k)[-1][1]


def test_the_loop_current_as_pressure():
    assert PV.pressure_pa(4000, 10) == 0 and PV.pressure_pa(20000, 10) == 10000 and PV.pressure_pa(12000, 10) == 5000
    assert PV.pressure_pa(3599, 10) is None and PV.pressure_pa(21001, 10) is None and PV.pressure_pa(None, 10) is None
    assert PV.pressure_pa(True, 10) is None and PV.pressure_pa(3700, 10) == 0


def test_the_proving_table_starts_only_at_a_reset_and_opens_only_in_the_fill():
    targets = [(state, trigger, new) for state, row in PV.TRANSITIONS.items() for trigger, new in row.items()]
    assert [(s, t) for s, t, new in targets if new == PV.CHECK] == [(PV.IDLE, PV.START), (PV.FAILED, PV.START)]
    assert [(s, t) for s, t, new in targets if new == PV.PASSED] == [(PV.WATCH, PV.TIME_UP)]
    for state in (PV.CHECK, PV.FILL, PV.WATCH):
        assert PV.TRANSITIONS[state][PV.ABORT] == PV.IDLE


STEP = st.tuples(st.sampled_from([True, False, None]), st.booleans(), st.integers(1, 30))


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=40), resets=st.sets(st.integers(0, 39), max_size=6))
def test_any_pressure_history_never_leaves_the_gas_on_without_a_passed_proving_after_a_reset(steps, resets):
    """Any switch readings (made, open, unreadable), gas alarms and reset presses: whenever the valve is open
    outside a fill, the last proving event was `passed` and came after the last reset; the fill never lasts
    longer than fill_s; a failure keeps it closed until a press."""
    k = kitchen()
    fill_started = None
    for i, (pressure, gas, scans) in enumerate(steps):
        k.gas["d1"] = 40.0 if gas and i % 5 == 4 else 0.0
        for _ in range(scans):
            k.inputs[PV.IN_GAS_PRESSURE] = pressure
            if i in resets:
                k.inputs["reset_button"] = True
            k.scan()
            proving = [e for e in k.events if e["type"] in ("proving", "reset")]
            if k.valve_open:
                if k.safety.latch == SF.PROVING:
                    assert k.safety.proving.state == PV.FILL
                    fill_started = fill_started if fill_started is not None else k.now_ms
                    assert k.now_ms - fill_started <= PROVING["fill_s"] * 1000 + PERIOD_MS
                else:
                    assert k.safety.latch == SF.ARMED
                    assert proving and proving[-1]["type"] == "proving" and proving[-1]["state"] == "passed"
            else:
                fill_started = None
