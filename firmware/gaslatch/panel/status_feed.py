"""The controller's status, asked for over the control socket every POLL_S by one thread: the latest reply and
a version that changes when the reply does. The panel's pages and live stream read it; nothing here can block
the controller (a slow or stuck panel only delays its own questions)."""

from __future__ import annotations

import json
import threading

from gaslatch.panel.words import pair
from gaslatch.translation import N_
from gaslatch.unit.control_client import ControlClient, ControlUnreachable

POLL_S = 0.2  # a change shows on the panel within about this plus the page's update (goal: 1 s)
VOLATILE = ("now_ms", "scan", "buses", "store", "ports", "since_ms", "last_sample_age_ms", "link", "last_ok_age_ms",
            "last_ok_ms")  # counters that change every scan: not a change a person would see
UNREADABLE = N_("the controller's reply could not be read: %(error)s")


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    return value


class StatusFeed:
    def __init__(self, socket_path: str, group: str, poll_s: float = POLL_S):
        self.socket_path, self.group, self.poll_s = socket_path, group, poll_s
        self._lock = threading.Condition()
        self._reply: dict | None = None
        self._problem = "%s %s" % pair(N_("not asked yet"))
        self._key = ""
        self.version = 0
        self.polls = 0  # answers (or failures) so far
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="panel-status", daemon=True)

    def start(self) -> "StatusFeed":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def latest(self) -> tuple[int, dict | None, str]:
        with self._lock:
            return self.version, self._reply, self._problem

    def wait_change(self, version: int, timeout_s: float) -> int:
        """Blocks until the version differs from `version` or timeout_s passes; the version then."""
        with self._lock:
            self._lock.wait_for(lambda: self.version != version, timeout_s)
            return self.version

    def wait_fresh(self, timeout_s: float) -> None:
        """Blocks until a status asked for after this call has come back (or timeout_s): so that the page after an
        action shows what the action did. Two polls: one may have been asked before the action was taken."""
        with self._lock:
            target = self.polls + 2
            self._lock.wait_for(lambda: self.polls >= target, timeout_s)

    def _publish(self, reply: dict | None, problem: str) -> None:
        key = json.dumps([_stable(reply), problem], sort_keys=True, default=str)
        with self._lock:
            self.polls += 1
            self._lock.notify_all()
            self._reply, self._problem = reply, problem
            if key != self._key:
                self._key = key
                self.version += 1
                self._lock.notify_all()

    def _run(self) -> None:
        client = None
        while not self._stop.is_set():
            try:
                if client is None:
                    client = ControlClient(self.socket_path, self.group, timeout_s=2.0)
                self._publish(client.request("status"), "")
            except ControlUnreachable as err:
                self._publish(None, str(err))
                if client is not None:
                    client.close()
                client = None
            except (OSError, ValueError) as err:  # a reply that is not JSON, a socket gone mid-reply
                self._publish(None, "%s %s" % pair(UNREADABLE, error=err))
                if client is not None:
                    client.close()
                client = None
            self._stop.wait(self.poll_s)
        if client is not None:
            client.close()


def request(socket_path: str, group: str, cmd: str, args: dict, by: str) -> dict:
    """One command on its own connection (an action on the panel), on behalf of `by` ("panel maintenance")."""
    try:
        with ControlClient(socket_path, group, timeout_s=5.0) as client:
            return client.request(cmd, args, by=by)
    except ControlUnreachable as err:
        return {"ok": False, "error": str(err)}

