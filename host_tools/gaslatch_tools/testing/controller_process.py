"""The real `gaslatch run` under a test's, the bench's or a benchmark's control: started, known ready by sd_notify,
killed, restarted. The one harness that runs the unit as a process.

The harness owns the NOTIFY_SOCKET as systemd would, so "ready" is the unit's own READY=1 after its first
complete scan, and a power cut is a SIGKILL at an instant the bench chooses or draws from a seeded RNG.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Mapping, NamedTuple, Sequence

START_TIMEOUT_S = 20.0  # a cold Python start with every import, on a busy 2-core machine
STOP_TIMEOUT_S = 10.0  # shutdown flushes the store for at most 5 s (runtime.shutdown)
_RECEIVE_POLL_S = 0.1
_DATAGRAM_BYTES = 4096
_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid (SCM_CREDENTIALS)
# Variables systemd sets for one service process; never handed down from the bench's own environment.
_SERVICE_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
# What systemd starts (deploy/gaslatch.service), as a module of the chosen interpreter; --config PATH follows.
UNIT_COMMAND = ("-m", "gaslatch.unit", "run")


class ControllerError(Exception):
    """The controller process did not do what the bench asked (start, become ready, stop); the message
    carries its exit code and the end of its stderr."""


class Notification(NamedTuple):
    """One sd_notify datagram: when the bench received it (its clock), the sender's pid, the text."""

    t_s: float
    pid: int
    message: str


def random_instant(rng: random.Random | int, window_start_s: float, window_end_s: float) -> float:
    """An instant drawn uniformly in [window_start_s, window_end_s) from a seeded generator (or a seed):
    the same seed gives the same power cut, so a failing run can be repeated."""
    if not window_end_s > window_start_s:
        raise ValueError("the window must end after it starts: %r..%r" % (window_start_s, window_end_s))
    generator = rng if isinstance(rng, random.Random) else random.Random(rng)
    return window_start_s + generator.random() * (window_end_s - window_start_s)


