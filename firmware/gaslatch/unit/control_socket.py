"""The local control socket: `gaslatch status/reset/silence/inhibit/test-outputs` talk JSON lines to it.

One I/O thread accepts clients and checks their requests; only the scan thread, in `service()`, acts on them.

Protocol (one JSON object per line, UTF-8, at most MAX_LINE_BYTES bytes):
  request  {"id": str|int|null, "cmd": "status"|"reset"|..., "args": {...}}   (id and args optional)
  reply    {"id": <the request's id>, "ok": true|false, "error": "why" (when refused), ...}
A request that is not valid (bad JSON, unknown command or argument, wrong type, too long) gets one
error reply (id null when it could not be read) and goes no further; such a reply may overtake the
replies to earlier valid requests, so match replies by id. A handler may push more lines to the same
client later (`Request.push`), e.g. the outcome of a reset waiting for the button on site.
"""

from __future__ import annotations

import grp
import json
import logging
import os
import pwd
import selectors
import socket
import stat
import struct
import threading
import time
from collections import deque
from typing import Any, Callable

from gaslatch.core.commands import LOCAL_COMMANDS, arg_refusal, normalised_args

log = logging.getLogger(__name__)

# Requests handled per scan at most: clients can never take the scan's time.
MAX_REQUESTS_PER_SERVICE = 4
MAX_LINE_BYTES = 4096
# Connections at once. When all are taken, a new client takes the slot of the one idle longest (never
# spoken first), so `gaslatch status` and `reset` always get in; it is turned away only while every
# connection has a request in hand, which lasts at most REPLY_TIMEOUT_S.
MAX_CLIENTS = 8
# Connections the kernel holds until the I/O thread accepts them (each accept may evict an idle one): a
# client with a timeout, as `gaslatch status` has, gets EAGAIN at once when this queue is full.
LISTEN_BACKLOG = 64
# Requests waiting for the scan thread, all clients together, and per client.
QUEUE_SIZE = 32
MAX_IN_FLIGHT_PER_CLIENT = 4
# The scan thread takes requests every scan (<= 500 ms): one not taken this soon means it is stalled.
REPLY_TIMEOUT_S = 5.0
# A client that starts a line must finish it this soon.
LINE_TIMEOUT_S = 5.0
# A client with nothing going on is closed after this long: longer than the longest reset window
# (control.reset_window_s <= 300 s), whose outcome is pushed to a client that has been silent since.
IDLE_TIMEOUT_S = 600.0
# A client that has sent no complete request this long after connecting holds a slot for nothing.
UNUSED_TIMEOUT_S = 10.0
# A client that does not read its replies is closed once this much is waiting for it.
MAX_OUTBOX_BYTES = 1 << 20
# After an error that closes the connection, its last line is sent for at most this long.
LINGER_S = 1.0
# sockaddr_un.sun_path is 108 bytes on Linux, with the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
MAX_ID_CHARS = 64
SOCKET_MODE = 0o660

# The commands this socket takes: the core's table's local ones (commands.COMMANDS), their arguments
# checked here against its schemas; values are checked again by the handlers (the controller knows the
# detectors and the inhibit limit).
COMMANDS: tuple[str, ...] = LOCAL_COMMANDS

_QUEUED, _TAKEN, _EXPIRED, _DONE = "queued", "taken", "expired", "done"


class ControlError(Exception):
    """The control socket could not be set up; the message says which path and what to do."""


class RequestError(Exception):
    """A request line that is not valid; `request_id` is its id when that much could be read."""

    def __init__(self, message: str, request_id: Any = None):
        super().__init__(message)
        self.request_id = request_id


MAX_BY_CHARS = 40
BY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789 _-")


