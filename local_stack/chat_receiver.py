"""A tiny incoming-webhook receiver on loopback, standing in for Google Chat or Slack:
it records every request, whole, and answers as it is told (200 ``ok`` unless told
otherwise). NOTIFY_WEBHOOK_URL accepts plain http to loopback for exactly this
(canceller/webhook.py), so the demo and the tests see what the function posts."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str = "/services/T0LOCAL/B0LOCAL/local-receiver") -> str:
        """A URL to it, in Slack's shape by default."""
        return f"http://127.0.0.1:{self.port}{path}"

    def texts(self) -> list[str]:
        """The ``text`` of every message received, in order."""
        return [str(request.json().get("text", "")) for request in list(self.requests)]


Answer = Callable[[Received], tuple[int, dict[str, str], bytes]]


def _ok(_: Received) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/plain"}, b"ok"  # Slack's answer to a good post


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closes its kept-alive connection with an answer unread (the
        function reads no body of a 2xx) resets it: that is not an error here."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextmanager
def chat_receiver(answer: Answer = _ok) -> Iterator[Receiver]:
    handle: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got = Received(self.command, self.path, dict(self.headers.items()), body)
            handle[0].requests.append(got)
            status, headers, data = answer(got)
            try:
                self.send_response(status)
                for key, value in {"Content-Length": str(len(data)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (a timeout)

    server = _Server(("127.0.0.1", 0), Handler)
    handle.append(Receiver(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handle[0]
    finally:
        server.shutdown()
        server.server_close()
