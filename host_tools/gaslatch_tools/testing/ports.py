"""A free TCP port on loopback, for every server the kit starts (mosquitto, PostgreSQL) and the tests' own.

The port is free when asked; the server then binds it (a race with another process is possible, never seen on loopback).
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]
