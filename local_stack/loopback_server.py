"""A small HTTP server on this machine's loopback that records every request whole and
answers as a function says. It stands in for a chat service's incoming webhook
(local_stack/chat_receiver.py) and, in tests, for what the Dataproc emulator will not do
because Dataproc does not (a listing that pages forever, a redirect elsewhere, an answer
edited on its way)."""

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
    path: str  # with its query
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LoopbackServer:
    host: str  # HOST:PORT
    requests: list[Received] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path


# A request -> the status, headers and body to answer it with.
Answer = Callable[[Received], tuple[int, dict[str, str], bytes]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closes its kept-alive connection with an answer unread (the
        function reads no body of a 2xx) resets it, and one that gives up waiting
        breaks the pipe: neither is an error here."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextmanager
def loopback_server(answer: Answer, host: str = "127.0.0.1") -> Iterator[LoopbackServer]:
    """Serves until the block ends."""
    handle: list[LoopbackServer] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def _reply(self) -> None:
            # Read whole even when no answer uses it: left unread on a kept-alive
            # connection, it would be taken for the start of the next request (501).
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got = Received(self.command, self.path, dict(self.headers.items()), body)
            handle[0].requests.append(got)
            status, headers, data = answer(got)
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _reply

    server = _Server((host, 0), Handler)
    handle.append(LoopbackServer(f"{host}:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handle[0]
    finally:
        server.shutdown()
        server.server_close()
