"""The non-blocking bus master, driven scan by scan against fake detectors on a timed wire."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import modbus_rtu as rtu
from gaslatch.core.modbus_master import BusMaster

STAT_KEYS = (
    "requests",
    "responses_ok",
    "timeouts",
    "crc_errors",
    "frame_errors",
    "exceptions",
    "retries",
    "unexpected_bytes",
    "last_ok_ms",
    "last_ok_age_ms",
)


def register_value(slave, address):
    return (slave * 1000 + address) & 0xFFFF


class FakeWire:
    """Detectors on an RS-485 line with wire timing: each request is answered after its own wire time,
    the device's turnaround and the reply's wire time; bytes reach the master at the first scan after.

    actions: per slave, a list consumed one per request: 'ok', 'silent', 'flip', 'truncate', 'garbage',
    'wrong_address', 'exception', 'extra', ('late', ms), ('split', n_parts). Dead slaves never answer.
    """

    def __init__(self, master, baud, bits=10, turnaround_ms=2, dead=(), actions=None):
        self.master = master
        self.char_us = rtu.char_time_us(baud, bits)
        self.turnaround_ms = turnaround_ms
        self.dead = set(dead)
        self.actions = actions or {}
        self.pending = []  # (arrival_ms, bytes)
        self.tx_log = []  # (t_ms, request, tx_end_ms)
        self.rx_log = []  # t_ms of each delivery
        self.results = []
        self.now_ms = 0
        self.next_ms = 0
        self.writes = []

    def wire_ms(self, n_bytes):
        return (n_bytes * self.char_us + 999) // 1000

    def scan(self, now_ms):
        self.now_ms = now_ms
        due = [item for item in self.pending if item[0] <= now_ms]
        self.pending = [item for item in self.pending if item[0] > now_ms]
        rx = b"".join(data for _, data in sorted(due, key=lambda item: item[0]))
        if rx:
            self.rx_log.append(now_ms)
        tx = self.master.step(now_ms, rx)
        assert isinstance(tx, bytes)
        if tx:
            tx_end = now_ms + self.wire_ms(len(tx))
            # The log keeps the exact end (µs precision) to check the silent interval against.
            self.tx_log.append((now_ms, tx, now_ms + len(tx) * self.char_us / 1000))
            self.answer(tx, tx_end)
        self.results.extend(self.master.pop_results())
        return tx

    def run(self, until_ms, period_ms=1, start_ms=None):
        t = self.next_ms if start_ms is None else start_ms
        while t <= until_ms:
            self.scan(t)
            t += period_ms
        self.next_ms = t

    def answer(self, request, tx_end_ms):
        slave, function, address, item = rtu.parse_request(request)
        if slave in self.dead:
            return
        queue = self.actions.get(slave, [])
        action = queue.pop(0) if queue else "ok"
        if function in rtu.READ_FUNCTIONS:
            reply = rtu.build_read_response(slave, function, [register_value(slave, address + i) for i in range(item)])
        else:
            self.writes.append((slave, address, item))
            reply = rtu.build_write_response(request)
        start = tx_end_ms + self.turnaround_ms
        parts = 1
        if action == "silent":
            return
        if action == "flip":
            reply = bytes((reply[0], reply[1], reply[2] ^ 0x01)) + reply[3:]
        elif action == "truncate":
            reply = reply[:-3]
        elif action == "garbage":
            reply = b"\xff\x00\x13" + reply
        elif action == "wrong_address":
            reply = (
                rtu.build_read_response(slave + 1, function, [0] * item) if function in rtu.READ_FUNCTIONS else reply
            )
        elif action == "exception":
            reply = rtu.build_exception_response(slave, function, rtu.ILLEGAL_DATA_ADDRESS)
        elif action == "extra":
            reply = reply + b"\x00\x00"
        elif isinstance(action, tuple) and action[0] == "late":
            start += action[1]
        elif isinstance(action, tuple) and action[0] == "split":
            parts = action[1]
        self.deliver(reply, start, parts)

    def deliver(self, reply, start_ms, parts):
        size = max(1, (len(reply) + parts - 1) // parts)
        for offset in range(0, len(reply), size):
            chunk = reply[offset : offset + size]
            self.pending.append((start_ms + self.wire_ms(offset + len(chunk)), chunk))

    def assert_bus_quiet_before_every_request(self, silent_ms):
        """silent_ms: the 3.5-character interval in (fractional) ms."""
        previous_end = None
        for t, _, tx_end in self.tx_log:
            if previous_end is not None:
                assert t - previous_end >= silent_ms, "request at %d ms only %d ms after the last one ended" % (
                    t,
                    t - previous_end,
                )
            for r in self.rx_log:
                if r <= t:
                    assert t - r >= silent_ms, "request at %d ms only %d ms after bytes received" % (t, t - r)
            previous_end = tx_end


def test_poll_reads_each_block_back_to_back_and_reports_one_result():
    master = BusMaster("bus1", 9600)
    master.add_poll(3, [(3, 0, 10), (4, 100, 2)], 500, "gas-3")
    wire = FakeWire(master, 9600)
    wire.run(200)
    assert len(wire.results) == 1
    result = wire.results[0]
    assert result.ok and result.error is None
    assert result.tag == "gas-3" and result.slave == 3 and result.attempts == 2
    assert result.blocks == [
        [register_value(3, a) for a in range(10)],
        [register_value(3, 100), register_value(3, 101)],
    ]
    assert [tx[1] for tx in wire.tx_log] == [
        rtu.read_registers_request(3, 3, 0, 10),
        rtu.read_registers_request(3, 4, 100, 2),
    ]
    stats = master.stats()
    assert (stats["requests"], stats["responses_ok"], stats["retries"]) == (2, 2, 0)
    assert master.state == "idle"


def test_first_poll_goes_out_on_the_first_scan_and_the_step_returns_no_bytes_while_waiting():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 1)], 500, "d1")
    assert master.step(0, b"") == rtu.read_registers_request(1, 3, 0, 1)
    assert master.step(1, b"") == b""
    assert master.state == "await_reply"


def test_reply_split_over_several_scans_is_collected():
    master = BusMaster("bus1", 9600)
    master.add_poll(2, [(3, 0, 10)], 500, "d2")
    wire = FakeWire(master, 9600, actions={2: [("split", 5)]})
    wire.run(100)
    assert len(wire.rx_log) >= 3
    assert [r.ok for r in wire.results] == [True]


def test_poll_is_repeated_at_its_interval_from_the_last_start():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 10)], 500, "d1")
    wire = FakeWire(master, 9600)
    wire.run(2100, period_ms=10)
    assert [t for t, _, _ in wire.tx_log] == [0, 500, 1000, 1500, 2000]
    assert len(wire.results) == 5 and all(r.ok for r in wire.results)


def test_silent_slave_times_out_after_every_retry_within_the_bound():
    master = BusMaster("bus1", 9600, response_timeout_ms=300, retries=2)
    master.add_poll(7, [(3, 0, 10), (3, 20, 1)], 1000000, "dead")
    wire = FakeWire(master, 9600, dead=[7])
    wire.run(3000)
    assert len(wire.results) == 1
    result = wire.results[0]
    assert not result.ok and result.error == "timeout" and result.attempts == 3
    assert result.blocks == []
    assert "slave 7" in result.detail and "300 ms" in result.detail
    tx_ms = wire.wire_ms(8)
    starts = [t for t, _, _ in wire.tx_log]
    assert starts == [0, tx_ms + 300, 2 * (tx_ms + 300)]
    assert result.t_ms - starts[0] <= 3 * (tx_ms + 300)
    stats = master.slave_stats(7)
    assert (stats["requests"], stats["timeouts"], stats["retries"], stats["responses_ok"]) == (3, 3, 2, 0)
    assert stats["last_ok_ms"] is None and stats["last_ok_age_ms"] is None


def test_crc_error_is_retried_and_counted():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 10)], 1000000, "d1")
    wire = FakeWire(master, 9600, actions={1: ["flip"]})
    wire.run(500)
    (result,) = wire.results
    assert result.ok and result.attempts == 2
    assert "2 requests" in result.detail
    stats = master.stats()
    assert (stats["crc_errors"], stats["retries"], stats["responses_ok"], stats["frame_errors"]) == (1, 1, 1, 0)


def test_failing_every_attempt_reports_the_last_frame_error_with_installer_advice():
    master = BusMaster("bus1", 9600, retries=1)
    master.add_poll(1, [(3, 0, 10)], 1000000, "d1")
    wire = FakeWire(master, 9600, actions={1: ["flip", "flip"]})
    wire.run(500)
    (result,) = wire.results
    assert not result.ok and result.error == "crc" and result.attempts == 2
    assert result.detail == "CRC error from slave 1: check termination and cable shield"


def test_exception_reply_is_reported_and_not_retried():
    master = BusMaster("bus1", 9600, retries=3)
    master.add_poll(4, [(3, 0, 10)], 1000000, "d4")
    wire = FakeWire(master, 9600, actions={4: ["exception"]})
    wire.run(1000)
    (result,) = wire.results
    assert not result.ok and result.error == "exception"
    assert result.exception_code == rtu.ILLEGAL_DATA_ADDRESS and "illegal data address" in result.detail
    assert result.attempts == 1 and len(wire.tx_log) == 1
    stats = master.stats()
    assert (stats["exceptions"], stats["retries"], stats["frame_errors"]) == (1, 0, 0)


def test_reply_from_the_wrong_address_is_a_frame_error_and_retried():
    master = BusMaster("bus1", 9600)
    master.add_poll(5, [(3, 0, 10)], 1000000, "d5")
    wire = FakeWire(master, 9600, actions={5: ["wrong_address"]})
    wire.run(500)
    (result,) = wire.results
    assert result.ok and result.attempts == 2
    assert master.stats()["frame_errors"] == 1 and master.slave_stats(5)["frame_errors"] == 1


def test_garbage_before_a_reply_is_a_frame_error_and_the_rest_counts_as_unexpected():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 10)], 1000000, "d1")
    wire = FakeWire(master, 9600, actions={1: ["garbage"]})
    wire.run(500)
    (result,) = wire.results
    assert result.ok and result.attempts == 2
    stats = master.stats()
    assert stats["crc_errors"] + stats["frame_errors"] == 1
    assert stats["unexpected_bytes"] == 3


def test_partial_reply_at_the_deadline_is_reported_truncated_not_timeout():
    master = BusMaster("bus1", 9600, retries=0)
    master.add_poll(1, [(3, 0, 10)], 1000000, "d1")
    wire = FakeWire(master, 9600, actions={1: ["truncate"]})
    wire.run(500)
    (result,) = wire.results
    assert result.error == "truncated" and "22 of 25" in result.detail
    assert master.stats()["timeouts"] == 0 and master.stats()["frame_errors"] == 1


def test_surplus_bytes_after_a_good_reply_are_counted_unexpected():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 10)], 1000000, "d1")
    wire = FakeWire(master, 9600, actions={1: ["extra"]})
    wire.run(500)
    assert [r.ok for r in wire.results] == [True]
    assert master.stats()["unexpected_bytes"] == 2
    assert master.slave_stats(1)["unexpected_bytes"] == 2


def test_bytes_while_idle_are_counted_discarded_and_hold_off_the_next_request():
    master = BusMaster("bus1", 1200)
    assert master.silent_ms == 30
    master.add_poll(1, [(3, 0, 1)], 1000, "d1")
    wire = FakeWire(master, 1200)
    wire.run(989)
    assert len(wire.tx_log) == 1
    wire.pending.append((990, b"\x55\xaa\x55"))
    wire.run(1100)
    assert master.stats()["unexpected_bytes"] == 3
    assert [t for t, _, _ in wire.tx_log] == [0, 1020]
    assert all(r.ok for r in wire.results)


def test_late_reply_arriving_while_the_next_request_is_on_the_wire_is_not_taken_as_its_answer():
    master = BusMaster("bus1", 1200, response_timeout_ms=20, retries=0)
    write = rtu.write_register_request(1, 0, 0)
    master.submit(1, write, "first")
    master.submit(1, write, "second")
    wire = FakeWire(master, 1200)
    wire.run(400)
    assert [(r.tag, r.error) for r in wire.results] == [("first", "timeout"), ("second", "timeout")]
    assert master.stats()["unexpected_bytes"] >= 8
    wire.assert_bus_quiet_before_every_request(master.silent_us / 1000)


def test_no_request_leaves_before_the_bus_has_been_quiet_for_the_silent_interval():
    master = BusMaster("bus1", 1200)
    master.add_poll(1, [(3, 0, 1), (3, 10, 2)], 50, "d1")
    master.add_poll(2, [(4, 0, 3)], 50, "d2")
    wire = FakeWire(master, 1200, turnaround_ms=0, actions={2: ["flip", "extra"]})
    wire.run(3000)
    assert len(wire.tx_log) > 10
    wire.assert_bus_quiet_before_every_request(master.silent_us / 1000)
    gaps = [t - previous_end for (t, _, _), (_, _, previous_end) in zip(wire.tx_log[1:], wire.tx_log)]
    assert min(gaps) >= master.silent_us / 1000


def test_round_robin_keeps_serving_live_slaves_while_one_is_dead():
    master = BusMaster("bus1", 9600)
    for slave in (1, 2, 3):
        master.add_poll(slave, [(3, 0, 10)], 100, "d%d" % slave)
    wire = FakeWire(master, 9600, dead=[1])
    wire.run(10000, period_ms=10)
    order = [r.slave for r in wire.results]
    assert len(order) >= 24
    for i in range(len(order) - 2):
        assert sorted(order[i : i + 3]) == [1, 2, 3]
    assert all(r.ok for r in wire.results if r.slave != 1)
    assert all(r.error == "timeout" for r in wire.results if r.slave == 1)


def test_slow_polls_of_one_slave_do_not_delay_another_beyond_one_round():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 10)], 500, "d1")
    master.add_poll(2, [(3, 0, 10)], 500, "d2")
    wire = FakeWire(master, 9600, dead=[1])
    wire.run(6000, period_ms=10)
    starts_of_2 = [t for t, tx, _ in wire.tx_log if tx[0] == 2]
    worst_gap = max(b - a for a, b in zip(starts_of_2, starts_of_2[1:]))
    one_dead_poll_ms = 3 * (wire.wire_ms(8) + 300) + 10 * 3
    assert worst_gap <= one_dead_poll_ms + 100


def test_submitted_write_is_served_before_the_next_due_poll():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 10)], 200, "d1")
    wire = FakeWire(master, 9600)
    wire.run(199)
    write = rtu.write_register_request(1, 0x0002, 250)
    master.submit(1, write, "set-low-alarm")
    wire.run(400)
    assert wire.tx_log[1][0] == 200
    assert wire.tx_log[1][1] == write
    assert [r.tag for r in wire.results] == ["d1", "set-low-alarm", "d1"]
    submit_result = wire.results[1]
    assert submit_result.ok and submit_result.blocks == (0x0002, 250)
    assert wire.writes == [(1, 2, 250)]


def test_submitted_read_gives_its_registers():
    master = BusMaster("bus1", 19200)
    master.submit(9, rtu.read_registers_request(9, 4, 7, 2), "probe")
    wire = FakeWire(master, 19200)
    wire.run(100)
    (result,) = wire.results
    assert result.ok and result.blocks == [register_value(9, 7), register_value(9, 8)]


def test_submit_refuses_frames_it_cannot_wait_for():
    master = BusMaster("bus1", 9600)
    with pytest.raises(ValueError, match="slave"):
        master.submit(2, rtu.write_register_request(1, 0, 1), "x")
    with pytest.raises(ValueError, match="not a valid frame"):
        master.submit(1, rtu.write_register_request(1, 0, 1)[:-1] + b"\x00", "x")
    broadcast = b"\x00\x06\x00\x01\x00\x02"
    crc = rtu.crc16(broadcast)
    with pytest.raises(ValueError, match="broadcast"):
        master.submit(0, broadcast + bytes((crc & 0xFF, crc >> 8)), "x")


def test_stats_report_last_good_reply_and_its_age_at_the_latest_step():
    master = BusMaster("bus1", 9600)
    master.add_poll(1, [(3, 0, 10)], 1000000, "d1")
    master.add_poll(2, [(3, 0, 10)], 1000000, "d2")
    wire = FakeWire(master, 9600, dead=[2])
    wire.run(2000, period_ms=10)
    ok_at = wire.results[0].t_ms
    stats = master.slave_stats(1)
    assert stats["last_ok_ms"] == ok_at and stats["last_ok_age_ms"] == 2000 - ok_at
    assert master.slave_stats(2)["last_ok_ms"] is None
    assert master.stats()["last_ok_ms"] == ok_at
    assert sorted(master.stats()) == sorted(STAT_KEYS)
    assert sorted(master.slave_stats(1)) == sorted(STAT_KEYS)


def test_stats_of_an_unknown_slave_are_refused():
    master = BusMaster("bus1", 9600)
    with pytest.raises(ValueError, match="slave 9"):
        master.slave_stats(9)


@pytest.mark.parametrize(
    "kwargs",
    [{"baud": 0}, {"bits_per_char": 9}, {"response_timeout_ms": 0}, {"retries": -1}, {"retries": 4}],
)
def test_bus_refuses_nonsense_settings(kwargs):
    args = {"baud": 9600}
    args.update(kwargs)
    with pytest.raises(ValueError):
        BusMaster("bus1", **args)


def test_add_poll_refuses_bad_reads_and_intervals():
    master = BusMaster("bus1", 9600)
    with pytest.raises(ValueError):
        master.add_poll(1, [], 500, "d1")
    with pytest.raises(ValueError):
        master.add_poll(1, [(6, 0, 1)], 500, "d1")
    with pytest.raises(ValueError):
        master.add_poll(1, [(3, 0, 1)], 0, "d1")
    with pytest.raises(ValueError):
        master.add_poll(0, [(3, 0, 1)], 500, "d1")


# --- property: whatever the wire does, the master settles ----------------------------------------------

actions = st.one_of(
    st.sampled_from(["ok", "silent", "flip", "truncate", "garbage", "wrong_address", "exception", "extra"]),
    st.tuples(st.just("late"), st.integers(0, 600)),
    st.tuples(st.just("split"), st.integers(2, 6)),
)
reads = st.lists(
    st.tuples(st.sampled_from(rtu.READ_FUNCTIONS), st.integers(0, 200), st.integers(1, 20)), min_size=1, max_size=3
)


@st.composite
def bus_scenarios(draw):
    polls = draw(st.lists(st.tuples(st.integers(1, 5), reads), min_size=1, max_size=4))
    submits = draw(
        st.lists(
            st.tuples(st.integers(1, 5), st.integers(0, 100), st.integers(0, 0xFFFF), st.integers(0, 1500)), max_size=2
        )
    )
    return {
        "baud": draw(st.sampled_from([1200, 9600, 19200, 115200])),
        "timeout_ms": draw(st.integers(20, 300)),
        "retries": draw(st.integers(0, 3)),
        "periods": draw(st.lists(st.integers(1, 40), min_size=1, max_size=5)),
        "polls": polls,
        "submits": submits,
        "dead": draw(st.sets(st.integers(1, 5), max_size=2)),
        "actions": {slave: draw(st.lists(actions, max_size=12)) for slave in range(1, 6)},
    }


@given(bus_scenarios())
def test_master_never_raises_returns_to_idle_and_yields_exactly_one_result_per_poll(scenario):
    master = BusMaster(
        "bus1", scenario["baud"], response_timeout_ms=scenario["timeout_ms"], retries=scenario["retries"]
    )
    tags = []
    for index, (slave, poll_reads) in enumerate(scenario["polls"]):
        tag = "poll%d" % index
        master.add_poll(slave, poll_reads, 10**9, tag)
        tags.append(tag)
    wire = FakeWire(master, scenario["baud"], dead=scenario["dead"], actions=scenario["actions"])
    submits = sorted(scenario["submits"], key=lambda s: s[3])
    t = 0
    scan = 0
    limit_ms = 200000
    while t < limit_ms:
        while submits and submits[0][3] <= t:
            slave, address, value, _ = submits.pop(0)
            tag = "submit%d" % len(tags)
            master.submit(slave, rtu.write_register_request(slave, address, value), tag)
            tags.append(tag)
        wire.scan(t)
        if not submits and len(wire.results) == len(tags) and master.state == "idle" and not wire.pending:
            break
        t += scenario["periods"][scan % len(scenario["periods"])]
        scan += 1
    assert t < limit_ms, "master did not settle"
    wire.run(t + 2000, period_ms=7, start_ms=t + 7)
    assert master.state == "idle"
    assert sorted(r.tag for r in wire.results) == sorted(tags)
    for result in wire.results:
        assert result.ok == (result.error is None)
        assert result.error in (None, "timeout") or result.error in rtu.FRAME_ERROR_KINDS
        assert 1 <= result.attempts
        assert isinstance(result.detail, str) and result.detail
    stats = master.stats()
    outcomes = sum(stats[k] for k in ("responses_ok", "timeouts", "crc_errors", "frame_errors", "exceptions"))
    assert stats["requests"] == outcomes == len(wire.tx_log) == sum(r.attempts for r in wire.results)
    slaves = {poll[0] for poll in scenario["polls"]} | {submit[0] for submit in scenario["submits"]}
    for key in ("requests", "responses_ok", "timeouts", "crc_errors", "frame_errors", "exceptions", "retries"):
        assert stats[key] == sum(master.slave_stats(slave)[key] for slave in slaves)
    wire.assert_bus_quiet_before_every_request(rtu.silent_interval_us(scenario["baud"], 10) / 1000)


def run_event_driven(master, baud, turnaround_us, until_us, bits=10):
    """Services the master exactly when it asks (next_wakeup_us) or when a reply's last byte lands,
    as the unit's bus pump does; returns the request send times (µs)."""
    char_us = rtu.char_time_us(baud, bits)
    now_us = 0
    pending = None  # (arrival_us, reply)
    sent = []
    while now_us < until_us:
        rx = b""
        if pending is not None and pending[0] <= now_us:
            rx, pending = pending[1], None
        tx = master.service(now_us, rx)
        if tx:
            sent.append(now_us)
            slave, function, address, count = rtu.parse_request(tx)
            reply = rtu.build_read_response(slave, function, [register_value(slave, address + i) for i in range(count)])
            pending = (now_us + (len(tx) + len(reply)) * char_us + turnaround_us, reply)
        wake = master.next_wakeup_us()
        candidates = [t for t in (wake, pending[0] if pending else None) if t is not None]
        now_us = max(now_us + 1, min(candidates)) if candidates else until_us
    return sent


