"""The benchmarks' baseline: the least a function on the same push path could do.

It reads the same JSON message (``{"operation": NAME}``), makes the same three Dataproc
calls (GET, POST ``:cancel``, GET) with plain ``requests`` and publishes one result with
a default ``PublisherClient()`` (default batching: up to 10 ms of waiting), waiting for
Pub/Sub's confirmation. No validation, no verification loop, no retries, no logging:
whatever our function costs above this is the price of being right.

It imports the same four runtime packages as ours (functions-framework, google-auth,
requests, google-cloud-pubsub), so it is also the cold-start baseline.
"""

from __future__ import annotations

import base64
import json
import os
import threading

import functions_framework
import google.auth  # noqa: F401  (imported for a like-for-like cold start)
import requests
from cloudevents.http import CloudEvent
from google.cloud import pubsub_v1

_DATAPROC = f"http://{os.environ['DATAPROC_EMULATOR_HOST']}/v1"
_TOPIC = os.environ["RESULTS_TOPIC"]
_session = requests.Session()
_lock = threading.Lock()
_publisher: list[pubsub_v1.PublisherClient] = []


def _client() -> pubsub_v1.PublisherClient:
    """Built on first use, like ours: a gRPC channel made before gunicorn forks can hang."""
    with _lock:
        if not _publisher:
            _publisher.append(pubsub_v1.PublisherClient())
        return _publisher[0]


@functions_framework.cloud_event
def cancel_operation(event: CloudEvent) -> None:
    message = event.data["message"]
    name = json.loads(base64.b64decode(message["data"]))["operation"]
    _session.get(f"{_DATAPROC}/{name}", timeout=10).raise_for_status()
    _session.post(f"{_DATAPROC}/{name}:cancel", timeout=10).raise_for_status()
    after = _session.get(f"{_DATAPROC}/{name}", timeout=10).json()
    outcome = "CANCELLED" if after.get("error", {}).get("code") == 1 else "OTHER"
    body = json.dumps({"operation": name, "outcome": outcome}).encode()
    _client().publish(_TOPIC, body, outcome=outcome).result(timeout=30)
