"""One detector's state machine: confirmation, hysteresis, faults, comm loss, warm-up."""

from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core.detector_profile import Sample

from tests.core.safety_harness import make_sample

LOW, HIGH = 1000, 2500


def settings(**kw):
    base = dict(low_centi=LOW, high_centi=HIGH, hysteresis_centi=200, confirm_samples=2, confirm_window_ms=2000,
                comm_lost_after_ms=10000, warmup_max_ms=300000, heartbeat_frozen_after_ms=None, full_scale_centi=None)
    base.update(kw)
    return D.DetectorSettings(**base)


def healthy(det, t_ms=0, samples=C.DEFAULT_CLEAR_HOLD_SAMPLES, period_ms=500):
    for i in range(samples):
        det.update(t_ms + i * period_ms, make_sample(0.0))
    assert det.state == D.NORMAL
    return t_ms + samples * period_ms


def test_detector_starts_in_warmup_and_becomes_normal_after_the_clear_hold_samples():
    """At power-on there is no bad report to wait out: the clear hold's samples alone are needed."""
    det = D.DetectorState("d1", settings(), 0)
    assert det.state == D.WARMUP
    for i in range(1, C.DEFAULT_CLEAR_HOLD_SAMPLES):
        assert det.update(i * 500, make_sample(0.0)) is None
    tr = det.update(C.DEFAULT_CLEAR_HOLD_SAMPLES * 500, make_sample(0.0))
    assert (tr.old, tr.new, tr.trigger) == (D.WARMUP, D.NORMAL, D.HEALTHY)


def test_warmup_at_power_on_needs_the_clear_samples_after_it_but_no_hold():
    """Warming up at power-on is expected; back in warm-up in service is bad news and starts the hold."""
    det = D.DetectorState("d1", settings(), 0)
    for i in range(20):
        det.update(i * 500, make_sample(0.0, C.STATUS_WARMUP))
    last_warmup = 19 * 500
    t = last_warmup
    while det.state == D.WARMUP:
        t += 500
        det.update(t, make_sample(0.0))
    assert t - last_warmup == C.DEFAULT_CLEAR_HOLD_SAMPLES * 500
    assert det.update(t + 500, make_sample(0.0, C.STATUS_WARMUP)).new == D.WARMUP
    last_warmup = t + 500
    t = last_warmup
    while det.state == D.WARMUP:
        t += 500
        det.update(t, make_sample(0.0))
    assert t - last_warmup == C.DEFAULT_CLEAR_HOLD_S * 1000


def test_single_high_sample_is_not_an_alarm_but_two_consecutive_are():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    assert det.update(t, make_sample(30.0)) is None
    tr = det.update(t + 500, make_sample(30.0))
    assert tr.new == D.HIGH_ALARM and tr.value == 3000


def test_high_reading_held_for_the_window_confirms_even_with_slow_polls():
    det = D.DetectorState("d1", settings(confirm_samples=5, confirm_window_ms=2000), 0)
    t = healthy(det, samples=5)
    det.update(t, make_sample(30.0))
    assert det.update(t + 2000, make_sample(30.0)).new == D.HIGH_ALARM


def test_a_reading_jumping_between_gas_and_clean_every_poll_still_confirms():
    """Clean samples between gas samples do not restart the count: only a served clear hold does.
    (The old rule needed the samples in a row, so a reading alternating 30 / 5 %LEL never alarmed.)"""
    det = D.DetectorState("d1", settings(confirm_window_ms=5000), 0)
    t = healthy(det)
    assert det.update(t, make_sample(30.0)) is None
    assert det.update(t + 500, make_sample(5.0)) is None
    assert det.update(t + 1000, make_sample(30.0)).new == D.HIGH_ALARM


def test_a_lone_spike_is_forgotten_once_the_clear_hold_is_served():
    det = D.DetectorState("d1", settings(confirm_window_ms=5000), 0)
    t = healthy(det)
    det.update(t, make_sample(30.0))
    for i in range(1, 22):
        det.update(t + i * 500, make_sample(0.0))
    assert det.update(t + 11000, make_sample(30.0)) is None
    assert det.state == D.NORMAL


