"""The whole local deployment: Pub/Sub emulator, Dataproc emulator, function server,
wired as in production (trigger topic -> push subscription -> function -> results topic).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

from canceller.org_apis import ORG_APIS
from local_stack.dataproc_process import REPO_ROOT, DataprocEmulatorProcess
from local_stack.function_server import FunctionServer
from local_stack.ports import LOOPBACK, free_port
from local_stack.processes import ManagedProcess
from local_stack.pubsub_emulator import PubSubEmulator, ReceivedMessage, topic_path

TRIGGER_TOPIC = "cancel-requests"
TRIGGER_SUBSCRIPTION = "cancel-requests-push"
RESULTS_TOPIC = "results"
RESULTS_SUBSCRIPTION = "results-pull"


class LocalStack:
    """Start everything, wire the topics, and stop everything on exit.

    All ports are chosen up front so the three processes boot in parallel: the
    function only needs the emulators' addresses in its environment, not the
    emulators themselves, until the first message arrives.
    """

    def __init__(
        self,
        project: str = "demo-project",
        *,
        source: Path = REPO_ROOT,
        target: str = "stop_dataproc_work",
        function_env: Mapping[str, str] | None = None,
        dataproc_latency_ms: float | None = None,
        ack_deadline: int = 60,
        log_dir: Path | None = None,
        pubsub: PubSubEmulator | None = None,
    ) -> None:
        """``function_env`` goes over the defaults set here (e.g. to change
        ALLOWED_PROJECTS). ``ack_deadline`` (10..600 s) is also the push timeout: if the
        function takes longer, the emulator pushes the message again meanwhile.
        ``pubsub``, a running Pub/Sub emulator, is used instead of starting one (its Java
        start is the slowest part): the stack neither starts nor stops it, and deletes
        the topics and subscriptions it made when it stops, so that the next stack may
        make them again; two stacks on one emulator at a time need different projects.
        A test can also put a proxy in front of it and give the function the proxy's
        address as ``PUBSUB_EMULATOR_HOST`` in ``function_env``."""
        self.project = project
        self.ack_deadline = ack_deadline
        self.log_dir = log_dir if log_dir is not None else Path(tempfile.mkdtemp(prefix="stack-"))
        self._owns_pubsub = pubsub is None
        self.pubsub = pubsub or PubSubEmulator(log_dir=self.log_dir)
        self._wired: list[Callable[[], None]] = []  # how to undo each topic and subscription
        self.dataproc = DataprocEmulatorProcess(
            port=free_port(), latency_ms=dataproc_latency_ms, log_dir=self.log_dir
        )
        dataproc_host = f"{LOOPBACK}:{self.dataproc.port}"
        self.function_env = {
            "PUBSUB_EMULATOR_HOST": self.pubsub.host,
            "DATAPROC_EMULATOR_HOST": dataproc_host,
            # The Dataproc emulator also serves Billing Budgets, Cloud Billing, Resource
            # Manager and Cloud Asset, on the same port (dataproc_emulator/organisation.py).
            **{api.emulator_variable: dataproc_host for api in ORG_APIS},
            "GOOGLE_CLOUD_PROJECT": project,
            "RESULTS_TOPIC": topic_path(project, RESULTS_TOPIC),
            "ALLOWED_PROJECTS": project,
            **(function_env or {}),
        }
        self.function = FunctionServer(source, target, env=self.function_env, log_dir=self.log_dir)

    @property
    def _parts(self) -> tuple[ManagedProcess, ...]:
        started = (self.dataproc, self.function)
        return (self.pubsub, *started) if self._owns_pubsub else started

    def start(self) -> Self:
        try:
            for part in self._parts:
                part.launch()
            for part in self._parts:
                part.wait_ready()
            self._wire_topics()
        except BaseException:
            self.stop()
            raise
        return self

    def _wire_topics(self) -> None:
        pubsub, project = self.pubsub, self.project
        for topic in (TRIGGER_TOPIC, RESULTS_TOPIC):
            pubsub.create_topic(project, topic)
            self._wired.append(partial(pubsub.delete_topic, project, topic))
        pubsub.create_push_subscription(
            project,
            TRIGGER_SUBSCRIPTION,
            TRIGGER_TOPIC,
            self.function.push_endpoint(project, TRIGGER_TOPIC),
            ack_deadline=self.ack_deadline,
        )
        self._wired.append(partial(pubsub.delete_subscription, project, TRIGGER_SUBSCRIPTION))
        pubsub.create_pull_subscription(
            project, RESULTS_SUBSCRIPTION, RESULTS_TOPIC, ack_deadline=self.ack_deadline
        )
        self._wired.append(partial(pubsub.delete_subscription, project, RESULTS_SUBSCRIPTION))

    def stop(self) -> None:
        """Stop every part even if one fails to stop; the function first, so it does
        not see the emulators vanish mid-request. On an emulator the stack does not own,
        what it wired is then deleted, subscriptions before their topics."""
        errors = []
        undo = [] if self._owns_pubsub else self._wired[::-1]
        for step in (*(part.stop for part in reversed(self._parts)), *undo):
            try:
                step()
            except Exception as error:  # keep stopping the others
                errors.append(error)
        self._wired.clear()
        if errors:
            raise errors[0]

    def publish_trigger(self, data: bytes, attributes: dict[str, str] | None = None) -> str:
        """Publish to the trigger topic; the emulator pushes it to the function."""
        return self.pubsub.publish(self.project, TRIGGER_TOPIC, data, attributes)

    def pull_results(self, count: int, timeout: float = 30.0) -> list[ReceivedMessage]:
        """What the function published, acked; fewer than ``count`` if the time ran out."""
        return self.pubsub.pull_until(self.project, RESULTS_SUBSCRIPTION, count, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
