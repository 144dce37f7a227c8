"""A Pub/Sub message as the function receives it: the CloudEvent functions-framework
makes of a push (local_stack/pubsub_emulator.py, finding a, describes that conversion),
with a fixed message id and publish time so decoding can be checked offline."""

from __future__ import annotations

import base64
from typing import Any

from cloudevents.http import CloudEvent


def pubsub_event(body: bytes | str | None, attributes: dict[str, str] | None = None) -> CloudEvent:
    message: dict[str, Any] = {
        "messageId": "m-1",
        "publishTime": "2026-11-27T10:00:00.123456789Z",
        "attributes": attributes or {},
    }
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        message["data"] = base64.b64encode(raw).decode()
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/my-project/topics/cancel-requests",
            "id": "m-1",
        },
        {"message": message, "subscription": "projects/my-project/subscriptions/s"},
    )
