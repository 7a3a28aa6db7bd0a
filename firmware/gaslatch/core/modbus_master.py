"""Non-blocking Modbus RTU master for one RS-485 bus: poll schedule, one transaction at a time, statistics.

The scan loop advances it with the bytes received, once per scan and, where the platform can, whenever
bytes arrive or next_wakeup_us() is reached; it never waits and never touches the port. Time is kept in
microseconds so the inter-frame silence is kept exactly and a 9600-baud bus runs near its wire limit.
"""

from gaslatch.core import constants
from gaslatch.core import modbus_rtu

# Transaction states. Transitions, all made inside step():
#   idle        -> wait_quiet   a submit is queued or a poll is due
#   wait_quiet  -> await_reply  the bus has been quiet for the silent interval: the request is returned
#   await_reply -> wait_quiet   good read and more reads in the poll, or a failed attempt with retries left
#   await_reply -> idle         the poll or submit is finished (ok, exception, or retries exhausted)
STATE_IDLE = "idle"
STATE_WAIT_QUIET = "wait_quiet"
STATE_AWAIT_REPLY = "await_reply"

ERROR_TIMEOUT = "timeout"

_STAT_KEYS = (
    "requests",
    "responses_ok",
    "timeouts",
    "crc_errors",
    "frame_errors",
    "exceptions",
    "retries",
    "unexpected_bytes",
)


def _new_stats():
    stats = {}
    for key in _STAT_KEYS:
        stats[key] = 0
    stats["last_ok_ms"] = None
    return stats


def _error_stat_key(kind):
    if kind == ERROR_TIMEOUT:
        return "timeouts"
    if kind == modbus_rtu.KIND_CRC:
        return "crc_errors"
    if kind == modbus_rtu.KIND_EXCEPTION:
        return "exceptions"
    return "frame_errors"


class PollResult:
    """What one poll or submit ended with.

    tag, slave: as given. ok: bool. blocks: for a poll, one register list per read (empty unless ok);
    for a submit, the parsed reply (register list, or (address, value_or_count)), None unless ok.
    error: None, a FrameError kind, or 'timeout'. exception_code: set when error is 'exception'.
    detail: installer-readable str. t_ms: completion time. attempts: requests sent for this result.
    """

    def __init__(self, tag, slave, ok, blocks, error, detail, t_ms, attempts, exception_code=None):
        self.tag = tag
        self.slave = slave
        self.ok = ok
        self.blocks = blocks
        self.error = error
        self.detail = detail
        self.t_ms = t_ms
        self.attempts = attempts
        self.exception_code = exception_code

    def __repr__(self):
        return "PollResult(tag=%r, slave=%d, ok=%r, error=%r, t_ms=%d, attempts=%d)" % (
            self.tag,
            self.slave,
            self.ok,
            self.error,
            self.t_ms,
            self.attempts,
        )


class _Poll:
    """A scheduled poll: reads done back to back, due interval_ms after its last start."""

    def __init__(self, slave, requests, interval_ms, tag):
        self.slave = slave
        self.requests = requests
        self.interval_us = interval_ms * 1000
        self.tag = tag
        self.last_start_us = None


class _Job:
    """The poll or submit being served: which request, how many attempts, what was read so far."""

    def __init__(self, slave, requests, tag, is_poll):
        self.slave = slave
        self.requests = requests
        self.tag = tag
        self.is_poll = is_poll
        self.index = 0
        self.attempt = 0
        self.attempts_total = 0
        self.blocks = []


