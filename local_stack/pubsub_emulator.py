"""The official Pub/Sub emulator (Java, from the Cloud SDK) as a managed child process.

Admin calls, publish and pull go through the emulator's REST API with ``requests``:
no client library, no ``PUBSUB_EMULATOR_HOST`` games in the test process, and a
call costs about a millisecond. The emulator serves gRPC on the same port, so code
under test that uses google-cloud-pubsub with ``PUBSUB_EMULATOR_HOST=<host>``
reaches the same topics.

What the emulator really does (cloud-pubsub-emulator 0.8.20, Cloud SDK 528, found by
experiment; tests/e2e/test_local_stack.py keeps checking it):

(a) Push body. It POSTs ``Content-Type: application/json``, no CloudEvent headers::

        {"subscription": "projects/P/subscriptions/S",
         "message": {"data": "<base64>", "attributes": {...},
                     "messageId": "7", "message_id": "7",
                     "publishTime": "2026-...Z", "publish_time": "2026-...Z"}}

    ``data`` is always present: ``""`` for an attributes-only message. ``attributes``
    is always present (``{}`` when none). Ids and times come twice, camelCase and
    snake_case. ``orderingKey`` is NOT sent by push (pull does return it).
    functions-framework converts this body into a CloudEvent (``type``
    ``google.cloud.pubsub.topic.v1.messagePublished``, ``id`` = messageId) whose data
    is ``{"message": {"@type", "data", "attributes", "messageId", "publishTime"}}``:
    ``subscription`` is dropped. A body WITHOUT ``message.data`` (what real Pub/Sub
    may send for an empty payload) is not recognised and gets HTTP 400.
(b) Redelivery. Any non-2xx answer is a nack. Without a retry policy the message
    is pushed again every ~1.0 s, indefinitely (no backoff); other messages keep
    flowing meanwhile. With ``retryPolicy`` {min 2s, max 20s} the gaps grew:
    1.0, 3.9, 5.0, 6.0, 8.0 s. An answer slower than the ack deadline counts as a
    nack too: with a 10 s deadline and a 14 s handler the message was pushed again
    at 10.0 s while the first call was still running (a concurrent duplicate).
(c) Endpoint path. The push URL is used verbatim, path and query string included, so
    ``http://127.0.0.1:N/projects/P/topics/T`` gives functions-framework the topic
    and the CloudEvent ``source`` becomes ``//pubsub.googleapis.com/projects/P/topics/T``.
(d) Schemas. ``PROTOCOL_BUFFER`` schemas are refused with 501 UNIMPLEMENTED
    ("Protocol buffer support not implemented in emulator"). ``AVRO`` schemas work:
    a topic bound with JSON encoding accepts valid messages and refuses invalid JSON,
    missing fields, wrong types and attributes-only messages at publish time with
    400 INVALID_ARGUMENT "Could not parse message".

Also: names need at least 3 characters (``projects/p/topics/t`` is 400); an empty
pull without ``returnImmediately`` blocks about 90 s, so ``pull`` polls instead; the
binary keeps everything in memory (it has no ``--data-dir``; that gcloud flag only
places an env.yaml).
"""

from __future__ import annotations

import base64
import os
import shutil
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import requests

from local_stack.ports import LOOPBACK, free_port
from local_stack.processes import (
    POLL_INTERVAL_SECONDS,
    ManagedProcess,
    StartupError,
    answers_http,
    log_file,
)