def test_detector_own_alarm_status_acts_without_waiting_for_confirmation():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    assert det.update(t, make_sample(3.0, C.STATUS_HIGH_ALARM)).new == D.HIGH_ALARM
    det2 = D.DetectorState("d2", settings(), 0)
    t = healthy(det2)
    assert det2.update(t, make_sample(3.0, C.STATUS_LOW_ALARM)).new == D.LOW_ALARM


def test_over_range_status_is_high_alarm_never_fault():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    tr = det.update(t, make_sample(None, C.STATUS_OVER_RANGE))
    assert tr.new == D.HIGH_ALARM and det.over_range


def test_reading_at_full_scale_is_over_range_high_alarm():
    det = D.DetectorState("d1", settings(high_centi=5000), 0)
    t = healthy(det)
    tr = det.update(t, make_sample(100.0, C.STATUS_NORMAL, full_scale_pct_lel=100.0))
    assert tr.new == D.HIGH_ALARM and "over-range" in tr.reason


def test_high_alarm_clears_only_below_hysteresis():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    det.update(t, make_sample(30.0))
    det.update(t + 500, make_sample(30.0))
    assert det.update(t + 1000, make_sample(23.5)) is None  # within 2 %LEL of 25
    assert det.update(t + 1500, make_sample(22.0)).new == D.LOW_ALARM
    assert det.update(t + 2000, make_sample(8.5)) is None  # within 2 %LEL of 10
    assert det.update(t + 2500, make_sample(7.0)) is None  # clear, but the clear hold has just begun
    last_bad = t + 2000  # 8.5 %LEL, inside the band, after gas: still bad evidence
    t += 2500
    while det.state == D.LOW_ALARM:
        t += 500
        det.update(t, make_sample(7.0))
    assert det.state == D.NORMAL and t - last_bad == C.DEFAULT_CLEAR_HOLD_S * 1000


def test_silent_detector_becomes_comm_lost_after_its_limit_with_last_error():
    det = D.DetectorState("d1", settings(comm_lost_after_ms=3000), 0)
    t = healthy(det)
    det.note_comm_error(t, "timeout from slave 1")
    assert det.update(t + 2400, None) is None
    tr = det.update(t + 2500, None)  # the last good sample was at t - 500
    assert tr.new == D.COMM_LOST and "no reply for 3 s" in tr.reason and "timeout from slave 1" in tr.reason


def test_a_detector_whose_newest_sample_is_older_than_the_link_budget_is_comm_lost_before_comm_lost_after_s():
    """Two confirming samples must fit in the 10 s alarm budget: a gap over 4.95 s is a declared fault."""
    det = D.DetectorState("d1", settings(), 0)
    assert det.settings.stale_after_ms == 4950 == D.link_budget_ms(100, 2, 2000)
    t = healthy(det) - 500
    assert det.update(t + 4900, None) is None
    tr = det.update(t + 4950, None)
    assert tr.new == D.COMM_LOST and "link degraded: no good reply for 4.95 s, longer than the 4.95 s" in tr.reason


def test_fault_recovery_needs_the_whole_clear_hold():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    assert det.update(t, make_sample(0.0, C.STATUS_FAULT)).new == D.FAULT
    for i in range(1, 4):
        det.update(t + i * 500, make_sample(0.0, C.STATUS_FAULT if i % 2 else C.STATUS_NORMAL))
    assert det.state == D.FAULT and not det.unstable
    last_fault = t + 3 * 500
    t = last_fault
    while det.state == D.FAULT:
        t += 500
        det.update(t, make_sample(0.0))
    assert det.state == D.NORMAL and t - last_fault == C.DEFAULT_CLEAR_HOLD_S * 1000


def test_a_detector_flapping_fault_and_normal_is_unstable_until_a_whole_window_passes_without_a_relapse():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    for i in range(10):
        det.update(t + i * 500, make_sample(0.0, C.STATUS_FAULT if i % 2 == 0 else C.STATUS_NORMAL))
    assert det.state == D.FAULT and det.blind and det.distrust() == D.UNSTABLE
    assert "5 times in 4.00 s" in det.unstable
    last_relapse = t + 8 * 500
    t += 9 * 500
    while det.state == D.FAULT:
        t += 500
        det.update(t, make_sample(0.0))
    assert not det.unstable and det.state == D.NORMAL
    assert t - last_relapse == C.RELAPSE_WINDOW_S * 1000


