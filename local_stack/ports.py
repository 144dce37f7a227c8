"""Free loopback ports for the local parts.

Only loopback is used: the suite must run on machines without network, and a port
bound on 127.0.0.1 is invisible to anything but this machine.
"""

from __future__ import annotations

import socket
import threading

LOOPBACK = "127.0.0.1"

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nobody listens on, never the same one twice in this process.

    The kernel may return a just-closed port again, and the caller binds it only later
    (in a child process), so two components started together could otherwise be
    given the same port.
    """
    with _lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((LOOPBACK, 0))
                port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