BINARY_IN_SDK = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
WELL_KNOWN_SDK_ROOTS = (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"))

INSTALL_HINT = """\
Install it with ONE of:
  - Debian/Ubuntu, from Google's Cloud SDK apt repository
    (https://cloud.google.com/sdk/docs/install#deb):
        sudo apt-get install google-cloud-cli-pubsub-emulator default-jre-headless
  - a Cloud SDK installed from the tarball:
        gcloud components install pubsub-emulator beta
    plus a Java 8+ runtime on PATH (or JAVA_HOME).
Or point PUBSUB_EMULATOR_BIN at an existing cloud-pubsub-emulator launcher."""


class EmulatorNotInstalledError(StartupError):
    """The emulator or Java is missing; the message says how to install it."""


class PubSubApiError(RuntimeError):
    """The emulator answered a REST call with an error status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body}")
        self.status = status
        self.body = body


class ReceivedMessage(TypedDict):
    data: bytes
    attributes: dict[str, str]
    messageId: str
    publishTime: str
    orderingKey: str


def find_emulator_binary(environ: Mapping[str, str] | None = None) -> Path:
    """Locate ``cloud-pubsub-emulator``; an explicit ``PUBSUB_EMULATOR_BIN`` wins outright."""
    env = os.environ if environ is None else environ
    override = env.get("PUBSUB_EMULATOR_BIN")
    if override:
        if _is_executable_file(Path(override)):
            return Path(override)
        raise EmulatorNotInstalledError(
            f"PUBSUB_EMULATOR_BIN={override} is not an executable file.\n{INSTALL_HINT}"
        )
    roots = _sdk_roots(env)
    for root in roots:
        candidate = root / BINARY_IN_SDK
        if _is_executable_file(candidate):
            return candidate
    searched = ", ".join(str(root / BINARY_IN_SDK) for root in roots)
    raise EmulatorNotInstalledError(
        f"The Pub/Sub emulator was not found (looked at {searched}).\n{INSTALL_HINT}"
    )


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _sdk_roots(env: Mapping[str, str]) -> list[Path]:
    """Cloud SDK roots to search: gcloud's own first, since that is what the user runs."""
    roots = []
    gcloud = shutil.which("gcloud", path=env.get("PATH"))
    if gcloud:
        # /usr/bin/gcloud -> /usr/lib/google-cloud-sdk/bin/gcloud: the root is bin/..
        roots.append(Path(gcloud).resolve().parent.parent)
    if env.get("CLOUDSDK_ROOT_DIR"):
        roots.append(Path(env["CLOUDSDK_ROOT_DIR"]))
    roots.extend(WELL_KNOWN_SDK_ROOTS)
    return list(dict.fromkeys(roots))


def require_java(environ: Mapping[str, str] | None = None) -> None:
    """Fail before launching: the launcher's own error about Java is easy to miss in a log."""
    env = os.environ if environ is None else environ
    java_home = env.get("JAVA_HOME")
    if java_home and os.access(Path(java_home, "bin", "java"), os.X_OK):
        return
    if not java_home and shutil.which("java", path=env.get("PATH")):
        return
    where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
    raise EmulatorNotInstalledError(f"The Pub/Sub emulator needs Java: {where}.\n{INSTALL_HINT}")


class PubSubEmulator(ManagedProcess):
    """One emulator on a free loopback port; ``stop`` leaves no Java process behind."""

    name = "Pub/Sub emulator"

    def __init__(
        self, *, port: int | None = None, log_dir: Path | None = None, startup_timeout: float = 60.0
    ) -> None:
        """Raises EmulatorNotInstalledError right away if the emulator or Java is missing."""
        self.binary = find_emulator_binary()
        require_java()
        super().__init__(log_file(log_dir, "pubsub-emulator.log"), startup_timeout)
        self.port = port if port is not None else free_port()
        self.host = f"{LOOPBACK}:{self.port}"
        self.base_url = f"http://{self.host}"
        self._sessions = threading.local()

    def _argv(self) -> list[str]:
        return [str(self.binary), f"--host={LOOPBACK}", f"--port={self.port}"]

    def _is_ready(self) -> bool:
        return answers_http(self.base_url + "/")

    # -- admin -------------------------------------------------------------------

    def create_schema(
        self, project: str, schema_id: str, definition: str, schema_type: str = "AVRO"
    ) -> None:
        """Only AVRO works in the emulator; PROTOCOL_BUFFER gets 501 (finding d)."""
        self._call(
            "POST",
            f"/v1/projects/{project}/schemas?schemaId={schema_id}",
            {"type": schema_type, "definition": definition},
        )

    def create_topic(
        self, project: str, topic: str, *, schema: str | None = None, encoding: str = "JSON"
    ) -> None:
        """``schema`` is a schema id in ``project``; publishing is then validated."""
        body: dict[str, Any] = {}
        if schema is not None:
            body["schemaSettings"] = {
                "schema": f"projects/{project}/schemas/{schema}",
                "encoding": encoding,
            }
        self._call("PUT", f"/v1/{topic_path(project, topic)}", body)

    def create_pull_subscription(
        self, project: str, subscription: str, topic: str, ack_deadline: int = 60
    ) -> None:
        self._create_subscription(project, subscription, topic, ack_deadline, push_config={})

    def create_push_subscription(
        self, project: str, subscription: str, topic: str, endpoint: str, ack_deadline: int = 60
    ) -> None:
        """``ack_deadline`` is also the push timeout: a slower answer is redelivered
        while the first call still runs (finding b)."""
        self._create_subscription(
            project, subscription, topic, ack_deadline, push_config={"pushEndpoint": endpoint}
        )

    def _create_subscription(
        self,
        project: str,
        subscription: str,
        topic: str,
        ack_deadline: int,
        push_config: dict[str, str],
    ) -> None:
        self._call(
            "PUT",
            f"/v1/projects/{project}/subscriptions/{subscription}",
            {
                "topic": topic_path(project, topic),
                "ackDeadlineSeconds": ack_deadline,
                "pushConfig": push_config,
            },
        )

    def delete_subscription(self, project: str, subscription: str) -> None:
        """Its backlog goes with it: a subscription made again under the name starts empty."""
        self._call("DELETE", f"/v1/projects/{project}/subscriptions/{subscription}", {})

    def delete_topic(self, project: str, topic: str) -> None:
        self._call("DELETE", f"/v1/{topic_path(project, topic)}", {})

    # -- data --------------------------------------------------------------------

    def publish(
        self, project: str, topic: str, data: bytes, attributes: dict[str, str] | None = None
    ) -> str:
        """Publish one message and return its id once the emulator has accepted it."""
        message: dict[str, Any] = {"data": base64.b64encode(data).decode("ascii")}
        if attributes:
            message["attributes"] = attributes
        answer = self._call(
            "POST", f"/v1/{topic_path(project, topic)}:publish", {"messages": [message]}
        )
        return str(answer["messageIds"][0])

    def pull(
        self, project: str, subscription: str, max_messages: int = 100, timeout: float = 5.0
    ) -> list[ReceivedMessage]:
        """Wait up to ``timeout`` for messages, ack and return them ([] if none came).

        Polls with ``returnImmediately`` because a blocking pull on an empty
        subscription holds the request for ~90 s, and abandoning it client-side could
        leave messages leased to a request nobody reads until their ack deadline.
        """
        deadline = time.monotonic() + timeout
        path = f"/v1/projects/{project}/subscriptions/{subscription}"
        while True:
            answer = self._call(
                "POST", f"{path}:pull", {"maxMessages": max_messages, "returnImmediately": True}
            )
            received = answer.get("receivedMessages", [])
            if received:
                ack_ids = [item["ackId"] for item in received]
                self._call("POST", f"{path}:acknowledge", {"ackIds": ack_ids})
                return [_decode(item["message"]) for item in received]
            if time.monotonic() >= deadline:
                return []
            time.sleep(POLL_INTERVAL_SECONDS)

    def pull_until(
        self, project: str, subscription: str, count: int, timeout: float
    ) -> list[ReceivedMessage]:
        """Pull until ``count`` messages arrived or ``timeout`` passed; returns what came."""
        deadline = time.monotonic() + timeout
        messages: list[ReceivedMessage] = []
        while len(messages) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            messages.extend(self.pull(project, subscription, timeout=remaining))
        return messages

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url + path
        response = self._session().request(method, url, json=body, timeout=30)
        if not response.ok:
            raise PubSubApiError(method, url, response.status_code, response.text)
        return response.json() if response.content else {}

    def _session(self) -> requests.Session:
        """One keep-alive session per thread: benchmarks publish from several threads."""
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session


def topic_path(project: str, topic: str) -> str:
    return f"projects/{project}/topics/{topic}"


def _decode(message: dict[str, Any]) -> ReceivedMessage:
    return ReceivedMessage(
        data=base64.b64decode(message.get("data", "")),
        attributes=message.get("attributes", {}),
        messageId=message["messageId"],
        publishTime=message["publishTime"],
        orderingKey=message.get("orderingKey", ""),
    )