def test_serviced_when_it_asks_the_master_keeps_a_9600_baud_bus_at_its_wire_limit():
    master = BusMaster("bus1", 9600)
    for slave in range(1, 17):
        master.add_poll(slave, [(3, 0, 10)], 1, "d%d" % slave)
    turnaround_us = 1000
    sent = run_event_driven(master, 9600, turnaround_us, 10_000_000)
    char_us = rtu.char_time_us(9600, 10)
    # Request 8 bytes, reply 25 bytes, the slave's turnaround, then the master's 3.5-character silence.
    wire_limit_per_s = 1e6 / ((8 + 25) * char_us + turnaround_us + master.silent_us)
    achieved_per_s = (len(sent) - 1) * 1e6 / (sent[-1] - sent[0])
    assert achieved_per_s >= 0.999 * wire_limit_per_s
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert min(gaps) >= (8 + 25) * char_us + turnaround_us + master.silent_us


def test_next_wakeup_is_the_reply_deadline_while_waiting_and_the_due_poll_when_idle():
    master = BusMaster("bus1", 9600, response_timeout_ms=100)
    master.add_poll(1, [(3, 0, 1)], 500, "d1")
    assert master.next_wakeup_us() == 0
    tx = master.service(0, b"")
    assert tx and master.awaiting_reply
    assert master.next_wakeup_us() == len(tx) * master.char_time_us + 100_000
    reply = rtu.build_read_response(1, 3, [7])
    master.service(20_000, reply)
    assert not master.awaiting_reply
    assert master.next_wakeup_us() == 500_000
    assert [r.ok for r in master.pop_results()] == [True]


def test_a_time_earlier_than_the_last_counts_as_the_last():
    master = BusMaster("bus1", 9600, response_timeout_ms=100, retries=0)
    master.add_poll(1, [(3, 0, 1)], 500, "d1")
    tx = master.service(5_000, b"")
    assert tx
    master.service(1_000, b"")  # a scan stamped with the whole ms before the pump's last service
    assert master.awaiting_reply
    master.service(1_000_000, b"")
    assert [r.error for r in master.pop_results()] == ["timeout"]
