"""dataproc-canceller: a Pub/Sub message names Dataproc work; we stop it, verify, and report.

The whole flow, for one Pub/Sub message:

1. decode   the message into validated targets and rejections (never raises)
2. handle   each target: read, stop, read until stopped; classify what really happened
            (a sweep too big for one message also yields a continuation; one over a
            budget, folder or organisation, a child sweep per project)
3. publish  one result per target to RESULTS_TOPIC, then any continuation (and a
            fan-out's child sweeps) to TRIGGER_TOPIC, and wait until Pub/Sub confirms each
4. log      one structured line per result
5. tell     the people (NOTIFY_WEBHOOK_URL): one chat message for the whole trigger, best
            effort, after the results are confirmed, never a cause for redelivery
6. return   to ack, or raise so Pub/Sub redelivers if a transient failure remains

Settings come from the environment (see docs/settings.md); clients are built on first use.
"""

from __future__ import annotations

import flask
import functions_framework
from cloudevents.http import CloudEvent
from google.auth.exceptions import DefaultCredentialsError

from canceller.dispatch import handle_defect, handle_trigger
from canceller.logs import log, log_result, trace_request
from canceller.message import decode_trigger
from canceller.notify import notify
from canceller.publishing import PublishFailed
from canceller.runtime import ConfigurationError, Runtime

_runtime = Runtime()


class RetryLater(RuntimeError):
    """Raised after publishing what is final, so Pub/Sub redelivers the rest."""


@functions_framework.cloud_event
def stop_dataproc_work(event: CloudEvent) -> None:
    settings = _runtime.settings()
    headers = flask.request.headers
    trace_request(
        headers.get("traceparent"), headers.get("X-Cloud-Trace-Context"), settings.function_project
    )
    trigger = decode_trigger(event)
    try:
        handled = handle_trigger(
            trigger, settings, _runtime.dataproc, _runtime.directory, clock=_runtime.clock
        )
    except (ConfigurationError, DefaultCredentialsError):
        raise  # a deployment problem: keep the message for redelivery until it is fixed
    except Exception as defect:  # ours: answer the message rather than loop on it
        handled = handle_defect(trigger, defect)
    try:
        _runtime.publisher().publish(handled.results)
        if handled.continuations and settings.trigger_topic:
            _runtime.publisher().hand_on(settings.trigger_topic, handled.continuations)
    except PublishFailed as failure:
        # The redelivery reads the work afresh and may find our own stop done: this line
        # keeps what this delivery saw (CANCELLED, say) where an operator can find it.
        log(
            "ERROR",
            f"results not confirmed, asking for redelivery: {failure}",
            messageId=trigger.info.message_id,
            unconfirmed=[f"{r.outcome.value} {r.key}" for r in handled.results][:100],
        )
        raise
    for result in handled.results:
        log_result(result)
    for note in handled.notes:
        log("INFO", note, messageId=trigger.info.message_id, triggerKind=trigger.info.kind)
    notify(handled.results, settings.notify_webhook, settings.notify_webhook_problem)
    if handled.transient_failures:
        log(
            "WARNING",
            f"transient failure, asking for redelivery: {handled.transient_failures[0]}",
            messageId=trigger.info.message_id,
            failures=len(handled.transient_failures),
        )
        raise RetryLater(handled.transient_failures[0])


@functions_framework.cloud_event
def cancel_operation(event: CloudEvent) -> None:
    """The entry point's first name, from when it stopped operations only: functions
    deployed before the rename name it (--entry-point=cancel_operation). Its own
    decorated function, as functions-framework registers the CloudEvent type by name."""
    stop_dataproc_work(event)
