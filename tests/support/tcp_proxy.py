"""A small TCP proxy that tests put between the function and the Pub/Sub emulator.

Pub/Sub faults cannot be injected into the emulator itself, and stopping the Java
emulator would also stop the push subscription and lose every message it holds. So the
function reaches Pub/Sub through this proxy while the push subscription and the tests'
own pulls stay direct, and the test decides, at any moment, what the function's
network sees: a working connection, a refusal, or a connection reset under its feet.

gRPC (the Pub/Sub publisher) keeps one long-lived HTTP/2 connection, so refusing new
connections alone would change nothing for it: ``refuse`` and ``cut`` therefore reset
the connections already open (RST, not FIN, as a crashed peer or a middlebox would),
and the client has to notice and reconnect, through the proxy, once it passes again.

Threads are bounded: one accept thread, and one forwarding thread per connection up to
``max_connections``; a connection beyond that is refused and counted. Every blocking
call has a timeout, so ``stop`` ends everything within a fraction of a second.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
_TICK_SECONDS = 0.05  # how often idle threads look at the proxy's mode and stop flag
_CHUNK_BYTES = 64 * 1024
_SEND_TIMEOUT_SECONDS = 5.0  # a peer that stops reading cannot hold a thread longer
_SETTLE_TIMEOUT_SECONDS = 5.0  # how long refuse/cut/pass_through wait to take effect


class Mode(Enum):
    PASS = "pass"  # forward every connection
    RESET = "reset"  # accept, then reset at once: a server that refuses to talk
    DOWN = "down"  # not listening at all: connect() gets ECONNREFUSED


@dataclass(frozen=True)
class ProxyStats:
    """Counters since start, for tests to prove what the client really went through."""

    accepted: int  # connections forwarded to the target
    refused: int  # connections reset at once (RESET mode, over the limit, target down)
    cut: int  # forwarded connections reset by refuse(), cut(), a cut reply, or stop()
    active: int  # forwarded connections open right now


class _Pair:
    """One client connection and its upstream twin; only its own thread closes them."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.doomed = threading.Event()  # set: reset both sides, forward nothing more
        self.cut_on_reply = threading.Event()  # set: doom it instead of forwarding a reply
        self.closed = threading.Event()


