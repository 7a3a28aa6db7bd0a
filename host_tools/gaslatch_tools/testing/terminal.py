"""A command run as a person runs it at a terminal: on a pseudo-terminal of a given size, in a given locale.

What the tests of the installer's and the operator's commands read is what a person would see: the terminal's
width, colours (removed here), prompts answered when they show, and the language of LANG.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_in_terminal(command: Sequence[str], answer_after: str | None = None, answer: str = "y\n",
                    timeout_s: float = 30.0, locale: str = "C.UTF-8", columns: int = 120) -> tuple[int, str]:
    """Runs `command` on a pty `columns` wide whose locale is `locale` (LANG, with LC_ALL and LC_MESSAGES unset).

    Types `answer` once `answer_after` shows. Returns (exit code, everything the terminal showed, ANSI removed).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", LANG=locale)
    for variable in ("COLUMNS", "LC_ALL", "LC_MESSAGES"):
        env.pop(variable, None)
    proc = subprocess.Popen([str(part) for part in command], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    shown = b""
    answered = answer_after is None
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not answered and answer_after is not None and answer_after.encode() in shown:
                os.write(master, answer.encode())
                answered = True
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, ANSI.sub("", shown.decode("utf-8", "replace"))
