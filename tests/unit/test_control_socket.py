"""The control socket against real clients: file mode and group, request checking, the scan thread's
service() hand-over, two-phase reset, timeouts and bounds."""

from __future__ import annotations

import grp
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch import recorded_text as R
from gaslatch.unit.control_socket import (COMMANDS, IDLE_TIMEOUT_S, MAX_CLIENTS, MAX_IN_FLIGHT_PER_CLIENT,
                                          MAX_LINE_BYTES, UNUSED_TIMEOUT_S, ControlError, ControlServer)
from gaslatch.core.commands import COMMANDS as TABLE
from gaslatch.core.commands import reply as outcome_reply
from gaslatch.translation import CHINESE, in_language
from gaslatch_tools.testing.waiting import wait_until

READ_TIMEOUT_S = 5.0


class FakeUnit:
    """Plays the runtime's handler: answers from canned data and records what reached it, in which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, int]] = []
        self.reset_reasons: list[str] = []
        self.button_pressed = threading.Event()
        self.pending_reset = None
        self.reset_cancelled = threading.Event()
        self.push_inside_handler = False

    def __call__(self, request, now_ms: int) -> dict:
        self.calls.append((request.cmd, request.args, threading.get_ident()))
        if request.cmd == "status":
            return {"ok": True, "latched": False, "source": request.source, "uid": request.uid}
        if request.cmd == "reset":
            if self.reset_reasons:
                return {"ok": False, "error": "reset refused", "reasons": list(self.reset_reasons)}
            self.pending_reset = request
            if self.push_inside_handler:
                request.push({"state": "noted"})
            return {"ok": True, "state": "waiting_for_button", "window_s": 60}
        if request.cmd == "silence":
            raise RuntimeError("a bug in the handler")
        return outcome_reply(True, "%s done" % request.cmd)

    def after_service(self, now_ms: int) -> None:
        """What the runtime does each scan for a reset waiting for the button."""
        request = self.pending_reset
        if request is None:
            return
        if request.closed:
            self.pending_reset = None
            self.reset_cancelled.set()
        elif self.button_pressed.is_set():
            self.pending_reset = None
            request.push({"state": "accepted"})

    def commands_seen(self) -> list[str]:
        return [cmd for cmd, _, _ in self.calls]


class ServiceLoop:
    """A stand-in scan thread: calls server.service() every few ms until stopped; can be stalled."""

    PERIOD_S = 0.005

    def __init__(self, server: ControlServer, unit: FakeUnit) -> None:
        self.server = server
        self.unit = unit
        self.running = threading.Event()
        self.running.set()
        self._serving = threading.Lock()  # held for one check of `running` and the service() it allows
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.ident = self._thread.ident

    def _run(self) -> None:
        now_ms = 0
        while not self._stop.wait(self.PERIOD_S):
            with self._serving:
                if self.running.is_set():
                    now_ms += 5
                    self.server.service(now_ms, self.unit)
                    self.unit.after_service(now_ms)

    def stall(self) -> None:
        """No service() from now on: returns once a call already past the check has ended (clearing `running`
        alone leaves a thread that had just seen it set free to serve the test's requests afterwards)."""
        with self._serving:
            self.running.clear()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LineClient:
    """A raw client: send bytes, read reply lines with a deadline."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READ_TIMEOUT_S)
        self.sock.connect(path)
        self.reader = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def ask(self, request: dict) -> dict:
        self.send(json.dumps(request).encode() + b"\n")
        return self.read()

    def read(self) -> dict:
        line = self.reader.readline()
        assert line.endswith(b"\n"), "connection closed or line cut: %r" % line
        return json.loads(line)

    def at_eof(self) -> bool:
        return self.reader.readline() == b""

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Served:
    def __init__(self, directory: str, **server_options) -> None:
        self.path = os.path.join(directory, "control.sock")
        self.unit = FakeUnit()
        self.server = ControlServer(self.path, _own_group(), **server_options)
        self.server.start()
        self.loop = ServiceLoop(self.server, self.unit)

    def close(self) -> None:
        self.loop.stop()
        self.server.close()


def _own_group() -> str:
    return grp.getgrgid(os.getegid()).gr_name


@pytest.fixture
def serve(short_dir):
    made: list[Served] = []

    def start(**server_options) -> Served:
        served = Served(tempfile.mkdtemp(dir=short_dir), **server_options)
        made.append(served)
        return served

    yield start
    for served in made:
        served.close()


@pytest.fixture(scope="module")
def shared():
    """One server for the property tests (a hypothesis example may not use a function-scoped fixture)."""
    directory = tempfile.mkdtemp(prefix="gl-", dir="/tmp")
    served = Served(directory)
    yield served
    served.close()
    shutil.rmtree(directory, ignore_errors=True)


# ---- the socket file ----

def test_socket_file_is_created_with_mode_0660_and_the_configured_group(serve):
    served = serve()
    st_ = os.stat(served.path)
    assert stat.S_ISSOCK(st_.st_mode)
    assert stat.S_IMODE(st_.st_mode) == 0o660
    assert st_.st_gid == grp.getgrnam(_own_group()).gr_gid
    assert served.server.warning is None


def test_a_missing_group_falls_back_to_the_process_group_and_says_how_to_create_it(short_dir):
    path = os.path.join(short_dir, "c.sock")
    with ControlServer(path, "no-such-group-gl", FakeUnit()) as server:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert os.stat(path).st_gid == os.getegid()
        assert server.group == _own_group()
        assert "group no-such-group-gl does not exist" in server.warning
        assert "groupadd" in server.warning


def test_a_stale_socket_file_is_replaced_at_start(short_dir):
    path = os.path.join(short_dir, "c.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    with ControlServer(path, _own_group(), FakeUnit()):
        with LineClient(path) as client:
            client.send(b"\n")
            assert client.read()["ok"] is False


def test_a_second_server_does_not_take_over_a_live_socket(serve):
    served = serve()
    with pytest.raises(ControlError, match="already listening"):
        ControlServer(served.path, _own_group(), FakeUnit()).start()
    with LineClient(served.path) as client:
        assert client.ask({"cmd": "status"})["ok"] is True


def test_a_regular_file_at_the_socket_path_is_left_alone(short_dir):
    path = os.path.join(short_dir, "c.sock")
    with open(path, "w") as f:
        f.write("keep me")
    with pytest.raises(ControlError, match="is not a socket"):
        ControlServer(path, _own_group(), FakeUnit()).start()
    with open(path) as f:
        assert f.read() == "keep me"


def test_a_missing_directory_is_reported_with_the_directory_name(short_dir):
    path = os.path.join(short_dir, "absent", "c.sock")
    with pytest.raises(ControlError, match="absent for the control socket does not exist"):
        ControlServer(path, _own_group(), FakeUnit()).start()


def test_a_socket_path_too_long_for_unix_sockets_is_refused_clearly(short_dir):
    path = os.path.join(short_dir, "x" * 120 + ".sock")
    with pytest.raises(ControlError, match="the limit is 107"):
        ControlServer(path, _own_group(), FakeUnit()).start()


def test_close_removes_the_socket_file(short_dir):
    path = os.path.join(short_dir, "c.sock")
    server = ControlServer(path, _own_group(), FakeUnit())
    server.start()
    server.close()
    assert not os.path.exists(path)


# ---- requests and the scan thread ----

def test_requests_are_handled_in_the_scan_thread_with_the_clients_identity(serve):
    served = serve()
    with LineClient(served.path) as client:
        reply = client.ask({"id": 7, "cmd": "inhibit", "args": {"detector": "d1", "minutes": 5}})
        status = client.ask({"id": "s", "cmd": "status"})
    assert reply == {"id": 7, "ok": True, "message": "inhibit done"}
    assert status["id"] == "s" and status["uid"] == os.getuid()
    assert status["source"].startswith("local:")
    assert served.unit.calls[0][:2] == ("inhibit", {"detector": "d1", "minutes": 5})
    assert {ident for _, _, ident in served.unit.calls} == {served.loop.ident}


_REQUEST_KEYS = ("id", "cmd", "args", "by")


def _spec(cmd: str) -> dict:
    """The command's arguments in the core's table: name -> its JSON Schema subset."""
    return TABLE[cmd].args.get("properties", {})


def _valid_args(cmd: str):
    fields = {}
    for key, rule in _spec(cmd).items():
        if "enum" in rule:
            fields[key] = st.sampled_from(rule["enum"])
        elif rule["type"] == "array":
            item = rule["items"]
            fields[key] = st.lists(st.text(min_size=item["minLength"], max_size=item["maxLength"]),
                                   max_size=rule["maxItems"], unique=rule.get("uniqueItems", False))
        elif rule["type"] == "string":
            fields[key] = st.text(min_size=rule["minLength"], max_size=rule["maxLength"])
        else:
            fields[key] = st.integers(min_value=rule["minimum"], max_value=rule["maximum"])
    return st.fixed_dictionaries(fields)


def _wrong_value(rule):
    # JSON has one number type: 5.0 is the integer 5, so only fractional floats are wrong for an integer.
    fractional = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f % 1 != 0)
    if "enum" in rule:
        return st.one_of(st.integers(), st.none(), st.text(max_size=20).filter(lambda t: t not in rule["enum"]))
    if rule["type"] == "array":
        item = rule["items"]
        return st.one_of(st.text(max_size=5), st.none(), st.integers(), st.dictionaries(st.text(max_size=3), st.none()),
                         st.lists(st.one_of(st.integers(), st.none(), st.just("")), min_size=1, max_size=3),
                         st.lists(st.text(min_size=item["maxLength"] + 1, max_size=item["maxLength"] + 3), min_size=1,
                                  max_size=2),
                         st.lists(st.just("x"), min_size=2, max_size=3),  # repeated
                         st.lists(st.text(min_size=1, max_size=3), min_size=rule["maxItems"] + 1,
                                  max_size=rule["maxItems"] + 3))
    if rule["type"] == "string":
        return st.one_of(st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False), st.just(""),
                         st.text(min_size=rule["maxLength"] + 1, max_size=rule["maxLength"] + 5),
                         st.lists(st.text(), max_size=2))
    return st.one_of(st.text(max_size=5), st.none(), st.booleans(), fractional,
                     st.integers(max_value=rule["minimum"] - 1), st.integers(min_value=rule["maximum"] + 1))


@st.composite
def invalid_requests(draw):
    """JSON documents that are not valid requests, by construction."""
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                               lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                         max_size=3), max_leaves=6)
    kind = draw(st.sampled_from(["not_object", "cmd_not_string", "unknown_cmd", "args_not_object", "extra_key",
                                 "unknown_arg", "missing_arg", "wrong_arg", "bad_id", "bad_by"]))
    if kind == "not_object":
        return draw(json_values.filter(lambda v: not isinstance(v, dict)))
    if kind == "cmd_not_string":
        return {"cmd": draw(json_values.filter(lambda v: not isinstance(v, str)))}
    if kind == "unknown_cmd":
        return {"cmd": draw(st.text(max_size=20).filter(lambda c: c not in COMMANDS))}
    cmd = draw(st.sampled_from(sorted(COMMANDS)))
    args = draw(_valid_args(cmd))
    if kind == "args_not_object":
        return {"cmd": cmd, "args": draw(json_values.filter(lambda v: not isinstance(v, dict)))}
    if kind == "extra_key":
        key = draw(st.text(max_size=8).filter(lambda k: k not in _REQUEST_KEYS))
        return {"cmd": cmd, "args": args, key: draw(json_values)}
    if kind == "unknown_arg":
        key = draw(st.text(max_size=8).filter(lambda k: k not in _spec(cmd)))
        args[key] = draw(json_values)
        return {"cmd": cmd, "args": args}
    if kind == "bad_by":
        bad_by = draw(st.one_of(st.integers(), st.none(), st.lists(st.text(), max_size=2),
                                st.text(min_size=41, max_size=50, alphabet="abc"),
                                st.text(min_size=1, max_size=10).filter(lambda t: not set(t) <= set(
                                    "abcdefghijklmnopqrstuvwxyz0123456789 _-"))))
        return {"cmd": cmd, "args": args, "by": bad_by}
    if kind == "bad_id":
        bad_id = draw(st.one_of(st.booleans(), st.floats(allow_nan=False), st.text(min_size=65, max_size=70),
                                st.lists(st.integers(), max_size=2), st.integers(min_value=2 ** 63)))
        return {"id": bad_id, "cmd": cmd, "args": args}
    cmd = draw(st.sampled_from(sorted(c for c in COMMANDS if _spec(c))))
    args = draw(_valid_args(cmd))
    key = draw(st.sampled_from(sorted(args)))
    if kind == "missing_arg":
        del args[key]
    else:
        args[key] = draw(_wrong_value(_spec(cmd)[key]))
    return {"cmd": cmd, "args": args}


def _send_then_status(shared: Served, payload: bytes, lines: int) -> list[dict]:
    """Sends payload (holding `lines` request lines) then a status request; returns every reply."""
    shared.unit.calls.clear()
    with LineClient(shared.path) as client:
        client.send(payload + b'{"id": "after", "cmd": "status"}\n')
        return [client.read() for _ in range(lines + 1)]


def _assert_only_status_handled(shared: Served, replies: list[dict], errors: int) -> None:
    ok = [r for r in replies if r["ok"]]
    assert len(ok) == 1 and ok[0]["id"] == "after"
    failed = [r for r in replies if not r["ok"]]
    assert len(failed) == errors
    assert all(isinstance(r["error"], str) and r["error"] for r in failed)
    assert shared.unit.commands_seen() == ["status"]


@given(st.lists(st.binary(max_size=300).filter(lambda b: b"\n" not in b), min_size=1, max_size=4))
def test_garbage_lines_get_one_error_reply_each_and_never_reach_the_controller(shared, lines):
    replies = _send_then_status(shared, b"".join(line + b"\n" for line in lines), len(lines))
    _assert_only_status_handled(shared, replies, len(lines))


@given(invalid_requests())
def test_json_that_is_not_a_valid_request_gets_an_error_and_never_reaches_the_controller(shared, doc):
    payload = json.dumps(doc).encode()
    replies = _send_then_status(shared, payload + b"\n", 1)
    _assert_only_status_handled(shared, replies, 1)


# silence is the fake's crashing command (see the handler-exception test).
_ANSWERED = sorted(c for c in COMMANDS if c != "silence")


@given(st.sampled_from(_ANSWERED).flatmap(lambda cmd: st.tuples(st.just(cmd), _valid_args(cmd))),
       st.one_of(st.none(), st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1), st.text(max_size=64)))
def test_valid_requests_reach_the_controller_unchanged_and_the_reply_carries_their_id(shared, command, request_id):
    cmd, args = command
    shared.unit.calls.clear()
    with LineClient(shared.path) as client:
        reply = client.ask({"id": request_id, "cmd": cmd, "args": args})
    assert reply["id"] == request_id and reply["ok"] is True
    assert [(c, a) for c, a, _ in shared.unit.calls] == [(cmd, args)]


def test_an_oversize_line_gets_one_error_and_the_connection_stays_usable(serve):
    served = serve()
    with LineClient(served.path) as client:
        client.send(b"x" * (MAX_LINE_BYTES * 3))
        client.send(b"y" * 100 + b"\n")
        reply = client.read()
        assert reply["ok"] is False and "longer than 4096 bytes" in reply["error"]
        assert client.ask({"id": 2, "cmd": "status"})["ok"] is True
    assert served.unit.commands_seen() == ["status"]


def test_an_unfinished_line_times_out_with_an_error_and_a_clean_close(serve):
    served = serve(line_timeout_s=0.2)
    with LineClient(served.path) as client:
        client.send(b'{"cmd": "sta')
        reply = client.read()
        assert reply["ok"] is False and "incomplete request" in reply["error"]
        assert client.at_eof()
    assert served.unit.calls == []


def test_a_request_followed_by_end_of_input_is_still_answered(serve):
    served = serve()
    with LineClient(served.path) as client:
        client.send(b'{"id": 1, "cmd": "status"}')
        client.sock.shutdown(socket.SHUT_WR)
        reply = client.read()
        assert reply["id"] == 1 and reply["ok"] is True
        assert client.at_eof()


def test_a_stalled_scan_loop_gives_the_client_a_timeout_and_the_late_request_is_never_carried_out(serve):
    served = serve(reply_timeout_s=0.3)
    served.loop.stall()
    with LineClient(served.path) as client:
        reply = client.ask({"id": 1, "cmd": "inhibit", "args": {"detector": "d1", "minutes": 5}})
        assert reply["id"] == 1 and reply["ok"] is False
        assert "did not take the request" in reply["error"] and "nothing was done" in reply["error"]
        assert "控制器未在 0.3 秒内受理请求" in _read_in_chinese(reply["error"])
        served.loop.running.set()
        assert client.ask({"id": 2, "cmd": "status"})["ok"] is True
    assert served.unit.commands_seen() == ["status"]


def test_a_full_queue_answers_busy_and_keeps_the_requests_it_took(serve):
    served = serve(queue_size=2)
    served.loop.stall()
    with LineClient(served.path) as client:
        client.send(b"".join(b'{"id": %d, "cmd": "status"}\n' % i for i in range(3)))
        busy = client.read()
        assert busy == {"id": 2, "ok": False, "error": "controller busy (2 requests waiting): try again"}
        assert "2" in _read_in_chinese(busy["error"])
        served.loop.running.set()
        assert sorted(client.read()["id"] for _ in range(2)) == [0, 1]


def test_a_client_with_too_many_requests_in_hand_is_told_to_wait_for_the_replies(serve):
    served = serve()
    served.loop.stall()
    with LineClient(served.path) as client:
        client.send(b"".join(b'{"id": %d, "cmd": "status"}\n' % i for i in range(MAX_IN_FLIGHT_PER_CLIENT + 1)))
        refused = client.read()
        assert refused["id"] == MAX_IN_FLIGHT_PER_CLIENT and refused["ok"] is False
        assert "too many requests waiting on this connection" in refused["error"]
        assert str(MAX_IN_FLIGHT_PER_CLIENT) in _read_in_chinese(refused["error"])
        served.loop.running.set()
        assert sorted(client.read()["id"] for _ in range(MAX_IN_FLIGHT_PER_CLIENT)) == list(
            range(MAX_IN_FLIGHT_PER_CLIENT))


def _read_in_chinese(error):
    """The socket's refusal as `gaslatch status` shows it under zh: one of the phrasebook's socket refusals, in
    Chinese (values as sent)."""
    assert R.phrase(error) in R.SOCKET_REFUSALS, error
    shown = R.translate(error, in_language(CHINESE).gettext)
    assert shown != error and re.search("[\u4e00-\u9fff]", shown), shown
    return shown


def test_a_handler_exception_is_an_error_reply_and_the_socket_carries_on(serve):
    served = serve()
    with LineClient(served.path) as client:
        reply = client.ask({"id": 1, "cmd": "silence"})
        assert reply["ok"] is False and "internal error" in reply["error"]
        assert "silence" in _read_in_chinese(reply["error"])
        assert client.ask({"id": 2, "cmd": "status"})["ok"] is True


class FakeClock:
    """Monotonic seconds the test moves on; the server's I/O thread still wakes at least once a second."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_clients_beyond_the_limit_are_turned_away_only_while_every_one_waits_for_a_reply(serve):
    served = serve(max_clients=2)
    served.loop.stall()  # a stalled scan: the requests stay in hand
    first, second = LineClient(served.path), LineClient(served.path)
    try:
        first.send(b'{"cmd": "status"}\n')
        second.send(b'{"cmd": "status"}\n')
        wait_until(lambda: served.server.load()["queued"] == 2, READ_TIMEOUT_S, what="both requests in hand")
        with LineClient(served.path) as third:
            reply = third.read()
            assert reply["ok"] is False and "too many control clients" in reply["error"]
            assert "2" in _read_in_chinese(reply["error"])
            assert third.at_eof()
        served.loop.running.set()
        assert first.read()["ok"] and second.read()["ok"]
    finally:
        first.close()
        second.close()
    assert wait_until(lambda: _status_ok(served.path), READ_TIMEOUT_S, what="a free client slot")


def test_status_and_reset_get_through_a_socket_full_of_idle_and_half_open_connections(serve):
    served = serve()
    spoke = LineClient(served.path)
    assert spoke.ask({"cmd": "status"})["ok"]  # then idle: evicted only after those that never spoke
    silent = [LineClient(served.path) for _ in range(MAX_CLIENTS - 3)]
    half_open = [LineClient(served.path) for _ in range(2)]
    for client in half_open:
        client.send(b'{"cmd": "sta')  # a line begun and never finished
    held = [spoke] + silent + half_open
    try:
        wait_until(lambda: served.server.load()["clients"] == MAX_CLIENTS, READ_TIMEOUT_S, what="every slot taken")
        with LineClient(served.path) as operator:
            assert operator.ask({"id": "s", "cmd": "status"})["ok"] is True
            assert operator.ask({"id": "r", "cmd": "reset"})["state"] == "waiting_for_button"
        with LineClient(served.path) as second_operator:
            assert second_operator.ask({"cmd": "status"})["ok"] is True
        evicted = silent[0]
        closed = evicted.read()["error"]
        assert "idle longest" in closed and evicted.at_eof()
        assert str(MAX_CLIENTS) in _read_in_chinese(closed)
        assert spoke.ask({"cmd": "status"})["ok"] is True  # the one that had spoken kept its slot
    finally:
        for client in held:
            client.close()


def test_a_connection_that_sends_nothing_gives_up_its_slot_after_the_unused_timeout(serve):
    clock = FakeClock()
    served = serve(clock=clock)
    with LineClient(served.path) as silent, LineClient(served.path) as used:
        assert used.ask({"cmd": "status"})["ok"]
        wait_until(lambda: served.server.load()["clients"] == 2, READ_TIMEOUT_S, what="both connected")
        clock.now_s += UNUSED_TIMEOUT_S
        assert silent.at_eof()  # closed within the I/O thread's next wake-up (<= 1 s)
        assert used.ask({"cmd": "status"})["ok"]  # one that has spoken waits out the full idle timeout


def _status_ok(path: str) -> bool:
    """One status request on a new connection; False while the server turns clients away."""
    with LineClient(path) as client:
        try:
            return client.ask({"cmd": "status"})["ok"]
        except OSError:
            return False


# ---- reset: refused at once, or waiting for the button with the outcome on the same connection ----

def test_a_refused_reset_answers_at_once_with_the_reasons(serve):
    served = serve()
    served.unit.reset_reasons = ["d1: high alarm", "fire alarm input active"]
    with LineClient(served.path) as client:
        reply = client.ask({"id": "r", "cmd": "reset"})
    assert reply == {"id": "r", "ok": False, "error": "reset refused",
                     "reasons": ["d1: high alarm", "fire alarm input active"]}


def test_a_reset_waits_for_the_button_and_its_outcome_comes_on_the_same_connection(serve):
    served = serve()
    with LineClient(served.path) as client:
        assert client.ask({"id": "r", "cmd": "reset"}) == {"id": "r", "ok": True, "state": "waiting_for_button",
                                                          "window_s": 60}
        served.unit.button_pressed.set()
        assert client.read() == {"id": "r", "state": "accepted"}


def test_a_push_made_inside_the_handler_follows_its_reply(serve):
    served = serve()
    served.unit.push_inside_handler = True
    with LineClient(served.path) as client:
        assert client.ask({"id": "r", "cmd": "reset"})["state"] == "waiting_for_button"
        assert client.read() == {"id": "r", "state": "noted"}
        served.unit.button_pressed.set()
        assert client.read()["state"] == "accepted"


def test_a_client_leaving_during_the_reset_window_is_seen_by_the_handler(serve):
    served = serve()
    with LineClient(served.path) as client:
        client.ask({"id": "r", "cmd": "reset"})
    assert served.unit.reset_cancelled.wait(READ_TIMEOUT_S)


def test_an_idle_client_is_closed(serve):
    served = serve(idle_timeout_s=0.3)
    with LineClient(served.path) as idle:
        assert idle.ask({"cmd": "status"})["ok"]
        assert idle.at_eof()


def test_the_idle_timeout_outlasts_the_longest_reset_window():
    assert IDLE_TIMEOUT_S > 300 > UNUSED_TIMEOUT_S


def test_a_client_that_stops_sending_is_closed_once_it_has_every_reply(serve):
    served = serve()
    with LineClient(served.path) as client:
        client.send(b'{"id": "r", "cmd": "reset"}\n')
        client.sock.shutdown(socket.SHUT_WR)
        assert client.read()["state"] == "waiting_for_button"
        assert client.at_eof()
    assert served.unit.reset_cancelled.wait(READ_TIMEOUT_S)


def test_a_flood_of_requests_costs_one_scan_at_most_four_handler_calls(serve):
    served = serve()
    served.loop.stall()
    clients = [LineClient(served.path) for _ in range(3)]
    try:
        for n, client in enumerate(clients):
            client.send(b"".join(b'{"id": %d, "cmd": "status"}\n' % (n * 10 + i) for i in range(4)))
        wait_until(lambda: served.server.load()["queued"] == 12, 5, what="all twelve requests queued")
        assert [served.server.service(0, served.unit) for _ in range(4)] == [4, 4, 4, 0]
        for n, client in enumerate(clients):
            assert sorted(client.read()["id"] for _ in range(4)) == [n * 10 + i for i in range(4)]
    finally:
        for client in clients:
            client.close()