def parse_request(line: bytes, commands: tuple[str, ...] = COMMANDS) -> tuple[Any, str, dict, str]:
    """One request line (without its newline) -> (id, cmd, args, by), or RequestError saying what is wrong.

    by: on whose behalf a trusted client (the kitchen panel) sends it, e.g. "panel maintenance": added to the
    event records' source after the client's own user name, which the socket takes from the kernel."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("request is not UTF-8 text") from None
    if not text.strip():
        raise RequestError('empty request: send one JSON object per line, e.g. {"cmd": "status"}')
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        raise RequestError("request is not valid JSON: %s" % _clip(str(err))) from None
    if not isinstance(doc, dict):
        raise RequestError('a request is a JSON object: {"id": ..., "cmd": ..., "args": {...}}')
    request_id = doc.get("id")
    if request_id is not None and not _valid_id(request_id):
        raise RequestError("id must be a string of at most %d characters, an integer or null" % MAX_ID_CHARS)
    for key in sorted(doc):
        if key not in ("id", "cmd", "args", "by"):
            raise RequestError("unknown key %s in request (keys: id, cmd, args, by)" % _clip(json.dumps(key)),
                               request_id)
    cmd = doc.get("cmd")
    if not isinstance(cmd, str):
        raise RequestError("cmd missing or not a string; commands: %s" % ", ".join(sorted(commands)), request_id)
    if cmd not in commands:
        raise RequestError("unknown command %s; commands: %s" % (_clip(json.dumps(cmd)), ", ".join(sorted(commands))),
                           request_id)
    args = doc.get("args", {})
    if not isinstance(args, dict):
        raise RequestError("args must be a JSON object", request_id)
    why = arg_refusal(cmd, args)
    if why:
        raise RequestError(_clip(why, 300), request_id)
    by = doc.get("by", "")
    if not isinstance(by, str) or len(by) > MAX_BY_CHARS or not set(by) <= BY_CHARS:
        raise RequestError("by must be at most %d lower-case letters, digits, spaces, _ or -" % MAX_BY_CHARS,
                           request_id)
    return request_id, cmd, normalised_args(cmd, args), by


class Request:
    """A checked request, handed to the handler in the scan thread.

    id, cmd, args: as sent (args checked against the command table). source: who sent it, for event
    records ("local:<user>"); uid, pid: the client process (SO_PEERCRED).
    """

    def __init__(self, server: ControlServer, conn: _Connection, request_id: Any, cmd: str, args: dict,
                 received_s: float, by: str = ""):
        self.id = request_id
        self.cmd = cmd
        self.args = args
        self.uid = conn.uid
        self.pid = conn.pid
        self.source = "%s (%s)" % (conn.source, by) if by else conn.source
        self._server = server
        self._conn = conn
        self._received_s = received_s
        self._state = _QUEUED
        self._early: list[bytes] = []

    @property
    def closed(self) -> bool:
        """True once the client has gone: push() does nothing then (cancel what it was waiting for)."""
        return self._conn.closed

    def push(self, message: dict) -> bool:
        """Send one more line to this request's client ("id" is added), until it closes. Any thread may call it.

        Returns False when the client has gone. A push made inside the handler follows the handler's reply.
        """
        return self._server._push(self, message)


class _Connection:
    """One client, owned by the I/O thread; outbox and counters are shared under the server's lock."""

    def __init__(self, sock: socket.socket, now_s: float):
        self.sock = sock
        self.inbuf = bytearray()
        self.skipping = False
        self.line_started_s: float | None = None
        self.last_activity_s = now_s
        self.eof = False
        self.linger_until_s: float | None = None
        self.outbox: deque[bytes] = deque()
        self.out_bytes = 0
        self.in_flight = 0
        self.closed = False
        self.interest = 0
        self.requests = 0  # complete request lines received
        self.uid, self.pid = _peer_credentials(sock)
        self.source = "local:%s" % _user_name(self.uid)


