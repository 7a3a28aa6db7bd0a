"""Real servers on loopback that stand in for the notifier's channels: a mail server (aiosmtpd) and an HTTP sink
for an IM robot or an SMS gateway, each recording what it accepted; the HTTP sink can be taken down (503).
The notifier's tests and benchmarks/notify_latency.py use them.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import threading
import urllib.parse
from typing import NamedTuple

from aiosmtpd.controller import Controller

from gaslatch_tools.testing.ports import LOOPBACK, free_port


class Mail(NamedTuple):
    to: tuple[str, ...]
    subject: str
    body: str


class SmtpSink:
    """A mail server on loopback that accepts every message; mails holds them."""

    def __init__(self):
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname=LOOPBACK, port=self.port)

    def url(self, to: str) -> str:
        """The Apprise URL that mails `to` through this server (plain SMTP, no login)."""
        return "mailto://%s:%d?from=platform@example.org&to=%s" % (LOOPBACK, self.port, to)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        with self._lock:
            self.mails.append(Mail(tuple(envelope.rcpt_tos), str(message["subject"]), part.get_content()))
        return "250 OK"

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class Post(NamedTuple):
    path: str
    title: str
    body: str


class HttpSink:
    """An HTTP server on loopback taking Apprise's json:// and form:// posts; while down it answers 503."""

    def __init__(self):
        self.posts: list[Post] = []
        self.refused = 0
        self.down = False
        self._lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink._lock:
                    if sink.down:
                        sink.refused += 1
                        status = 503
                    else:
                        sink.posts.append(_post(self.path, self.headers.get("Content-Type", ""), data))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str, kind: str = "json") -> str:
        return "%s://%s:%d/%s" % (kind, LOOPBACK, self.port, path)

    def received(self) -> list[Post]:
        with self._lock:
            return list(self.posts)

    def start(self) -> "HttpSink":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _post(path: str, content_type: str, data: bytes) -> Post:
    if "json" in content_type:
        doc = json.loads(data)
    else:
        doc = {k: v[0] for k, v in urllib.parse.parse_qs(data.decode("utf-8")).items()}
    return Post(path, doc.get("title", ""), doc.get("message", ""))

