"""A loopback HTTP server answering JSON from a function of the request, for what the
Dataproc emulator will not do because Dataproc does not (a listing that pages forever, a
redirect elsewhere): local_stack's loopback server, with the query read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_stack.loopback_server import LoopbackServer, Received, loopback_server

# (method, path, query) -> (status, headers, JSON body or None)
Answer = Callable[[str, str, dict[str, str]], tuple[int, dict[str, str], Any]]


@contextmanager
def scripted_server(answer: Answer) -> Iterator[LoopbackServer]:
    def reply(got: Received) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(got.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        status, headers, body = answer(got.method, url.path, query)
        data = b"" if body is None else json.dumps(body).encode()
        return status, {"Content-Type": "application/json", **headers}, data

    with loopback_server(reply) as server:
        yield server
