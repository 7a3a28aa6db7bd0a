"""The two watchdogs fed from each completed scan: the hardware one (/dev/watchdog) and systemd's.

A hung scan loop stops feeding both: the Pi resets and a hold-type valve de-energises and closes.

Shutdown policy (the runtime's side): on SIGTERM/SIGINT the runtime first drives the outputs to
their safe state and flushes the store, and only then calls `HardwareWatchdog.close(disarm=True)`,
which writes the magic 'V' so the kernel stops the timer. Every other exit closes with
disarm=False (or not at all), leaving the timer running: if the restarted service does not take
over within the timeout, the board resets. A kernel built with CONFIG_WATCHDOG_NOWAYOUT ignores
the magic close and always keeps running.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import time
from collections.abc import Callable, Mapping

# linux/watchdog.h: _IOWR('W', 6, int); the driver writes back the timeout it accepted.
WDIOC_SETTIMEOUT = 0xC0045706
# Any byte pings the timer; 'V' arms the magic close, so a kick must never contain it.
KEEPALIVE_BYTE = b"\0"
MAGIC_CLOSE_BYTE = b"V"
# sd_notify WATCHDOG=1 is sent at most this often when systemd gave no WATCHDOG_USEC.
DEFAULT_SYSTEMD_KICK_MIN_MS = 1000

_ENABLE_HINT = (
    "enable it with dtparam=watchdog=on in /boot/firmware/config.txt and reboot, or set watchdog.device "
    "to \"\" on a bench without one"
)
_ACCESS_HINT = (
    "give the gaslatch user access to it (udev rule: KERNEL==\"watchdog*\", GROUP=\"gaslatch\", MODE=\"0660\")"
)
_BUSY_HINT = (
    "another program holds it: turn off RuntimeWatchdogSec= in /etc/systemd/system.conf or the "
    "watchdog daemon; gaslatch feeds it from each completed scan"
)


class WatchdogError(Exception):
    """The configured hardware watchdog cannot be used; the message says what to change."""


def monotonic_ms() -> int:
    """Default clock: monotonic milliseconds."""
    return time.monotonic_ns() // 1_000_000


class HardwareWatchdog:
    """/dev/watchdog: opening it arms the timer, each kick() restarts it.

    An empty device_path gives a no-op watchdog (benches without one). A path that is not a
    watchdog device (a file or FIFO standing in for it in tests) is written to all the same.
    """

    def __init__(self, device_path: str, timeout_s: int) -> None:
        self.device_path = device_path
        self.requested_timeout_s = timeout_s
        # What the driver accepted (it may round); None when there is no device or it is a stand-in.
        self.timeout_s: int | None = None
        self.kicks = 0
        self.kick_errors = 0
        self.last_error = ""
        self._fd: int | None = None
        if not device_path:
            return
        try:
            self._fd = os.open(device_path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise WatchdogError(self._describe_open_error(exc)) from None
        self._set_timeout(timeout_s)

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def kick(self) -> bool:
        """Restarts the timer (one non-blocking write); False, counted, when the write failed."""
        if self._fd is None:
            return True
        try:
            os.write(self._fd, KEEPALIVE_BYTE)
        except OSError as exc:
            self.kick_errors += 1
            self.last_error = "watchdog %s: %s" % (self.device_path, exc)
            return False
        self.kicks += 1
        return True

    def close(self, disarm: bool) -> None:
        """Releases the device; disarm=True writes the magic 'V' first so the timer stops (clean stop only)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if disarm:
                os.write(fd, MAGIC_CLOSE_BYTE)
        except OSError as exc:
            self.last_error = "watchdog %s: magic close failed: %s" % (self.device_path, exc)
        finally:
            os.close(fd)

    def _set_timeout(self, timeout_s: int) -> None:
        try:
            raw = fcntl.ioctl(self._fd, WDIOC_SETTIMEOUT, struct.pack("i", timeout_s))
        except OSError as exc:
            if exc.errno == errno.ENOTTY:
                return  # not a watchdog device: a stand-in file or FIFO
            self.close(disarm=True)
            raise WatchdogError(
                "hardware watchdog %s refused a %d s timeout (%s): set watchdog.timeout_s to a value the "
                "driver accepts (bcm2835: at most 15 s)" % (self.device_path, timeout_s, exc)
            ) from None
        self.timeout_s = struct.unpack("i", raw)[0]

    def _describe_open_error(self, exc: OSError) -> str:
        text = "hardware watchdog %s: [Errno %d] %s" % (self.device_path, exc.errno or 0, exc.strerror)
        hints = {errno.ENOENT: _ENABLE_HINT, errno.EACCES: _ACCESS_HINT, errno.EPERM: _ACCESS_HINT,
                 errno.EBUSY: _BUSY_HINT}
        hint = hints.get(exc.errno or 0)
        return "%s: %s" % (text, hint) if hint else text


