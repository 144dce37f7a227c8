"""The end-to-end layer's stacks: one shared by the modules whose function settings are
the same, and one Pub/Sub emulator under the stacks the other modules start.

Starting a LocalStack costs about 2 s and stopping it about 3 s (the function server's
graceful stop is most of it), so the modules that can run on the same settings share
``stack`` for the session. The others override ``stack`` (or build their own) because a
test depends on a setting they set differently; those stacks run one module at a time,
so they share the session's ``pubsub_emulator`` (each deletes its topics and
subscriptions as it stops), sparing the Java start of all but one. "Session" is a
pytest-xdist worker's (dev/test.sh runs 4, a module whole to each): a worker that runs
end-to-end modules starts its own of each, and the modules it runs share them.

Isolation on a shared stack: ``inbox`` resets the Dataproc emulator before every test;
Pub/Sub message ids are unique across the whole emulator, and each test reads only the
results whose trigger (or sweep) it published; late results of an earlier test are
filed under that test's trigger and never counted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack import LocalStack, PubSubEmulator
from local_stack.stack import TRIGGER_TOPIC
from tests.support.e2e import ResultInbox

PROJECT = "demo-project"
SCOPE = f"projects/{PROJECT}/regions/us-central1"
# What test_push_to_result, test_message_forms and test_stopping_each_kind run on.
SHARED_SETTINGS = {
    "VERIFY_TIMEOUT_SECONDS": "2",
    # A job in SETUP_DONE for 0.8 s is cancelled within it (test_stopping_each_kind).
    "RETRY_DEADLINE_SECONDS": "2",
    "ALLOWED_PROJECTS": PROJECT,
    "SWEEP_SCOPES": SCOPE,
    # A budget's 12 targets take three messages (test_stopping_each_kind); no other
    # test sweeps more than 5.
    "MAX_CANCELS_PER_MESSAGE": "5",
    "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/{TRIGGER_TOPIC}",
}


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The stack of test_push_to_result, test_message_forms and test_stopping_each_kind
    (SHARED_SETTINGS). It has its own Pub/Sub emulator: it lives the whole session,
    beside the other modules' stacks in the same project and with the same topic names.

    The other modules keep a stack of their own, each for a setting a test depends on:

    - test_stopping_clusters: CLUSTER_INCIDENT_ACTION=stop (a cluster incident stops its
      cluster; test_stopping_each_kind holds the default, jobs, which only clears it),
      CLUSTER_DELETE_ALLOWED and the three-rung BUDGET_LADDER whose rungs it checks;
    - test_worth_and_chat: NOTIFY_WEBHOOK_URL, its chat receiver: the function posts after
      it publishes a trigger's results, so another module's late post would land in the
      counts of its next test;
    - test_organisation_budget: ALLOWED_ANCESTORS, with which the function reads Resource
      Manager about every project ALLOWED_PROJECTS does not list (test_push_to_result
      holds that a foreign project is never asked about), and 10 s deadlines;
    - test_reliability_faults and test_reliability_soak: a proxy between the function and
      Pub/Sub, and the deadlines and timeouts their fault matrix is calibrated to;
    - test_worth_and_chat_at_the_limits: DATAPROC_EMULATOR_HOST, a rewriting proxy;
    - test_local_stack: the echo function, and its own emulator, whose topics, schemas
      and subscriptions its tests make and leave.
    """
    with LocalStack(PROJECT, function_env=SHARED_SETTINGS) as running:
        yield running


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[PubSubEmulator]:
    """One emulator for the stacks the modules start one after another."""
    with PubSubEmulator() as running:
        yield running


@pytest.fixture
def inbox(stack: LocalStack) -> Iterator[ResultInbox]:
    """Results of the module's ``stack``, with the Dataproc emulator reset before every
    test."""
    box = ResultInbox(stack)
    box.admin.reset()
    yield box
    box.admin.close()
