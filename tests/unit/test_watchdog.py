"""The hardware watchdog against file and FIFO stand-ins, sd_notify against a real datagram socket."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from gaslatch.unit.watchdog import HardwareWatchdog, SystemdNotifier, WatchdogError
from gaslatch_tools.testing.waiting import wait_until

WAIT_S = 5.0


# Hardware watchdog. Never opened on the real /dev/watchdog here: that would arm this machine's timer.

def test_kicks_write_to_the_device_and_a_clean_stop_writes_the_magic_v(tmp_path):
    device = tmp_path / "watchdog"
    device.touch()
    dog = HardwareWatchdog(str(device), 15)  # a regular file answers the timeout ioctl with ENOTTY
    assert dog.enabled and dog.timeout_s is None
    assert dog.kick() and dog.kick()
    assert device.read_bytes() == b"\0\0"
    dog.close(disarm=True)
    assert device.read_bytes() == b"\0\0V"
    assert not dog.enabled


def test_closing_without_disarm_leaves_the_timer_running(tmp_path):
    device = tmp_path / "watchdog"
    device.touch()
    dog = HardwareWatchdog(str(device), 15)
    dog.kick()
    dog.close(disarm=False)
    dog.close(disarm=True)  # already closed: nothing more is written
    assert b"V" not in device.read_bytes()
    assert device.read_bytes() == b"\0"


def test_kicks_reach_a_fifo_reader(tmp_path):
    fifo = tmp_path / "watchdog"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        dog = HardwareWatchdog(str(fifo), 10)
        dog.kick()
        assert wait_until(lambda: _read_some(reader), WAIT_S, what="a kick in the FIFO") == b"\0"
        dog.close(disarm=True)
        assert wait_until(lambda: _read_some(reader), WAIT_S, what="the magic close in the FIFO") == b"V"
    finally:
        os.close(reader)


def test_a_kick_the_device_does_not_take_is_counted_not_waited_for(tmp_path):
    fifo = tmp_path / "watchdog"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # never read: the pipe fills up
    try:
        dog = HardwareWatchdog(str(fifo), 10)
        results = [dog.kick() for _ in range(200_000)]
        assert results[0] and not results[-1]
        assert dog.kicks + dog.kick_errors == 200_000 and dog.kick_errors > 0
        assert "Resource temporarily unavailable" in dog.last_error
        dog.close(disarm=False)
    finally:
        os.close(reader)


def test_a_configured_device_that_is_missing_says_how_to_enable_it(tmp_path):
    path = str(tmp_path / "watchdog")
    with pytest.raises(WatchdogError) as raised:
        HardwareWatchdog(path, 15)
    message = str(raised.value)
    assert message.startswith("hardware watchdog %s: [Errno 2] No such file or directory: " % path)
    assert "dtparam=watchdog=on" in message and 'watchdog.device to ""' in message


def test_an_empty_device_path_is_a_watchdog_that_does_nothing():
    dog = HardwareWatchdog("", 15)
    assert not dog.enabled
    assert dog.kick()
    dog.close(disarm=True)
    assert dog.kicks == 0


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 64)
    except BlockingIOError:
        return b""


# systemd notification.

@pytest.fixture
def notify_socket(tmp_path):
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    receiver.bind(path)
    receiver.settimeout(WAIT_S)
    yield path, receiver
    receiver.close()


def test_ready_watchdog_status_and_stopping_reach_the_notify_socket(notify_socket):
    path, receiver = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready()
    assert notifier.watchdog()
    assert notifier.status("scanning 8 detectors\non 2 buses")
    assert notifier.stopping()
    got = [receiver.recv(4096) for _ in range(4)]
    assert got == [b"READY=1", b"WATCHDOG=1", b"STATUS=scanning 8 detectors on 2 buses", b"STOPPING=1"]
    assert (notifier.sent, notifier.errors) == (4, 0)
    notifier.close()


def test_an_abstract_namespace_notify_socket_is_reached():
    name = "gaslatch-test-%s" % uuid.uuid4().hex
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind("\0" + name)
    receiver.settimeout(WAIT_S)
    try:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert receiver.recv(4096) == b"READY=1"
        notifier.close()
    finally:
        receiver.close()


def test_watchdog_notifications_are_limited_to_a_quarter_of_the_watchdog_timeout(notify_socket):
    path, receiver = notify_socket
    clock = [0]
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "8000000"}, now_ms=lambda: clock[0])
    for now_ms in (0, 100, 1999, 2000, 3999, 4000):
        clock[0] = now_ms
        assert notifier.watchdog()
    assert notifier.sent == 3
    assert [receiver.recv(4096) for _ in range(3)] == [b"WATCHDOG=1"] * 3
    notifier.close()


def test_without_notify_socket_every_call_is_a_no_op():
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.watchdog() and not notifier.status("x")
    assert (notifier.sent, notifier.errors) == (0, 0)


def test_a_vanished_notify_socket_is_counted_and_never_raises(tmp_path):
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert notifier.errors == 2 and "No such file or directory" in notifier.last_error


def test_a_notify_socket_that_is_not_a_unix_address_is_counted_and_never_raises():
    notifier = SystemdNotifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.ready()
    assert notifier.errors == 1 and "vsock:2:1234" in notifier.last_error


def test_a_full_notify_socket_does_not_block_the_sender(notify_socket):
    path, receiver = notify_socket  # never read
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    results = [notifier.status("filling %d" % n) for n in range(100_000)]
    assert results[0] and not results[-1]
    assert notifier.errors > 0
    notifier.close()


@pytest.mark.parametrize(
    "environ, timeout_s, interval_s",
    [
        ({"WATCHDOG_USEC": "20000000"}, 20.0, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}, 20.0, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None, None),
        ({"WATCHDOG_USEC": "0"}, None, None),
        ({"WATCHDOG_USEC": "soon"}, None, None),
        ({}, None, None),
    ],
)
def test_watchdog_interval_is_half_of_systemds_watchdog_usec(environ, timeout_s, interval_s):
    notifier = SystemdNotifier(environ)
    assert notifier.watchdog_timeout_s() == timeout_s
    assert notifier.watchdog_interval_s() == interval_s