class SystemdNotifier:
    """sd_notify(3) without a dependency: one datagram per message to $NOTIFY_SOCKET.

    A no-op when NOTIFY_SOCKET is unset (not started by systemd). Never raises: failures are
    counted in `errors` with the last one in `last_error`. watchdog() is rate-limited to a quarter
    of WatchdogSec so a 20 ms scan does not wake PID 1 fifty times a second.
    """

    def __init__(self, environ: Mapping[str, str] = os.environ, now_ms: Callable[[], int] = monotonic_ms) -> None:
        self.address = environ.get("NOTIFY_SOCKET", "")
        self.sent = 0
        self.errors = 0
        self.last_error = ""
        self._now_ms = now_ms
        self._watchdog_usec = self._parse_watchdog_usec(environ)
        self._kick_min_ms = (
            self._watchdog_usec // 4000 if self._watchdog_usec else DEFAULT_SYSTEMD_KICK_MIN_MS)
        self._last_kick_ms: int | None = None
        self._socket: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def watchdog_timeout_s(self) -> float | None:
        """systemd's WatchdogSec for this process, None when not set (or meant for another process)."""
        return self._watchdog_usec / 1e6 if self._watchdog_usec else None

    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1: half of WatchdogSec (sd_watchdog_enabled(3)); None when not set."""
        return self._watchdog_usec / 2e6 if self._watchdog_usec else None

    def ready(self) -> bool:
        """READY=1: the first full scan completed."""
        return self.notify("READY=1")

    def watchdog(self) -> bool:
        """WATCHDOG=1 after a completed scan; skipped (True) when sent less than the minimum interval ago."""
        now = self._now_ms()
        if self._last_kick_ms is not None and now - self._last_kick_ms < self._kick_min_ms:
            return True
        sent = self.notify("WATCHDOG=1")
        if sent:
            self._last_kick_ms = now
        return sent

    def status(self, text: str) -> bool:
        """STATUS=text: the one-line status `systemctl status gaslatch` shows."""
        return self.notify("STATUS=" + " ".join(text.splitlines()))

    def stopping(self) -> bool:
        """STOPPING=1: a clean shutdown began."""
        return self.notify("STOPPING=1")

    def notify(self, message: str) -> bool:
        """Sends one message; False (and counted) when it could not be sent, False when disabled."""
        if not self.address:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.setblocking(False)
            self._socket.sendto(message.encode("utf-8", "replace"), self._socket_address())
        except (OSError, ValueError) as exc:
            self.errors += 1
            self.last_error = "sd_notify to %s: %s" % (self.address, exc)
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _socket_address(self) -> str:
        if self.address.startswith("@"):
            return "\0" + self.address[1:]  # abstract namespace
        if self.address.startswith("/"):
            return self.address
        raise ValueError("unsupported NOTIFY_SOCKET address %r (not a UNIX socket)" % self.address)

    @staticmethod
    def _parse_watchdog_usec(environ: Mapping[str, str]) -> int | None:
        pid = environ.get("WATCHDOG_PID", "")
        if pid and pid != str(os.getpid()):
            return None
        try:
            usec = int(environ.get("WATCHDOG_USEC", ""))
        except ValueError:
            return None
        return usec if usec > 0 else None