class TcpProxy:
    """Forward a free port on ``listen_host`` (``port`` once started) to the target."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = LOOPBACK,
        max_connections: int = 32,
    ) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.max_connections = max_connections
        self.port = 0  # known once start() has bound
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._mode = Mode.PASS
        self._listening = False
        self._stopping = False
        self._pairs: set[_Pair] = set()
        self._threads: set[threading.Thread] = set()
        self._accepted = self._refused = self._cut = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port``, the form PUBSUB_EMULATOR_HOST takes."""
        return f"{self.listen_host}:{self.port}"

    # -- control, from the test ----------------------------------------------------

    def pass_through(self) -> None:
        """Forward new connections again (listening again if ``refuse`` stopped it)."""
        self._set_mode(Mode.PASS)

    def refuse(self, *, stop_listening: bool = False) -> int:
        """Stop serving: reset the open connections, and from now on reset every new one
        as soon as it is accepted, or, with ``stop_listening``, close the port so that
        connecting fails outright, as with a server that is down. Returns how many open
        connections were reset."""
        self._set_mode(Mode.DOWN if stop_listening else Mode.RESET)
        return self.cut()

    def cut(self) -> int:
        """Reset every open connection now (RST to the client and to the target) and
        return how many; the mode does not change, so a client may reconnect at once."""
        with self._lock:
            doomed = list(self._pairs)
        for pair in doomed:
            pair.doomed.set()
        deadline = time.monotonic() + _SETTLE_TIMEOUT_SECONDS
        for pair in doomed:
            if not pair.closed.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError("a proxied connection was not reset in time")
        return len(doomed)

    def cut_at_next_reply(self) -> int:
        """Arm the open connections: the next bytes the target sends on one are thrown
        away and the connection is reset instead. The request got there and was acted
        on; only its answer is lost, which a client cannot tell from a request that was
        lost. Returns how many connections were armed."""
        with self._lock:
            armed = list(self._pairs)
        for pair in armed:
            pair.cut_on_reply.set()
        return len(armed)

    def stats(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(self._accepted, self._refused, self._cut, len(self._pairs))

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        listener = self._bind(0)
        self.port = listener.getsockname()[1]
        self._listener, self._listening = listener, True
        self._acceptor = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Reset every connection, close the port, and join every thread."""
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
        self.cut()
        if self._acceptor is not None:
            self._acceptor.join(_SETTLE_TIMEOUT_SECONDS)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(_SETTLE_TIMEOUT_SECONDS)
        alive = [thread.name for thread in threads if thread.is_alive()]
        if (self._acceptor is not None and self._acceptor.is_alive()) or alive:
            raise RuntimeError(f"tcp proxy threads still running: {alive}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------

    def _set_mode(self, mode: Mode) -> None:
        """Change the mode and wait until the accept thread has (un)bound the port, so
        that when this returns the new behaviour is what a client meets."""
        with self._lock:
            self._mode = mode
            self._changed.notify_all()
            settled = self._changed.wait_for(
                lambda: self._listening == (mode is not Mode.DOWN), _SETTLE_TIMEOUT_SECONDS
            )
        if not settled:
            raise RuntimeError(f"the proxy did not switch to {mode.value} in time")

    def _bind(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.listen_host, port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)  # accept() only after select(): never blocks
        return listener

    def _accept_loop(self) -> None:
        """Owns the listening socket: only this thread binds, accepts and closes it."""
        try:
            while True:
                with self._lock:
                    if self._stopping:
                        return
                    mode = self._mode
                self._follow_mode(mode)
                if self._listener is None:
                    time.sleep(_TICK_SECONDS)
                    continue
                readable, _, _ = select.select([self._listener], [], [], _TICK_SECONDS)
                if not readable:
                    continue
                try:
                    client, _ = self._listener.accept()
                except OSError:  # the client gave up between select and accept
                    continue
                self._admit(client)
        finally:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def _follow_mode(self, mode: Mode) -> None:
        """Close the port in DOWN mode, bind the same port again otherwise."""
        if mode is Mode.DOWN and self._listener is not None:
            self._listener.close()
            self._listener = None
        elif mode is not Mode.DOWN and self._listener is None:
            with contextlib.suppress(OSError):  # the port is busy: try again next tick
                self._listener = self._bind(self.port)
        with self._lock:
            self._listening = self._listener is not None
            self._changed.notify_all()

    def _admit(self, client: socket.socket) -> None:
        if not self._admissible():
            self._reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=_SEND_TIMEOUT_SECONDS)
        except OSError:  # the target itself is down: the client sees a reset
            self._reset(client)
            return
        for sock in (client, upstream):
            sock.settimeout(_SEND_TIMEOUT_SECONDS)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(client, upstream)
        thread = threading.Thread(target=self._forward, args=(pair,), name="tcp-proxy-pair")
        thread.daemon = True
        with self._lock:
            # Checked again under the lock that refuse()/cut() take: a connection is
            # either registered before they look, or sees their mode and is reset.
            admitted = self._admissible_locked()
            if admitted:
                self._pairs.add(pair)
                self._threads.add(thread)
                self._accepted += 1
        if not admitted:
            _abort(upstream)
            self._reset(client)
            return
        thread.start()

    def _admissible(self) -> bool:
        with self._lock:
            return self._admissible_locked()

    def _admissible_locked(self) -> bool:
        return (
            self._mode is Mode.PASS
            and not self._stopping
            and len(self._pairs) < self.max_connections
        )

    def _reset(self, sock: socket.socket) -> None:
        _abort(sock)
        with self._lock:
            self._refused += 1

    def _forward(self, pair: _Pair) -> None:
        """Copy bytes both ways until either side closes or the pair is doomed."""
        peer = {pair.client: pair.upstream, pair.upstream: pair.client}
        try:
            while not pair.doomed.is_set():
                readable, _, _ = select.select(list(peer), [], [], _TICK_SECONDS)
                if pair.doomed.is_set():
                    break
                for sock in readable:
                    data = sock.recv(_CHUNK_BYTES)
                    if not data:  # an orderly close on one side ends the pair
                        return
                    if sock is pair.upstream and pair.cut_on_reply.is_set():
                        pair.doomed.set()
                        return
                    peer[sock].sendall(data)
        except OSError:
            return  # a peer reset or timed out: close the other side too
        finally:
            cut = pair.doomed.is_set()
            for sock in (pair.client, pair.upstream):
                if cut:
                    _abort(sock)
                else:
                    sock.close()
            with self._lock:
                self._pairs.discard(pair)
                self._threads.discard(threading.current_thread())
                self._cut += int(cut)
            pair.closed.set()


def _abort(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, which sends RST instead of FIN: the peer sees a reset."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
