"""A loopback HTTP server answering from a function, for what the Dataproc emulator will
not do because Dataproc does not (a listing that pages forever, a redirect elsewhere)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# (method, path, query) -> (status, headers, JSON body or None)
Answer = Callable[[str, str, dict[str, str]], tuple[int, dict[str, str], Any]]


class ScriptedServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        self.requests: list[tuple[str, str, dict[str, str]]] = []


@contextmanager
def scripted_server(answer: Answer, host: str = "127.0.0.1") -> Iterator[ScriptedServer]:
    handle: list[ScriptedServer] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def _reply(self) -> None:
            # The body is read even though no answer uses it: left unread on a kept-alive
            # connection, it would be taken for the start of the next request (501).
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            handle[0].requests.append((self.command, url.path, query))
            status, headers, body = answer(self.command, url.path, query)
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _reply

    server = ThreadingHTTPServer((host, 0), Handler)
    handle.append(ScriptedServer(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handle[0]
    finally:
        server.shutdown()
        server.server_close()