class BusMaster:
    """One bus, one transaction at a time; advanced by step(now_ms, rx) or service(now_us, rx).

    name: bus name for messages; baud; bits_per_char (modbus_rtu.bits_per_char); response_timeout_ms:
    time allowed for a complete reply after the request has left the wire; retries: extra attempts
    after a timeout or bad frame (exception replies are not retried: the device did answer).
    Read-only attributes: state (STATE_*), silent_us (inter-frame gap), silent_ms (the same, whole ms
    rounded up), char_time_us.
    Surplus bytes after a complete reply are counted as unexpected_bytes and the reply is still judged.
    """

    def __init__(
        self,
        name,
        baud,
        bits_per_char=10,
        response_timeout_ms=constants.DEFAULT_RESPONSE_TIMEOUT_MS,
        retries=constants.DEFAULT_RETRIES,
    ):
        if not isinstance(response_timeout_ms, int) or response_timeout_ms < 1:
            raise ValueError(
                "bus %s: response_timeout_ms must be a positive integer, got %r" % (name, response_timeout_ms)
            )
        if not isinstance(retries, int) or retries < 0 or retries > constants.MAX_RETRIES:
            raise ValueError("bus %s: retries must be 0..%d, got %r" % (name, constants.MAX_RETRIES, retries))
        self.name = name
        self.baud = baud
        self.char_time_us = modbus_rtu.char_time_us(baud, bits_per_char)
        self.silent_us = modbus_rtu.silent_interval_us(baud, bits_per_char)
        self.silent_ms = (self.silent_us + 999) // 1000
        self.response_timeout_ms = response_timeout_ms
        self.retries = retries
        self.state = STATE_IDLE
        self._polls = []
        self._next_poll = 0
        self._submits = []
        self._job = None
        self._results = []
        self._stats = _new_stats()
        self._slave_stats = {}
        self._now_us = None
        self._last_activity_us = None
        self._rx = bytearray()
        self._expected_len = 0
        self._tx_end_us = 0
        self._deadline_us = 0

    def add_poll(self, slave, reads, interval_ms, tag):
        """Schedules a poll of `slave`: reads is a list of (function 3/4, address, count), done as one poll."""
        if not reads:
            raise ValueError("bus %s: poll %r of slave %r has no reads" % (self.name, tag, slave))
        if not isinstance(interval_ms, int) or interval_ms < 1:
            raise ValueError(
                "bus %s: poll %r interval_ms must be a positive integer, got %r" % (self.name, tag, interval_ms)
            )
        requests = [
            modbus_rtu.read_registers_request(slave, function, address, count) for function, address, count in reads
        ]
        self._polls.append(_Poll(slave, requests, interval_ms, tag))
        self._slave(slave)

    def submit(self, slave, request, tag):
        """Queues a one-off request frame (from modbus_rtu's builders); served before the next poll."""
        try:
            modbus_rtu.parse_request(request)
            modbus_rtu.expected_response_length(request)
        except modbus_rtu.FrameError as error:
            raise ValueError("bus %s: submitted request %r is not a valid frame: %s" % (self.name, tag, error.message))
        if request[0] == modbus_rtu.BROADCAST_ADDRESS:
            raise ValueError("bus %s: request %r is a broadcast, which gets no reply to wait for" % (self.name, tag))
        if request[0] != slave:
            raise ValueError("bus %s: request for address %d submitted as slave %r" % (self.name, request[0], slave))
        self._submits.append(_Job(slave, [bytes(request)], tag, False))
        self._slave(slave)

    def step(self, now_ms, rx):
        """Advances the bus to now_ms with the bytes received since the last step; returns bytes to send now."""
        return self.service(now_ms * 1000, rx)

    def service(self, now_us, rx):
        """step() in microseconds; a time earlier than the last one given counts as the last one."""
        if self._now_us is not None and now_us < self._now_us:
            now_us = self._now_us
        self._now_us = now_us
        if rx:
            if self._last_activity_us is None or now_us > self._last_activity_us:
                self._last_activity_us = now_us
            if self.state == STATE_AWAIT_REPLY and now_us >= self._tx_end_us:
                self._receive(now_us, rx)
            else:
                # Idle, or still sending our request (a collision): no reply can be in these bytes.
                self._count_unexpected(len(rx), None)
        if self.state == STATE_AWAIT_REPLY and now_us >= self._deadline_us:
            self._reply_missing(now_us)
        if self.state == STATE_IDLE:
            self._start_next_job(now_us)
        if self.state == STATE_WAIT_QUIET and self._bus_quiet(now_us):
            return self._transmit(now_us)
        return b""

    def next_wakeup_us(self):
        """When service() next has something to do without new bytes (int µs), or None if only bytes can
        move it on: the end of the silent interval, the reply deadline, or the next poll falling due."""
        if self.state == STATE_AWAIT_REPLY:
            return self._deadline_us
        if self.state == STATE_WAIT_QUIET:
            return 0 if self._last_activity_us is None else self._last_activity_us + self.silent_us
        if self._submits:
            return 0
        due = None
        for poll in self._polls:
            t = 0 if poll.last_start_us is None else poll.last_start_us + poll.interval_us
            if due is None or t < due:
                due = t
        return due

    @property
    def awaiting_reply(self):
        """True while a request is out and its reply not yet complete: the port is worth watching."""
        return self.state == STATE_AWAIT_REPLY

    def pop_results(self):
        """PollResult objects completed since the last call, oldest first (list)."""
        results = self._results
        self._results = []
        return results

    def stats(self):
        """Bus counters (dict): requests, responses_ok, timeouts, crc_errors, frame_errors, exceptions,
        retries, unexpected_bytes, last_ok_ms, last_ok_age_ms (both None until the first good reply)."""
        return self._with_age(self._stats)

    def slave_stats(self, slave):
        """The same counters for one slave that has a poll or a submit on this bus (dict).

        Its unexpected_bytes are the surplus after a complete reply in its own transactions; stray
        bytes between transactions count on the bus only.
        """
        stats = self._slave_stats.get(slave)
        if stats is None:
            raise ValueError("bus %s has no poll or request for slave %r" % (self.name, slave))
        return self._with_age(stats)

    def _with_age(self, stats):
        out = dict(stats)
        last_ok_ms = stats["last_ok_ms"]
        out["last_ok_age_ms"] = None if last_ok_ms is None or self._now_us is None else self._now_us // 1000 - last_ok_ms
        return out

    def _slave(self, slave):
        stats = self._slave_stats.get(slave)
        if stats is None:
            stats = _new_stats()
            self._slave_stats[slave] = stats
        return stats

    def _count(self, slave, key):
        self._stats[key] += 1
        self._slave(slave)[key] += 1

    def _count_unexpected(self, n, slave):
        self._stats["unexpected_bytes"] += n
        if slave is not None:
            self._slave(slave)["unexpected_bytes"] += n

    def _bus_quiet(self, now_us):
        return self._last_activity_us is None or now_us - self._last_activity_us >= self.silent_us

    def _start_next_job(self, now_us):
        if self._submits:
            self._job = self._submits.pop(0)
        else:
            poll = self._due_poll(now_us)
            if poll is None:
                return
            poll.last_start_us = now_us
            self._job = _Job(poll.slave, poll.requests, poll.tag, True)
        self.state = STATE_WAIT_QUIET

    def _due_poll(self, now_us):
        """First due poll at or after the round-robin cursor, so a failing slave cannot starve the others."""
        count = len(self._polls)
        for offset in range(count):
            index = (self._next_poll + offset) % count
            poll = self._polls[index]
            if poll.last_start_us is None or now_us - poll.last_start_us >= poll.interval_us:
                self._next_poll = (index + 1) % count
                return poll
        return None

    def _transmit(self, now_us):
        job = self._job
        request = job.requests[job.index]
        job.attempt += 1
        job.attempts_total += 1
        self._count(job.slave, "requests")
        if job.attempt > 1:
            self._count(job.slave, "retries")
        self._tx_end_us = now_us + len(request) * self.char_time_us
        self._last_activity_us = self._tx_end_us
        self._deadline_us = self._tx_end_us + self.response_timeout_ms * 1000
        self._expected_len = modbus_rtu.expected_response_length(request)
        self._rx = bytearray()
        self.state = STATE_AWAIT_REPLY
        return request

    def _receive(self, now_us, rx):
        buf = self._rx
        buf.extend(rx)
        need = self._expected_len
        request = self._job.requests[self._job.index]
        if len(buf) >= modbus_rtu.EXCEPTION_RESPONSE_LENGTH and buf[1] == request[1] | modbus_rtu.EXCEPTION_FLAG:
            need = modbus_rtu.EXCEPTION_RESPONSE_LENGTH
        if len(buf) < need:
            return
        if len(buf) > need:
            self._count_unexpected(len(buf) - need, self._job.slave)
        try:
            value = modbus_rtu.parse_response(request, bytes(buf[:need]))
        except modbus_rtu.FrameError as error:
            self._attempt_failed(now_us, error.kind, error.message, error.exception_code)
            return
        self._attempt_ok(now_us, value)

    def _reply_missing(self, now_us):
        job = self._job
        request = job.requests[job.index]
        if self._rx:
            try:
                modbus_rtu.parse_response(request, bytes(self._rx))
            except modbus_rtu.FrameError as error:
                self._attempt_failed(now_us, error.kind, error.message, error.exception_code)
                return
        self._attempt_failed(
            now_us,
            ERROR_TIMEOUT,
            "No reply from slave %d on bus %s within %d ms: check power, A/B wiring, address and baud rate"
            % (job.slave, self.name, self.response_timeout_ms),
            None,
        )

    def _attempt_ok(self, now_us, value):
        job = self._job
        self._count(job.slave, "responses_ok")
        self._stats["last_ok_ms"] = now_us // 1000
        self._slave(job.slave)["last_ok_ms"] = now_us // 1000
        if not job.is_poll:
            self._finish(now_us, value)
            return
        job.blocks.append(value)
        job.index += 1
        job.attempt = 0
        if job.index < len(job.requests):
            self.state = STATE_WAIT_QUIET
        else:
            self._finish(now_us, job.blocks)

    def _attempt_failed(self, now_us, kind, detail, exception_code):
        job = self._job
        self._count(job.slave, _error_stat_key(kind))
        if kind != modbus_rtu.KIND_EXCEPTION and job.attempt <= self.retries:
            self.state = STATE_WAIT_QUIET
            return
        self._finish(now_us, [] if job.is_poll else None, kind, detail, exception_code)

    def _finish(self, now_us, blocks, error=None, detail=None, exception_code=None):
        job = self._job
        if error is None:
            detail = "slave %d answered %d of %d requests" % (job.slave, len(job.requests), job.attempts_total)
        self._results.append(
            PollResult(
                job.tag, job.slave, error is None, blocks, error, detail, now_us // 1000, job.attempts_total,
                exception_code
            )
        )
        self._job = None
        self.state = STATE_IDLE
