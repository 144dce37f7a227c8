"""A tiny incoming-webhook receiver on loopback, standing in for Google Chat or Slack:
it records every request, whole, and answers as it is told (200 ``ok`` unless told
otherwise). NOTIFY_WEBHOOK_URL accepts plain http to loopback for exactly this
(canceller/webhook.py), so the demo and the tests see what the function posts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from local_stack.loopback_server import Answer, LoopbackServer, Received, loopback_server


@dataclass
class Receiver(LoopbackServer):
    def url(self, path: str = "/services/T0LOCAL/B0LOCAL/local-receiver") -> str:
        """A URL to it, in Slack's shape by default."""
        return super().url(path)

    def texts(self) -> list[str]:
        """The ``text`` of every message received, in order."""
        return [str(request.json().get("text", "")) for request in list(self.requests)]


def _ok(_: Received) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/plain"}, b"ok"  # Slack's answer to a good post


@contextmanager
def chat_receiver(answer: Answer = _ok) -> Iterator[Receiver]:
    with loopback_server(answer) as server:
        yield Receiver(server.host, server.requests)  # the same list: it keeps recording
