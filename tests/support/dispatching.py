"""Messages through decode_trigger and handle_trigger against the Dataproc emulator, and
chains followed message by message, as Pub/Sub would deliver their continuations."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cloudevents.http import CloudEvent

from canceller.dispatch import Handled, handle_trigger
from canceller.message import decode_trigger
from canceller.org_apis import ORG_APIS
from canceller.results import Result
from canceller.runtime import Runtime
from dataproc_emulator import DataprocEmulator

PROJECT, REGION = "demo-project", "us-central1"
SCOPE = f"projects/{PROJECT}/regions/{REGION}"


class Served(Protocol):
    @property
    def base_url(self) -> str: ...


def environ(emulator: Served, **env: str) -> dict[str, str]:
    """The function's settings against ``emulator``, which also serves the organisation
    APIs (budgets, billing, Resource Manager, Cloud Asset)."""
    host = emulator.base_url.removeprefix("http://")
    return {
        "RESULTS_TOPIC": f"projects/{PROJECT}/topics/results",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "DATAPROC_EMULATOR_HOST": host,
        **{api.emulator_variable: host for api in ORG_APIS},
        "VERIFY_TIMEOUT_SECONDS": "5",
        **env,
    }


def event(
    body: Any, attributes: dict[str, str] | None = None, message_id: str = "m-1"
) -> CloudEvent:
    raw = body if isinstance(body, str) else json.dumps(body)
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//test",
            "id": message_id,
        },
        {
            "message": {
                "data": base64.b64encode(raw.encode()).decode(),
                "attributes": attributes or {},
                "messageId": message_id,
                "publishTime": datetime.now(UTC).isoformat(),
            }
        },
    )


def handle(
    emulator: Served,
    body: Any,
    attributes: dict[str, str] | None = None,
    message_id: str = "m-1",
    runtime: Runtime | None = None,
    organisation: bool = True,
    **env: str,
) -> Handled:
    """``organisation``: False leaves the organisation APIs out (no directory), as for a
    function of one project: a budget sweeps SWEEP_SCOPES, ALLOWED_ANCESTORS allows
    nothing."""
    runtime = runtime or Runtime(environ(emulator, **env))
    trigger = decode_trigger(event(body, attributes, message_id))
    directory = runtime.directory if organisation else None
    return handle_trigger(trigger, runtime.settings(), runtime.dataproc, directory, runtime.clock)


@dataclass
class ChainRun:
    """Every message of a chain, in order, with what each answered."""

    handled: list[Handled] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)

    @property
    def results(self) -> list[Result]:
        return [result for handled in self.handled for result in handled.results]

    def targets(self) -> list[str]:
        return [r.target for r in self.results if r.outcome.value != "SWEEP_SUMMARY"]


def follow_chain(
    emulator: DataprocEmulator,
    body: Any,
    *,
    limit: int,
    fresh_instance: bool = True,
    redeliver: bool = False,
    **env: str,
) -> ChainRun:
    """Deliver ``body``, then each continuation it hands on, until the chain ends or
    ``limit`` messages ran. ``fresh_instance``: each message on a new instance (its own
    request budget), as Cloud Run spreads a chain's messages. ``redeliver``: a message
    that asks for its redelivery is delivered again, as Pub/Sub would (a busy machine
    can leave a message no time to make progress)."""
    env = {"TRIGGER_TOPIC": f"projects/{PROJECT}/topics/triggers", **env}
    run = ChainRun()
    runtime = None
    message_id = "m-0"
    for number in range(limit):
        if fresh_instance or runtime is None:
            runtime = Runtime(environ(emulator, **env))
        run.messages.append(body)
        handled = handle(emulator, body, message_id=message_id, runtime=runtime)
        run.handled.append(handled)
        if handled.continuation is not None:
            body, message_id = handled.continuation.message, f"m-{number + 1}"
        elif not (redeliver and handled.transient_failures):
            break
        # else: Pub/Sub delivers the same message again (same id), as after a nack
    return run


def follow_fan_out(
    emulator: DataprocEmulator,
    body: Any,
    attributes: dict[str, str] | None = None,
    *,
    limit: int,
    **env: str,
) -> ChainRun:
    """Deliver ``body``, then everything it hands on (continuations and a fan-out's
    children), breadth first, each on a fresh instance, until none is left or ``limit``
    messages ran: a parent's whole tree, as Pub/Sub would deliver it."""
    env = {"TRIGGER_TOPIC": f"projects/{PROJECT}/topics/triggers", **env}
    run = ChainRun()
    queue: list[tuple[Any, dict[str, str] | None]] = [(body, attributes)]
    while queue and len(run.handled) < limit:
        message, message_attributes = queue.pop(0)
        runtime = Runtime(environ(emulator, **env))
        run.messages.append(message)
        handled = handle(
            emulator,
            message,
            message_attributes,
            message_id=f"m-{len(run.handled)}",
            runtime=runtime,
        )
        run.handled.append(handled)
        queue.extend((item.message, item.attributes()) for item in handled.continuations)
    return run
