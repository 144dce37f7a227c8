"""The HTTP layer: a keep-alive HTTP/1.1 server from the standard library.

The function under test reuses connections and is benchmarked with thousands of
requests, so responses always carry Content-Length (keep-alive needs it), Nagle is
off (headers and body go out as two writes), and nothing is logged per request
unless asked for.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import ApiError
from .faults import Fault
from .routes import ADMIN_API, REAL_API, Query, Resolved, find, resolve, unrouted
from .state import EmulatorState

JSON_TYPE = "application/json; charset=UTF-8"
_TRUNCATED_JSON = b'{"name": "projects/emulator/regions/global/operations/trunc'
_HTML_ERROR = (
    b"<html><head><title>Error 502 (Server Error)</title></head>"
    b"<body><h1>Error</h1><p>The server encountered a temporary error.</p></body></html>"
)


class _Server(ThreadingHTTPServer):
    """Tracks open connections so ``stop`` can end idle keep-alive ones; otherwise a
    stopped emulator would keep answering on connections a client pool still holds."""

    daemon_threads = True
    request_queue_size = 256  # benchmarks open many connections at once; the default is 5

    def __init__(self, address: tuple[str, int], state: EmulatorState, verbose: bool) -> None:
        self.state = state
        self.verbose = verbose
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (read timeout, reset) is routine in fault tests: no traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            for connection in self._open:
                with contextlib.suppress(OSError):  # the peer may be gone already
                    connection.shutdown(socket.SHUT_RDWR)
            self._open.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dataproc-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 600  # an abandoned keep-alive connection frees its thread eventually
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = Query(parse_qsl(url.query, keep_blank_values=True))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if url.path.startswith("/_emulator/"):
                found = resolve(ADMIN_API, self.command, url.path)
            else:
                routed = find(REAL_API, self.command, url.path)
                if not self._before_real_api(routed, url.path, query, body):
                    return
                if routed is None:
                    raise unrouted(self.command, url.path)
                found = routed
            payload = found.handler(self.server.state, found.match, query, body)
            self._send(200, JSON_TYPE, _encode(payload))
        except ApiError as error:
            headers = {"Retry-After": error.retry_after} if error.retry_after else {}
            self._send(error.http_status, JSON_TYPE, _encode(error.body()), headers)

    def _before_real_api(
        self, found: Resolved | None, path: str, query: Query, body: bytes
    ) -> bool:
        """Log and count, simulate latency, then answer a quota refusal or play any
        fault. False: the fault already answered (or refused to); nothing may change
        state after a fault that answered."""
        state = self.server.state
        admission = state.begin_request(
            self.command,
            path,
            query.logged(),
            "Authorization" in self.headers,
            body.decode("utf-8", "replace"),
            "unknown" if found is None else found.api_method,
            self.headers.get("X-Goog-User-Project"),
        )
        latency = state.settings.latency_seconds
        if latency:
            time.sleep(latency)
        if admission.refusal is not None:
            raise admission.refusal
        return admission.fault is None or self._play(admission.fault)

    def _play(self, fault: Fault) -> bool:
        if fault.action == "delay":
            time.sleep(fault.delay_seconds)
            self.server.state.delayed(fault.delay_seconds)
            return True
        if fault.action == "status":
            raise ApiError(
                fault.status,
                f"Injected fault {fault.id}.",
                fault.status_name,
                fault.retry_after,
            )
        if fault.action == "malformed":
            self._send(200, JSON_TYPE, _TRUNCATED_JSON)
        elif fault.action == "html":
            self._send(200, "text/html; charset=UTF-8", _HTML_ERROR)
        elif fault.action == "reset":
            # Linger 0 makes close() send RST instead of FIN; rfile holds a reference to
            # the socket, so it must be closed first for the close to be real.
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.rfile.close()
            self.connection.close()
            self.close_connection = True
        else:  # drop: an orderly close with no answer at all
            self.close_connection = True
        return False

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class DataprocEmulator:
    """The emulator in this process: binds at construction (so ``base_url`` is known at
    once, even with port 0) and serves from a daemon thread between start and stop."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_seconds: float = 0.0,
        verbose: bool = False,
    ) -> None:
        self.state = EmulatorState(latency_seconds)
        self._server = _Server((host, port), self.state, verbose)
        bound_host, bound_port = self._server.socket.getsockname()[:2]
        self._base_url = f"http://{bound_host}:{bound_port}"
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self._base_url

    def start(self) -> DataprocEmulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="dataproc-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> DataprocEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