class ControllerProcess:
    """One controller (`python -m gaslatch.unit run --config config_path`, as `gaslatch-unit run`), run after run.

    Its stdout (the journal: one event per line) is appended to log_path and its stderr to
    log_path + ".stderr", run after run. env: extra variables over the harness's own environment.
    python and command: the interpreter and what it runs (a benchmark measures another venv's unit).
    Times are on `clock` (the harness's monotonic seconds).
    """

    def __init__(self, config_path: str, log_path: str, env: Mapping[str, str] | None = None, *,
                 log_level: str | None = None, python: str = sys.executable,
                 command: Sequence[str] = UNIT_COMMAND, clock: Callable[[], float] = time.monotonic):
        self.config_path = config_path
        self.stdout_path = log_path
        self.stderr_path = log_path + ".stderr"
        self.clock = clock
        self._argv = [python, *command, "--config", config_path]
        if log_level:
            self._argv += ["--log-level", log_level]
        self._env = {key: value for key, value in os.environ.items() if key not in _SERVICE_VARIABLES}
        self._env.update(env or {})
        # A short private directory: a UNIX socket path must fit in 108 bytes, test directories may not.
        self._notify_dir = tempfile.mkdtemp(prefix="gaslatch-notify-")
        self.notify_path = os.path.join(self._notify_dir, "notify")
        self._env["NOTIFY_SOCKET"] = self.notify_path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._socket.bind(self.notify_path)
        self._socket.settimeout(_RECEIVE_POLL_S)
        self._changed = threading.Condition()
        self._notifications: list[Notification] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._receive, name="sd-notify", daemon=True)
        self._reader.start()
        self._proc: subprocess.Popen | None = None
        self._runs: list[tuple[int, int]] = []  # (stdout, stderr) byte offsets where each run began
        self.started_at_s: float | None = None
        self.ready_at_s: float | None = None

    # ---- state ----

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def process(self) -> subprocess.Popen | None:
        """The latest run's process (None before the first start): to signal or wait on it directly."""
        return self._proc

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit code of the latest run (negative: killed by that signal); None while it runs or before."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def runs(self) -> int:
        return len(self._runs)

    # ---- lifecycle ----

    def start(self) -> None:
        """Launch a run without waiting for it (see wait_ready); refused while one is running."""
        if self.running:
            raise ControllerError("gaslatch run is already running (pid %d): power_cut() or stop() it first"
                                  % self.pid)
        offsets = (_size(self.stdout_path), _size(self.stderr_path))
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.started_at_s = self.clock()
            self.ready_at_s = None
            self._proc = subprocess.Popen(self._argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                          env=self._env, start_new_session=True, close_fds=True)
        self._runs.append(offsets)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Wait for READY=1 from this run; returns seconds from start() to it.

        Raises ControllerError at once if the run exits first, or after timeout_s.
        """
        if self._proc is None:
            raise ControllerError("gaslatch run was never started")
        proc = self._proc
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                ready = self._ready_notification(proc.pid)
                if ready is not None:
                    self.ready_at_s = ready.t_s
                    return ready.t_s - (self.started_at_s or ready.t_s)
                if proc.poll() is not None:
                    raise ControllerError("gaslatch run exited with code %d before it was ready: %s"
                                          % (proc.returncode, self._stderr_tail()))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ControllerError("gaslatch run (pid %d) sent no READY=1 within %.1f s: %s"
                                          % (proc.pid, timeout_s, self._stderr_tail()))
                self._changed.wait(min(remaining, _RECEIVE_POLL_S))  # also notices an exit

    def power_cut(self, at_s: float | None = None) -> float:
        """SIGKILL the run at clock time at_s (now when None); returns the instant of the kill.

        Nothing of the controller's shutdown runs: outputs keep the levels last written (the bench's
        KitchenIO.power(False) drops the relays) and the store keeps what it had committed.
        """
        if not self.running:
            raise ControllerError("no gaslatch run to cut the power of (returncode %r)" % self.returncode)
        if at_s is not None:
            while True:
                remaining = at_s - self.clock()
                if remaining <= 0:
                    break
                self._stop.wait(remaining)  # a scheduled instant, not a settle time
        proc = self._proc
        assert proc is not None
        instant = self.clock()
        proc.send_signal(signal.SIGKILL)
        proc.wait(STOP_TIMEOUT_S)
        return instant

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Start again after a power cut or a stop, and wait for READY=1; returns seconds to ready."""
        self.start()
        return self.wait_ready(timeout_s)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM (a clean stop: outputs safe, store flushed) and wait; returns the exit code.

        A run that does not stop within timeout_s is killed and ControllerError raised.
        """
        if self._proc is None:
            raise ControllerError("gaslatch run was never started")
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(STOP_TIMEOUT_S)
                raise ControllerError("gaslatch run (pid %d) did not stop within %.1f s of SIGTERM; killed"
                                      % (self._proc.pid, timeout_s)) from None
        return self._proc.returncode

    def close(self) -> None:
        """Stop a run still going (killing it if it will not stop), then give the notify socket back."""
        try:
            if self.running:
                self.stop()
        finally:
            self._stop.set()
            self._reader.join(5)
            self._socket.close()
            shutil.rmtree(self._notify_dir, ignore_errors=True)

    def __enter__(self) -> ControllerProcess:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # ---- what the run said ----

    def notifications(self, pid: int | None = None) -> list[Notification]:
        """sd_notify messages received so far, of one process (pid) or of every run."""
        with self._changed:
            return [n for n in self._notifications if pid is None or n.pid == pid]

    def journal_lines(self, run: int | None = None) -> list[str]:
        """stdout lines (journal lines, `<6>event t_ms=... type=...`) of one run (0 first, -1 latest) or all."""
        return self._lines(self.stdout_path, 0, run)

    def stderr_lines(self, run: int | None = None) -> list[str]:
        return self._lines(self.stderr_path, 1, run)

    def _lines(self, path: str, which: int, run: int | None) -> list[str]:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        if run is not None:
            index = range(len(self._runs))[run]  # IndexError for a run that never was
            end = self._runs[index + 1][which] if index + 1 < len(self._runs) else len(data)
            data = data[self._runs[index][which]:end]
        return data.decode("utf-8", "replace").splitlines()

    def _stderr_tail(self, lines: int = 10) -> str:
        tail = self.stderr_lines(-1)[-lines:] if self._runs else []
        return " | ".join(tail) if tail else "(nothing on stderr)"

    def _ready_notification(self, pid: int) -> Notification | None:
        for note in self._notifications:
            if note.pid == pid and "READY=1" in note.message.split("\n"):
                return note
        return None

    def _receive(self) -> None:
        """Drain the socket all the time: a full queue would make the unit's sends fail (it never blocks)."""
        cred_space = socket.CMSG_SPACE(_UCRED.size)
        while not self._stop.is_set():
            try:
                data, ancillary, _flags, _address = self._socket.recvmsg(_DATAGRAM_BYTES, cred_space)
            except socket.timeout:
                continue
            except OSError:
                return
            pid = 0
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= _UCRED.size:
                    pid = _UCRED.unpack_from(payload)[0]
            with self._changed:
                self._notifications.append(Notification(self.clock(), pid, data.decode("utf-8", "replace")))
                self._changed.notify_all()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0
