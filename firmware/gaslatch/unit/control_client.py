"""Client side of the kitchen unit's control socket: send one JSON-lines request, read its reply and later lines.

Every way of not getting through (no socket, no permission, no answer) is one ControlUnreachable saying what to do.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from typing import Any

from gaslatch.translation import _

DEFAULT_TIMEOUT_S = 10.0
# A status reply of a large kitchen is tens of KiB; anything near this is not a reply.
MAX_REPLY_BYTES = 8 << 20


class ControlUnreachable(Exception):
    """gaslatch could not be reached or did not answer over its control socket; the message says why."""


def explain_connect_error(path: str, group: str, err: OSError) -> str:
    """What a user should do when connecting to the control socket at `path` failed with `err`."""
    if isinstance(err, FileNotFoundError):
        return _("no control socket at %s: is gaslatch running? (systemctl status gaslatch) If it uses another "
                 "socket, pass --socket or --config.") % path
    if isinstance(err, PermissionError):
        return _("permission denied on %(path)s: join the %(group)s group: sudo usermod -aG %(group)s $USER, then "
                 "log in again") % {"path": path, "group": group}
    if isinstance(err, ConnectionRefusedError):
        return _("nothing is listening on %s: gaslatch is not running (the socket file is left over). "
                 "Start it: sudo systemctl start gaslatch") % path
    return _("cannot connect to %(path)s: %(error)s. Is gaslatch running? Are you in group %(group)s?") % {
        "path": path, "error": err.strerror or err, "group": group}


class ControlClient:
    """One connection to the control socket. Use as a context manager; one request at a time."""

    def __init__(self, path: str, group: str = "gaslatch", timeout_s: float = DEFAULT_TIMEOUT_S):
        self.path = path
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._buf = bytearray()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(path)
        except OSError as err:
            self._sock.close()
            raise ControlUnreachable(explain_connect_error(path, group, err)) from None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def request(self, cmd: str, args: dict | None = None, timeout_s: float | None = None, by: str = "") -> dict:
        """Send {"id", "cmd", "args"} (and "by": on whose behalf, for the event records) and return the reply to
        it (a dict with "ok")."""
        request_id = next(self._ids)
        doc = {"id": request_id, "cmd": cmd, "args": args or {}}
        if by:
            doc["by"] = by
        line = json.dumps(doc, sort_keys=True) + "\n"
        try:
            self._sock.sendall(line.encode("utf-8"))
        except OSError as err:
            raise ControlUnreachable(_("gaslatch closed the control connection on %(path)s: %(error)s") % {
                "path": self.path, "error": err.strerror or err}) from None
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        deadline_s = time.monotonic() + wait_s
        while True:
            reply = self.poll(max(0.0, deadline_s - time.monotonic()))
            if reply is None:
                raise ControlUnreachable(_("no answer from gaslatch within %(seconds)g s on %(path)s: is its scan loop "
                                           "stalled? (journalctl -u gaslatch)") % {"seconds": wait_s, "path": self.path})
            if reply.get("id") in (request_id, None):
                return reply

    def poll(self, timeout_s: float) -> dict | None:
        """The next line from gaslatch, or None if nothing complete arrived within timeout_s."""
        deadline_s = time.monotonic() + timeout_s
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[:end + 1]
                return self._decode(line)
            remaining_s = deadline_s - time.monotonic()
            if remaining_s <= 0:
                return None
            self._sock.settimeout(remaining_s)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                return None
            except OSError as err:
                raise ControlUnreachable(_("lost the control connection to gaslatch on %(path)s: %(error)s") % {
                    "path": self.path, "error": err.strerror or err}) from None
            if not chunk:
                raise ControlUnreachable(_("gaslatch closed the control connection on %s without answering") % self.path)
            self._buf += chunk
            if len(self._buf) > MAX_REPLY_BYTES:
                raise ControlUnreachable(_("answer from %(path)s is longer than %(bytes)d bytes: is that gaslatch?") % {
                    "path": self.path, "bytes": MAX_REPLY_BYTES})

    def _decode(self, line: bytes) -> dict:
        try:
            message: Any = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):  # (nested deeper than the decoder goes: no answer gaslatch gives)
            raise ControlUnreachable(_("answer from %s is not JSON: is that gaslatch's control socket?")
                                     % self.path) from None
        if not isinstance(message, dict):
            raise ControlUnreachable(_("answer from %s is not a JSON object: is that gaslatch's control socket?")
                                     % self.path)
        return message