def test_calibration_and_end_of_life_are_faults():
    for status in (C.STATUS_CALIBRATION, C.STATUS_END_OF_LIFE):
        det = D.DetectorState("d1", settings(), 0)
        t = healthy(det)
        assert det.update(t, make_sample(0.0, status)).new == D.FAULT


def test_frozen_heartbeat_is_a_fault():
    det = D.DetectorState("d1", settings(heartbeat_frozen_after_ms=20000), 0)
    for i in range(C.DEFAULT_CLEAR_HOLD_SAMPLES):
        det.update(i * 500, make_sample(0.0, heartbeat=7 + i))
    assert det.state == D.NORMAL
    t = C.DEFAULT_CLEAR_HOLD_SAMPLES * 500
    while det.state == D.NORMAL:
        det.update(t, make_sample(0.0, heartbeat=99))
        t += 500
        assert t < 25000
    assert det.state == D.FAULT and "heartbeat frozen" in det.reason


def test_detector_stuck_in_warmup_becomes_a_fault():
    det = D.DetectorState("d1", settings(warmup_max_ms=60000), 0)
    t = 0
    while det.state == D.WARMUP:
        det.update(t, make_sample(0.0, C.STATUS_WARMUP))
        t += 500
        assert t <= 61000
    assert det.state == D.FAULT


def test_warmup_readings_raise_no_alarm():
    det = D.DetectorState("d1", settings(), 0)
    for i in range(10):
        det.update(i * 500, make_sample(60.0, C.STATUS_WARMUP))
    assert det.state == D.WARMUP


def test_strongly_negative_reading_is_a_drift_fault():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    assert det.update(t, make_sample(-12.0)).new == D.FAULT


def test_alarm_wins_over_a_fault_status_in_the_same_sample():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    det.update(t, make_sample(40.0, C.STATUS_FAULT))
    assert det.update(t + 500, make_sample(40.0, C.STATUS_FAULT)).new == D.HIGH_ALARM


samples = st.one_of(
    st.none(),
    st.builds(
        Sample,
        concentration_centi_pct_lel=st.one_of(st.none(), st.integers(-3000, 15000)),
        status=st.sampled_from(C.STATUSES),
        heartbeat=st.one_of(st.none(), st.integers(0, 3)),
        full_scale_centi_pct_lel=st.one_of(st.none(), st.integers(0, 10000)),
        detail=st.just(""),
    ),
)


@given(st.lists(st.tuples(st.integers(1, 20000), samples), max_size=60))
def test_every_state_change_follows_the_transition_table(steps):
    det = D.DetectorState("d1", settings(heartbeat_frozen_after_ms=20000), 0)
    t = 0
    for dt, sample in steps:
        t += dt
        before = det.state
        tr = det.update(t, sample)
        if tr is None:
            assert det.state == before
        else:
            assert (tr.old, tr.new) == (before, det.state)
            assert D.TRANSITIONS[before][tr.trigger] == tr.new
            assert tr.reason
        if sample is not None and sample.status == C.STATUS_OVER_RANGE:
            assert det.state == D.HIGH_ALARM, "over-range is never safe"


def test_replies_spread_over_silences_never_prove_recovery():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    for _ in range(20):
        t += 11000
        det.update(t - 1000, None)
        det.update(t, make_sample(0.0))
    assert det.state == D.COMM_LOST


def test_a_failed_poll_restarts_the_recovery_count():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    det.update(t, make_sample(0.0, C.STATUS_FAULT))
    for i in range(10):
        det.update(t + 500 + i * 500, make_sample(0.0))
        det.note_comm_error(t + 500 + i * 500, "timeout")
    assert det.state == D.FAULT


def test_unknown_status_or_unreadable_value_is_a_fault_never_health():
    for sample in (Sample(0, "bogus"), Sample(0, None), Sample("12", C.STATUS_NORMAL), Sample(1.5, C.STATUS_NORMAL),
                   Sample(0, C.STATUS_NORMAL, heartbeat="x")):
        det = D.DetectorState("d1", settings(), 0)
        t = healthy(det)
        tr = det.update(t, sample)
        assert tr is not None and tr.new == D.FAULT, sample


def test_high_reading_with_an_unknown_status_still_raises_the_alarm():
    det = D.DetectorState("d1", settings(), 0)
    t = healthy(det)
    det.update(t, Sample(3000, "bogus"))
    assert det.update(t + 500, Sample(3000, "bogus")).new == D.HIGH_ALARM