class ControlServer:
    """The control socket: `start()`, then `service(now_ms)` once per scan, `close()` at shutdown.

    path: socket file (its directory must exist); group: group given access (mode 0660). If the group
    does not exist, or this process may not give the socket to it, the socket keeps the process's
    group and `warning` says why. handler(request, now_ms) -> reply dict is called only from
    service(), in the scan thread; its reply must hold "ok": bool (see commands.reply()).
    """

    def __init__(self, path: str, group: str, handler: Callable[[Request, int], dict] | None = None, *,
                 commands: tuple[str, ...] = COMMANDS, max_clients: int = MAX_CLIENTS,
                 queue_size: int = QUEUE_SIZE, reply_timeout_s: float = REPLY_TIMEOUT_S,
                 line_timeout_s: float = LINE_TIMEOUT_S, idle_timeout_s: float = IDLE_TIMEOUT_S,
                 unused_timeout_s: float = UNUSED_TIMEOUT_S, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self.group = group
        self.warning: str | None = None
        self._handler = handler
        self._commands = commands
        self._max_clients = max_clients
        self._queue_size = queue_size
        self._reply_timeout_s = reply_timeout_s
        self._line_timeout_s = line_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._unused_timeout_s = unused_timeout_s
        self._clock = clock  # seconds, monotonic: every timeout of the I/O thread is measured on it
        self._lock = threading.Lock()
        self._queue: deque[Request] = deque()
        self._conns: list[_Connection] = []
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self._inode: tuple[int, int] | None = None

    # ---- life cycle (the runtime's thread) ----

    def start(self) -> None:
        """Create the socket (mode 0660, group `group`), replacing a stale one, and start the I/O thread."""
        self._listener = self._bind()
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, "listener")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name="gaslatch-control", daemon=True)
        self._thread.start()
        if self.warning:
            log.warning("%s", self.warning)
        log.info("control socket %s (mode 0660, group %s)", self.path, self.group)

    def close(self) -> None:
        """Stop the I/O thread, close every client and remove the socket file (if it is still ours)."""
        if self._thread is None:
            return
        self._stop = True
        self._wake()
        self._thread.join(timeout=5.0)
        self._thread = None
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:
                os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> dict:
        """{"clients": connections open, "queued": requests waiting for the scan thread}; any thread."""
        with self._lock:
            return {"clients": len(self._conns), "queued": len(self._queue)}

    # ---- the scan thread ----

    def service(self, now_ms: int, handler: Callable[[Request, int], dict] | None = None,
                limit: int = MAX_REQUESTS_PER_SERVICE) -> int:
        """Hand up to `limit` waiting requests to handler(request, now_ms) and queue their replies.

        Never blocks on a client, and a flood of clients costs the scan at most `limit` handler calls;
        the rest wait for the next scan. Requests whose client gave up are dropped unseen. A handler
        exception is logged and answered with an error reply. Returns how many were handled.
        """
        handler = handler or self._handler
        with self._lock:
            waiting = min(len(self._queue), limit)
        handled = 0
        for _ in range(waiting):
            with self._lock:
                if not self._queue:
                    break
                request = self._queue.popleft()
                if request._state != _QUEUED:
                    continue
                if request._conn.closed:
                    request._state = _DONE
                    continue
                request._state = _TAKEN
            data = self._handle(handler, request, now_ms)
            with self._lock:
                request._state = _DONE
                request._conn.in_flight -= 1
                self._enqueue(request._conn, data)
                for early in request._early:
                    self._enqueue(request._conn, early)
                request._early = []
            handled += 1
        if handled:
            self._wake()
        return handled

    def _handle(self, handler: Callable[[Request, int], dict] | None, request: Request, now_ms: int) -> bytes:
        try:
            if handler is None:
                raise RuntimeError("control server has no handler")
            reply = handler(request, now_ms)
            if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
                raise TypeError("handler replied %r: a reply is a dict with \"ok\": bool" % (reply,))
            return _encode(reply, request.id)
        except Exception:
            log.exception("control request %s failed", request.cmd)
            return _encode({"ok": False, "error": "internal error in the controller while handling %s: "
                                                  "see its log (journalctl -u gaslatch)" % request.cmd}, request.id)

    def _push(self, request: Request, message: dict) -> bool:
        try:
            data = _encode(message, request.id)
        except (TypeError, ValueError):
            log.exception("control push for %s is not JSON: %r", request.cmd, message)
            return False
        with self._lock:
            conn = request._conn
            if conn.closed:
                return False
            if request._state == _TAKEN:
                request._early.append(data)
                return True
            self._enqueue(conn, data)
        self._wake()
        return True

    def _enqueue(self, conn: _Connection, data: bytes) -> None:
        """Under the lock: a line for the client, sent by the I/O thread."""
        if not conn.closed:
            conn.outbox.append(data)
            conn.out_bytes += len(data)

    def _wake(self) -> None:
        wake_w = self._wake_w
        if wake_w is None:
            return
        try:
            wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already woken, or closing

    # ---- creating the socket file ----

    def _bind(self) -> socket.socket:
        path = self.path
        if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
            raise ControlError("control socket path %s is %d bytes long; the limit is %d: choose a shorter "
                               "control.socket" % (path, len(os.fsencode(path)), MAX_SOCKET_PATH_BYTES))
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise ControlError("directory %s for the control socket does not exist: create it (the systemd unit's "
                               "RuntimeDirectory=gaslatch does) or change control.socket" % directory)
        self._check_existing(path)
        gid = self._group_id()
        temp = os.path.join(directory, ".%s.%d" % (os.path.basename(path)[:40], os.getpid()))
        if len(os.fsencode(temp)) > MAX_SOCKET_PATH_BYTES:
            temp = os.path.join(directory, ".gl%d" % os.getpid())
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _unlink_if_socket(temp)
            # Bound under a temporary name, given its mode and group, then renamed into place: the
            # socket never appears at `path` with looser permissions, and a stale one is replaced.
            sock.bind(temp)
            os.chmod(temp, SOCKET_MODE)
            if gid is not None:
                try:
                    os.chown(temp, -1, gid)
                except PermissionError:
                    self._fall_back("this process (user %s) may not give files to group %s: add it to the group "
                                    "(sudo usermod -aG %s %s)" % (_user_name(os.geteuid()), self.group, self.group,
                                                                   _user_name(os.geteuid())))
            sock.listen(LISTEN_BACKLOG)
            os.rename(temp, path)
        except OSError as err:
            sock.close()
            _unlink_if_socket(temp)
            raise ControlError("cannot create the control socket %s: %s" % (path, err.strerror or err)) from None
        st = os.lstat(path)
        self._inode = (st.st_dev, st.st_ino)
        return sock

    def _check_existing(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlError("%s exists and is not a socket: move it away or change control.socket" % path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            log.info("replacing stale control socket %s", path)
            return
        except OSError as err:
            raise ControlError("cannot tell whether the socket %s is in use (%s): remove it if gaslatch is not "
                               "running" % (path, err.strerror or err)) from None
        finally:
            probe.close()
        raise ControlError("another process is already listening on %s: is gaslatch already running? "
                           "(systemctl status gaslatch)" % path)

    def _group_id(self) -> int | None:
        try:
            return grp.getgrnam(self.group).gr_gid
        except KeyError:
            self._fall_back("group %s does not exist: create it (sudo groupadd --system %s) and restart, so that "
                            "its members can use gaslatch status/reset" % (self.group, self.group))
            return None

    def _fall_back(self, why: str) -> None:
        wanted = self.group
        self.group = _group_name(os.getegid())
        self.warning = "control socket %s: %s; until then it belongs to group %s (the process's group), not %s" % (
            self.path, why, self.group, wanted)

    # ---- the I/O thread ----

    def _run(self) -> None:
        try:
            while not self._stop:
                try:
                    self._cycle()
                except Exception:
                    # A bug here must not kill the socket for good: log it and carry on.
                    log.exception("control socket I/O failed; continuing")
        finally:
            self._shut_down()

    def _cycle(self) -> None:
        assert self._selector is not None
        for key, events in self._selector.select(self._select_timeout_s()):
            if key.data == "listener":
                self._accept()
            elif key.data == "wake":
                self._drain_wake()
            else:
                conn = key.data
                if events & selectors.EVENT_READ and not conn.closed:
                    self._read(conn)
                if events & selectors.EVENT_WRITE and not conn.closed:
                    self._flush(conn)
        now_s = self._clock()
        self._expire_requests(now_s)
        for conn in list(self._conns):
            self._flush(conn)
            self._check_timeouts(conn, now_s)
            if not conn.closed:
                self._update_interest(conn)

    def _select_timeout_s(self) -> float:
        now_s = self._clock()
        deadlines = [now_s + 1.0]
        with self._lock:
            if self._queue:
                deadlines.append(self._queue[0]._received_s + self._reply_timeout_s)
            for conn in self._conns:
                if conn.line_started_s is not None:
                    deadlines.append(conn.line_started_s + self._line_timeout_s)
                if conn.linger_until_s is not None:
                    deadlines.append(conn.linger_until_s)
                elif not (conn.in_flight or conn.outbox):
                    deadlines.append(conn.last_activity_s + self._idle_limit_s(conn))
        return max(0.0, min(deadlines) - now_s)

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                log.warning("control socket accept failed: %s", err)
                return
            sock.setblocking(False)
            if len(self._conns) >= self._max_clients:
                self._evict_idlest()
            if len(self._conns) >= self._max_clients:
                try:
                    sock.send(_encode({"ok": False, "error": "too many control clients (%d) connected, each waiting for "
                                                             "a reply: try again" % self._max_clients}, None))
                except OSError:
                    pass
                sock.close()
                continue
            conn = _Connection(sock, self._clock())
            self._conns.append(conn)
            self._selector.register(sock, selectors.EVENT_READ, conn)
            conn.interest = selectors.EVENT_READ

    def _evict_idlest(self) -> None:
        """Free a slot: close the connection with nothing going on (no request in hand, nothing to send) that
        has been idle longest, one that never sent a request first; none if every one is busy."""
        with self._lock:
            idle = [conn for conn in self._conns
                    if not (conn.closed or conn.in_flight or conn.outbox or conn.linger_until_s is not None)]
        if not idle:
            return
        victim = min(idle, key=lambda conn: (conn.requests > 0, conn.last_activity_s))
        log.info("control socket full: closing the connection of %s idle longest for a new client", victim.source)
        try:
            victim.sock.send(_encode({"ok": False, "error": "closed: all %d control connections were taken and this "
                                                            "one was idle longest" % self._max_clients}, None))
        except OSError:
            pass
        self._drop(victim)

    def _idle_limit_s(self, conn: _Connection) -> float:
        return self._idle_timeout_s if conn.requests else min(self._unused_timeout_s, self._idle_timeout_s)

    def _drain_wake(self) -> None:
        assert self._wake_r is not None
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        now_s = self._clock()
        conn.last_activity_s = now_s
        if not data:
            # The client sent all it will (it may still wait for replies): a last line without a
            # newline still counts.
            conn.eof = True
            if conn.inbuf and not conn.skipping:
                line = bytes(conn.inbuf)
                self._line(conn, line, now_s)
            conn.inbuf.clear()
            conn.line_started_s = None
            return
        self._feed(conn, data, now_s)

    def _feed(self, conn: _Connection, data: bytes, now_s: float) -> None:
        buf = conn.inbuf
        buf += data
        start = 0
        while not conn.closed:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buf[start:end])
            start = end + 1
            if conn.skipping:
                conn.skipping = False
                continue
            if len(line) > MAX_LINE_BYTES:
                self._reject(conn, RequestError("request longer than %d bytes" % MAX_LINE_BYTES))
                continue
            self._line(conn, line, now_s)
        del buf[:start]
        if len(buf) > MAX_LINE_BYTES:
            if not conn.skipping:
                self._reject(conn, RequestError("request longer than %d bytes" % MAX_LINE_BYTES))
                conn.skipping = True
            buf.clear()
        if buf or conn.skipping:
            if conn.line_started_s is None:
                conn.line_started_s = now_s
        else:
            conn.line_started_s = None

    def _line(self, conn: _Connection, line: bytes, now_s: float) -> None:
        conn.requests += 1
        try:
            request_id, cmd, args, by = parse_request(line.rstrip(b"\r"), self._commands)
        except RequestError as err:
            self._reject(conn, err)
            return
        with self._lock:
            if conn.in_flight >= MAX_IN_FLIGHT_PER_CLIENT:
                error = "too many requests waiting on this connection (%d): wait for the replies" % (
                    MAX_IN_FLIGHT_PER_CLIENT)
            elif len(self._queue) >= self._queue_size:
                error = "controller busy (%d requests waiting): try again" % self._queue_size
            else:
                self._queue.append(Request(self, conn, request_id, cmd, args, now_s, by))
                conn.in_flight += 1
                return
        self._reject(conn, RequestError(error, request_id))

    def _reject(self, conn: _Connection, err: RequestError) -> None:
        with self._lock:
            self._enqueue(conn, _encode({"ok": False, "error": str(err)}, err.request_id))

    def _expire_requests(self, now_s: float) -> None:
        with self._lock:
            while self._queue and now_s - self._queue[0]._received_s >= self._reply_timeout_s:
                request = self._queue.popleft()
                if request._state != _QUEUED:
                    continue
                request._state = _EXPIRED
                request._conn.in_flight -= 1
                self._enqueue(request._conn, _encode({
                    "ok": False,
                    "error": "the controller did not take the request within %g s: nothing was done (its scan loop "
                             "may be stalled: journalctl -u gaslatch)" % self._reply_timeout_s,
                }, request.id))

    def _check_timeouts(self, conn: _Connection, now_s: float) -> None:
        if conn.closed:
            return
        if conn.linger_until_s is not None:
            if not conn.outbox or now_s >= conn.linger_until_s:
                self._drop(conn)
            return
        if conn.line_started_s is not None and now_s - conn.line_started_s >= self._line_timeout_s:
            self._reject(conn, RequestError("incomplete request: a line must end with a newline within %g s"
                                            % self._line_timeout_s))
            self._close_after_flush(conn, now_s)
            return
        with self._lock:
            busy = conn.in_flight
        if conn.eof and not busy and not conn.outbox:
            # The client sent all it will and has every reply: later pushes cannot be told apart from
            # a client that has gone, so it is closed (the handler sees request.closed).
            self._drop(conn)
        elif not busy and not conn.outbox and now_s - conn.last_activity_s >= self._idle_limit_s(conn):
            self._drop(conn)

    def _close_after_flush(self, conn: _Connection, now_s: float) -> None:
        conn.eof = True
        conn.inbuf.clear()
        conn.line_started_s = None
        conn.linger_until_s = now_s + LINGER_S
        self._flush(conn)
        if not conn.closed and not conn.outbox:
            self._drop(conn)

    def _flush(self, conn: _Connection) -> None:
        while not conn.closed:
            with self._lock:
                if conn.out_bytes > MAX_OUTBOX_BYTES:
                    log.warning("control client %s does not read its replies: closing it", conn.source)
                    data = None
                elif conn.outbox:
                    data = conn.outbox[0]
                else:
                    return
            if data is None:
                self._drop(conn)
                return
            try:
                sent = conn.sock.send(data)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(conn)
                return
            with self._lock:
                conn.out_bytes -= sent
                if sent == len(data):
                    conn.outbox.popleft()
                else:
                    conn.outbox[0] = data[sent:]
                    return

    def _update_interest(self, conn: _Connection) -> None:
        assert self._selector is not None
        with self._lock:
            pending = bool(conn.outbox)
        want = (0 if conn.eof else selectors.EVENT_READ) | (selectors.EVENT_WRITE if pending else 0)
        if want == conn.interest:
            return
        if conn.interest == 0:
            self._selector.register(conn.sock, want, conn)
        elif want == 0:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, want, conn)
        conn.interest = want

    def _drop(self, conn: _Connection) -> None:
        with self._lock:
            conn.closed = True
            conn.outbox.clear()
            conn.out_bytes = 0
        if conn.interest and self._selector is not None:
            self._selector.unregister(conn.sock)
            conn.interest = 0
        conn.sock.close()
        if conn in self._conns:
            self._conns.remove(conn)

    def _shut_down(self) -> None:
        for conn in list(self._conns):
            self._drop(conn)
        if self._selector is not None:
            self._selector.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_w = None


def _encode(message: dict, request_id: Any) -> bytes:
    out = dict(message)
    out["id"] = request_id
    return (json.dumps(out, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n").encode("ascii")


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2 ** 63) <= value < 2 ** 63
    return isinstance(value, str) and len(value) <= MAX_ID_CHARS


def _reject_constant(name: str) -> None:
    raise ValueError("%s is not allowed" % name)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _peer_credentials(sock: socket.socket) -> tuple[int | None, int | None]:
    """(uid, pid) of the client process, (None, None) where SO_PEERCRED is not available."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (AttributeError, OSError):
        return None, None
    pid, uid, _gid = struct.unpack("3i", raw)
    return uid, pid


def _user_name(uid: int | None) -> str:
    if uid is None:
        return "unknown"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "uid %d" % uid


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _unlink_if_socket(path: str) -> None:
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
