"""The web console served for a test: the real app on uvicorn in a thread, on a free loopback port, over any
storage and contacts, on a clock the test may move (idle timeouts and lockouts without waiting)."""

from __future__ import annotations

import threading
import time

import uvicorn

from gaslatch_tools.platform.console.app import ConsoleSettings, create_app
from gaslatch_tools.testing.ports import free_port
from gaslatch_tools.testing.waiting import wait_until


class ConsoleClock:
    """Real time plus an offset the test adds to (skip()): the console's notion of now."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def skip(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)


class ConsoleServer:
    def __init__(self, storage, contacts, clock: ConsoleClock | None = None, rules=None, commands=None):
        self.clock = clock or ConsoleClock()
        self.app = create_app(ConsoleSettings(storage, contacts, self.clock, rules=rules, commands=commands,
                                              secure_cookies=False))
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, name="console", daemon=True)

    def start(self) -> "ConsoleServer":
        self._thread.start()
        wait_until(lambda: self._server.started, 10, what="the console listening")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
