"""deploy.sh: what it runs on a first run, a rerun and a dry run, checked with a fake gcloud;
and that the real gcloud accepts every command it runs or prints.

The fake gcloud, first on PATH, records each call and answers the existence checks from a
list of rules the test writes (absent unless a rule says otherwise). The real gcloud then
parses every recorded command offline, with no account: a command whose flags and values
are all valid gets as far as asking for credentials, and anything else is an error of ours.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from canceller.kinds import KINDS, SWEEPABLE, role_permissions
from canceller.org_apis import ORG_APIS
from canceller.role import permissions as role_cli_permissions
from canceller.webhook import NOTIFY_SECONDS
from tests.support.gcloud_offline import offline_env, real_gcloud
from tests.support.monitoring_messages import assert_strictly_valid, decode_all, kind_of, sdk_root

# Each deploy.sh run here costs seconds (a bash script calling a fake gcloud many times):
# the reruns and the repeated schedules, about a minute together, run with the long runs
# (dev/test.sh -m long, and .ci/run), keeping the plain suite well under ten minutes.
SLOW = pytest.mark.long

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy.sh"
PROJECT = "canceller-test-1"
OTHER_TARGET = "data-team-prod"
PROJECT_NUMBER = "123456789012"
FUNCTION = "dataproc-canceller"
REGION = "us-central1"
FUNCTION_SA = f"{FUNCTION}@{PROJECT}.iam.gserviceaccount.com"
INVOKER_SA = f"{FUNCTION}-invoker@{PROJECT}.iam.gserviceaccount.com"
PUBSUB_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
SERVICE = f"projects/{PROJECT}/locations/{REGION}/services/{FUNCTION}"
TRIGGER = f"projects/{PROJECT}/locations/{REGION}/triggers/{FUNCTION}-681513"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/eventarc-{REGION}-{FUNCTION}-681513-sub-402"
SCHEDULE = "0 * * * *"
TRIGGER_TOPIC = "dataproc-cancel-requests"
TRIGGER_TOPIC_KIND = "pubsub topics"
# What Settings.longest_message_seconds adds to RETRY_DEADLINE_SECONDS +
# VERIFY_TIMEOUT_SECONDS + 2 x PUBLISH_TIMEOUT_SECONDS: a chat notification's POST (3.05 s
# to connect, 5 s to answer) and a margin of 15.
MORE = NOTIFY_SECONDS + 15


def longest(retry: float = 60, verify: float = 60, publish: float = 30) -> int:
    """The function timeout deploy.sh sizes from these settings: the whole seconds."""
    return math.ceil(retry + verify + 2 * publish + MORE)


DEFAULT_TIMEOUT = longest()  # 204
# The role is canceller/kinds' (deploy.sh runs `python3 -m canceller.role`): never typed here.
PERMISSIONS = list(role_permissions())
# With --allow-cluster-delete, and only then, the role may delete clusters too.
DELETE_PERMISSIONS = list(role_permissions(frozenset({"CLUSTER_DELETE_ALLOWED"})))
# Organisation scale (canceller.role, from canceller/org_apis.py): a folder's or an
# organisation's role, a target project's then, and the billing account's.
DELETE = frozenset({"CLUSTER_DELETE_ALLOWED"})
SCOPE_PERMISSIONS = list(role_cli_permissions("--scope", DELETE))
PROJECT_SCOPE_PERMISSIONS = list(role_cli_permissions("--project-scope", DELETE))
BILLING_PERMISSIONS = list(role_cli_permissions("--billing-account", frozenset()))
# A folder under a folder under ORGANIZATION, and an organisation of its own.
TOP_FOLDER, NESTED_FOLDER = "111111111111", "222222222222"
ORGANIZATION, OTHER_ORGANIZATION = "333333333333", "444444444444"
BILLING_ACCOUNT = "012345-6789AB-CDEF01"  # in ORGANIZATION
ARGS = [
    f"--project={PROJECT}",
    f"--target-projects={PROJECT},{OTHER_TARGET}",
    "--sweep-schedule",
    SCHEDULE,
]
CHANNELS = [
    f"projects/{PROJECT}/notificationChannels/1234",
    "projects/ops-alerts-1/notificationChannels/99",
]
TABLE = "finops-data-1.dataproc.cancel_results"
BQ_TABLE = "finops-data-1:dataproc.cancel_results"
BQ_SUBSCRIPTION = f"{FUNCTION}-results-bigquery"
# Who may pull the switch besides the function: people, budgets, alert policies.
PUBLISHERS = ["user:oncall@example.com", "group:finops-admins@example.com"]
BUDGETS = ["0a1b2c3d-4e5f-4789-abcd-ef0123456789", "etl.monthly"]
ALERT_POLICIES = [
    "Dataproc cluster job running longer than 6 hours",
    "Dataproc interactive session with running executors for 8 hours",
]
BUDGET_PUBLISHER = "serviceAccount:billing-budget-alert@system.gserviceaccount.com"
MONITORING_AGENT = (
    f"serviceAccount:service-{PROJECT_NUMBER}"
    "@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
)
LADDER = "0.5:report,0.9:work,1.2:clusters"
# The cluster flags: a budget ladder up to stopping clusters, incidents that delete them.
CLUSTER_ARGS = [
    "--allow-cluster-delete",
    "--cluster-incident-action=delete",
    f"--budget-ladder={LADDER}",
    "--dataproc-cluster-operations-per-minute=50",
]
# The chat webhook's secret (its name: deploy.sh never sees the URL, the secret's value).
SECRET = "dataproc-canceller-webhook"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
# What the secret would hold: the fake gcloud answers a read of its value with this, so a
# deploy.sh that ever read it would be caught showing it.
SECRET_VALUE = "https://hooks.slack.com/services/T0FAKE0001/B0FAKE0002/n0tARealT0kenButSecret"
# Everything: alert policies, the BigQuery table, publishers and allowlists, clusters too,
# and notifications.
FULL_ARGS = [
    *ARGS,
    *(f"--notification-channel={channel}" for channel in CHANNELS),
    f"--results-bigquery-table={TABLE}",
    *(f"--publisher={member}" for member in PUBLISHERS),
    *(f"--allowed-budget={budget}" for budget in BUDGETS),
    *(f"--allowed-alert-policy={policy}" for policy in ALERT_POLICIES),
    *CLUSTER_ARGS,
    f"--notify-webhook-secret={SECRET}",
]
POLICY_NAMES = [
    f"{FUNCTION}: the kill switch failed to stop work",
    f"{FUNCTION}: trigger messages were dead-lettered",
    f"{FUNCTION}: the function is failing",
    f"{FUNCTION}: no executions (scheduled sweeps have stopped)",
]
# Calls that only read; every other call changes something.
READ_VERBS = {"describe", "list", "get-iam-policy", "get-value", "list-files-for-upload", "show"}
# Credentials, asked for only after gcloud has parsed and checked every flag and value.
NO_CREDENTIALS = "You do not currently have an active account selected."
# Commands gcloud answers offline, so they succeed without an account.
OFFLINE = (("config", "get-value"), ("meta", "list-files-for-upload"))

FAKE_GCLOUD = """\
#!{python}
'''Fake gcloud (and bq, whose calls are logged as "bq ..."): appends its call to
$FAKE_GCLOUD_LOG and answers from $FAKE_GCLOUD_STATE.'''
import json, os, re, sys

program = os.path.basename(sys.argv[0])
argv = sys.argv[1:] if program == "gcloud" else [program, *sys.argv[1:]]
line = " ".join(argv)
with open(os.environ["FAKE_GCLOUD_LOG"], "a+", encoding="utf-8") as log:
    log.seek(0)
    earlier = [" ".join(json.loads(entry)["argv"]) for entry in log]
    files = {{}}
    for arg in argv:
        path = arg.partition("=")[2]
        if arg.startswith("--") and path and os.path.isfile(path):
            files[path] = open(path, encoding="utf-8").read()
    log.write(json.dumps({{"argv": argv, "files": files}}) + "\\n")
with open(os.environ["FAKE_GCLOUD_STATE"], encoding="utf-8") as state:
    rules = json.load(state)
for rule in rules:
    if re.search(rule["match"], line) and (
        rule.get("after") is None or any(re.search(rule["after"], e) for e in earlier)
    ):
        sys.stdout.write(rule.get("stdout", ""))
        sys.stderr.write(rule.get("stderr", ""))
        sys.exit(rule.get("exit", 0))
if argv[:2] in (["bq", "show"], ["bq", "get-iam-policy"]):  # bq says so on stdout
    print("BigQuery error in " + argv[1] + " operation: Not found: the fake bq has none")
    sys.exit(2)
if "describe" in argv:
    sys.exit("ERROR: (gcloud) NOT_FOUND: the fake gcloud has no such resource")
"""


@dataclass
class Run:
    """One run of deploy.sh: its output and the gcloud calls it made, in order."""

    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]
    files: dict[str, str]  # contents of the files the calls named, read when they were made

    @property
    def changes(self) -> list[list[str]]:
        """The calls that change something, i.e. all but the existence checks."""
        return [argv for argv in self.calls if not READ_VERBS & set(_command_words(argv))]

    @property
    def printed_commands(self) -> list[list[str]]:
        """The gcloud arguments of the commands the script says it runs ('  + gcloud ...'),
        with bq commands as ["bq", ...]."""
        lines = [line[4:] for line in self.stdout.splitlines() if line.startswith("  + ")]
        return _gcloud_arguments(lines)

    def rendered(self, flag: str) -> dict[str, str]:
        """The files the calls passed with --FLAG=PATH, by path, as they were then."""
        return {
            _flag(argv, flag): self.files[_flag(argv, flag)]
            for argv in self.calls
            if any(arg.startswith(f"--{flag}=") for arg in argv)
        }


def _gcloud_arguments(lines: Iterable[str]) -> list[list[str]]:
    commands = [shlex.split(line) for line in lines]
    assert all(argv[0] in ("gcloud", "bq") for argv in commands), commands
    return [argv[1:] if argv[0] == "gcloud" else argv for argv in commands]


Rule = dict[str, Any]
Deploy = Callable[..., Run]


def rule(match: str, stdout: str = "", *, after: str | None = None, **extra: Any) -> Rule:
    """The fake's answer to calls matching ``match``; with ``after``, only once an earlier call
    matched it (a function can be described only after it was deployed)."""
    return {"match": match, "stdout": stdout, "after": after, **extra}


BASE_RULES = [
    rule(r"^config get-value project$", PROJECT + "\n"),
    rule(rf"^projects describe {PROJECT} ", PROJECT_NUMBER + "\n"),
    rule(r"^meta list-files-for-upload ", "canceller/settings.py\nrequirements.txt\n"),
    rule(
        r"^functions describe .*serviceConfig\.service,",
        f"{SERVICE}\t{TRIGGER}\n",
        after="^functions deploy",
    ),
    rule(rf"^eventarc triggers describe {TRIGGER} ", SUBSCRIPTION + "\n"),
    # The organisation above a folder, parent by parent; the billing account's.
    rule(rf"^resource-manager folders describe {NESTED_FOLDER} ", f"folders/{TOP_FOLDER}\n"),
    rule(rf"^resource-manager folders describe {TOP_FOLDER} ", f"organizations/{ORGANIZATION}\n"),
    rule(rf"^billing accounts describe {BILLING_ACCOUNT} ", f"organizations/{ORGANIZATION}\n"),
    # The webhook's secret exists, its latest version enabled; its value is never to be read.
    rule(r"^secrets describe ", f"projects/{PROJECT_NUMBER}/secrets/{SECRET}\n"),
    rule(r"^secrets versions describe latest ", "ENABLED\n"),
    rule(r"^secrets versions access ", SECRET_VALUE),
]


@pytest.fixture
def deploy(tmp_path: Path) -> Deploy:
    """Run deploy.sh with the fake gcloud; each call of the fixture is one run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("gcloud", "bq"):
        fake = bin_dir / program
        fake.write_text(FAKE_GCLOUD.format(python=sys.executable), encoding="utf-8")
        fake.chmod(0o755)
    scratch = tmp_path / "scratch"  # deploy.sh's mktemp -d, so generated files can be put back
    scratch.mkdir()
    counter = iter(range(1, 100))

    def run(
        args: Iterable[str],
        rules: list[Rule] = BASE_RULES,
        path: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> Run:
        number = next(counter)
        log = tmp_path / f"calls-{number}.jsonl"
        state = tmp_path / f"state-{number}.json"
        state.write_text(json.dumps(rules), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CANCELLER_", "CLOUDSDK_"))}
        env |= {
            "PATH": f"{bin_dir}{os.pathsep}{path or env['PATH']}",
            "FAKE_GCLOUD_LOG": str(log),
            "FAKE_GCLOUD_STATE": str(state),
            "TMPDIR": str(scratch),
            **(environment or {}),
        }
        completed = subprocess.run(
            [str(DEPLOY), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        entries = (
            [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        )
        files: dict[str, str] = {}
        for entry in entries:
            files |= entry["files"]
        return Run(
            completed.returncode,
            completed.stdout,
            completed.stderr,
            [entry["argv"] for entry in entries],
            files,
        )

    return run


def _command_words(argv: list[str]) -> list[str]:
    """The command and its positional arguments: the words before the first flag."""
    words = []
    for word in argv:
        if word.startswith("-"):
            break
        words.append(word)
    return words


def _flag(argv: list[str], name: str) -> str:
    values = [arg.split("=", 1)[1] for arg in argv if arg.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name} once in {argv}"
    return values[0]


def _find(calls: list[list[str]], *words: str) -> list[list[str]]:
    return [argv for argv in calls if argv[: len(words)] == list(words)]


def _bindings(calls: list[list[str]]) -> list[tuple[str, str, str, str]]:
    """(kind, resource, role, member) of every IAM grant the calls make."""
    grants = []
    for argv in calls:
        if argv[:2] == ["bq", "add-iam-policy-binding"]:
            grants.append(("bq", argv[-1], _flag(argv, "role"), _flag(argv, "member")))
        elif "add-iam-policy-binding" in argv:
            at = argv.index("add-iam-policy-binding")
            kind, resource = " ".join(argv[:at]), argv[at + 1]
            grants.append((kind, resource, _flag(argv, "role"), _flag(argv, "member")))
        elif argv[:2] == ["functions", "add-invoker-policy-binding"]:
            grants.append(("run services", argv[2], "roles/run.invoker", _flag(argv, "member")))
    return grants


def test_first_run_creates_everything_with_least_privilege(deploy: Deploy) -> None:
    run = deploy(ARGS)
    assert run.returncode == 0, run.stderr
    assert run.printed_commands == run.changes, "the output shows exactly what was run"
    assert f"Done: {len(run.changes)} change(s) made." in run.stdout

    (enable,) = _find(run.changes, "services", "enable")
    assert {"cloudfunctions.googleapis.com", "eventarc.googleapis.com"} <= set(enable)
    assert {"cloudscheduler.googleapis.com", "monitoring.googleapis.com"} <= set(enable)
    assert "bigquery.googleapis.com" not in enable, "only with --results-bigquery-table"
    assert not {
        "billingbudgets.googleapis.com",
        "cloudbilling.googleapis.com",
        "cloudasset.googleapis.com",
    } & set(enable), "only at organisation scale"
    accounts = _find(run.changes, "iam", "service-accounts", "create")
    assert [argv[3] for argv in accounts] == [FUNCTION, f"{FUNCTION}-invoker"]

    roles = _find(run.changes, "iam", "roles", "create")
    assert [_flag(argv, "project") for argv in roles] == [PROJECT, OTHER_TARGET]
    for argv in roles:
        assert sorted(_flag(argv, "permissions").split(",")) == PERMISSIONS

    (schema,) = _find(run.changes, "pubsub", "schemas", "create")
    assert _flag(schema, "type") == "protocol-buffer"
    assert _flag(schema, "definition-file") == str(REPO / "schemas" / "result.proto")
    topics = {argv[3]: argv for argv in _find(run.changes, "pubsub", "topics", "create")}
    assert set(topics) == {
        "dataproc-cancel-requests",
        "dataproc-cancel-results",
        "dataproc-cancel-requests-dead-letter",
    }
    assert _flag(topics["dataproc-cancel-results"], "schema") == "dataproc-cancel-results-schema"
    assert _flag(topics["dataproc-cancel-results"], "message-encoding") == "json"
    (dead_letters,) = _find(run.changes, "pubsub", "subscriptions", "create")
    assert _flag(dead_letters, "topic") == "dataproc-cancel-requests-dead-letter"
    assert _flag(dead_letters, "expiration-period") == "never"
    (policy,) = _find(run.changes, "pubsub", "subscriptions", "update")
    assert policy[3] == SUBSCRIPTION
    assert _flag(policy, "dead-letter-topic").endswith(
        "/topics/dataproc-cancel-requests-dead-letter"
    )
    assert _flag(policy, "ack-deadline") == str(DEFAULT_TIMEOUT + 60)

    (job,) = _find(run.changes, "scheduler", "jobs", "create", "pubsub")
    assert _flag(job, "schedule") == SCHEDULE
    assert json.loads(_flag(job, "message-body")) == {"sweep": {}}
    outcomes, time_to_stop, *sweeps, burn, saved, notifications = _find(
        run.changes, "logging", "metrics", "create"
    )
    assert outcomes[3] == f"{FUNCTION}-outcomes"
    config = run.files[_flag(outcomes, "config-from-file")]
    assert "EXTRACT(jsonPayload.outcome)" in config
    assert "kind: EXTRACT(jsonPayload.kind)" in config
    assert f'resource.labels.service_name="{FUNCTION}"' in config
    assert time_to_stop[3] == f"{FUNCTION}-time-to-stop"
    config = run.files[_flag(time_to_stop, "config-from-file")]
    assert "valueExtractor: EXTRACT(jsonPayload.elapsedSeconds)" in config
    assert "valueType: DISTRIBUTION" in config
    assert [argv[3] for argv in sweeps] == [
        f"{FUNCTION}-sweep-{figure}" for figure in ("found", "selected", "acted")
    ]
    for argv, field in zip(sweeps, ("sweepFound", "sweepSelected", "sweepActed"), strict=True):
        config = run.files[_flag(argv, "config-from-file")]
        assert f"valueExtractor: EXTRACT(jsonPayload.{field})" in config
        assert 'jsonPayload.outcome="SWEEP_SUMMARY"' in config
    for argv, name, field in (
        (burn, "burn-stopped", "burnUsdPerHour"),
        (saved, "saved-up-to", "savedUpToUsd"),
    ):
        assert argv[3] == f"{FUNCTION}-{name}"
        config = run.files[_flag(argv, "config-from-file")]
        assert f"valueExtractor: EXTRACT(jsonPayload.{field})" in config
        assert f'jsonPayload.outcome="CANCELLED" AND jsonPayload.{field}:*' in config
        assert "trigger_kind: EXTRACT(jsonPayload.triggerKind)" in config
    assert notifications[3] == f"{FUNCTION}-notifications"
    config = run.files[_flag(notifications, "config-from-file")]
    assert "notification: EXTRACT(jsonPayload.notification)" in config
    assert "notify_service: EXTRACT(jsonPayload.notifyService)" in config
    (dashboard,) = _find(run.changes, "monitoring", "dashboards", "create")
    assert json.loads(run.files[_flag(dashboard, "config-from-file")])["name"] == (
        f"projects/{PROJECT}/dashboards/{FUNCTION}"
    )
    assert not _find(run.calls, "alpha", "monitoring"), "no alert policy without a channel"
    assert not [argv for argv in run.calls if argv[0] == "bq"], "no table without the flag"
    assert not _find(run.calls, "secrets"), "no secret without --notify-webhook-secret"
    assert "secretmanager.googleapis.com" not in enable


# The stop each kind makes, as a Dataproc permission: a batch is stopped through its operation
# (canceller/kinds/batches.py, stop_path), so it needs no batch permission of its own to stop.
STOP_PERMISSIONS = {
    "operation": "dataproc.operations.cancel",
    "batch": "dataproc.operations.cancel",
    "job": "dataproc.jobs.cancel",
    "session": "dataproc.sessions.terminate",
    "cluster": "dataproc.clusters.stop",
}


def test_role_holds_exactly_what_the_code_calls() -> None:
    """Every kind is read with GET and stopped with its verb; only the kinds a sweep lists
    (canceller.kinds.SWEEPABLE: batches are swept through their operations) are listed. A
    cluster is deleted only with CLUSTER_DELETE_ALLOWED (--allow-cluster-delete)."""
    assert set(STOP_PERMISSIONS) == set(KINDS), "a new kind needs its stop permission here"
    called = (
        {f"dataproc.{kind.plural}.get" for kind in KINDS.values()}
        | {f"dataproc.{plural}.list" for plural in SWEEPABLE}
        | set(STOP_PERMISSIONS.values())
    )
    assert sorted(called) == PERMISSIONS
    assert "dataproc.batches.list" not in called
    assert sorted([*PERMISSIONS, "dataproc.clusters.delete"]) == DELETE_PERMISSIONS


def test_iam_grants_are_exactly_what_the_function_and_its_trigger_need(deploy: Deploy) -> None:
    run = deploy(FULL_ARGS)
    assert run.returncode == 0, run.stderr
    function, invoker = f"serviceAccount:{FUNCTION_SA}", f"serviceAccount:{INVOKER_SA}"
    assert sorted(_bindings(run.changes)) == sorted(
        [
            ("projects", PROJECT, f"projects/{PROJECT}/roles/dataproc_canceller", function),
            (
                "projects",
                OTHER_TARGET,
                f"projects/{OTHER_TARGET}/roles/dataproc_canceller",
                function,
            ),
            ("pubsub topics", "dataproc-cancel-results", "roles/pubsub.publisher", function),
            # A big sweep hands the rest of its work on as a message to the trigger topic.
            ("pubsub topics", "dataproc-cancel-requests", "roles/pubsub.publisher", function),
            # Whoever else may pull the switch: named people, the budgets' and the alert
            # policies' publishers.
            *(
                ("pubsub topics", "dataproc-cancel-requests", "roles/pubsub.publisher", member)
                for member in [*PUBLISHERS, BUDGET_PUBLISHER, MONITORING_AGENT]
            ),
            (
                "iam service-accounts",
                INVOKER_SA,
                "roles/iam.serviceAccountTokenCreator",
                PUBSUB_AGENT,
            ),
            ("run services", FUNCTION, "roles/run.invoker", invoker),
            (
                "pubsub topics",
                "dataproc-cancel-requests-dead-letter",
                "roles/pubsub.publisher",
                PUBSUB_AGENT,
            ),
            ("pubsub subscriptions", SUBSCRIPTION, "roles/pubsub.subscriber", PUBSUB_AGENT),
            # The BigQuery subscription writes as the Pub/Sub service agent, to this table only.
            ("bq", BQ_TABLE, "roles/bigquery.dataEditor", PUBSUB_AGENT),
            # The function reads the chat webhook's URL from this one secret.
            ("secrets", SECRET, SECRET_ACCESSOR, function),
        ]
    )


def test_function_is_deployed_private_retrying_and_configured(deploy: Deploy) -> None:
    run = deploy([*ARGS, "--verify-timeout=90", "--setting", "DRY_RUN=true"])
    assert run.returncode == 0, run.stderr
    (argv,) = _find(run.changes, "functions", "deploy")
    assert argv[2] == FUNCTION
    for flag in ("--gen2", "--retry", "--no-allow-unauthenticated"):
        assert flag in argv
    assert _flag(argv, "ingress-settings") == "internal-only"
    assert _flag(argv, "entry-point") == "stop_dataproc_work"
    assert _flag(argv, "source") == str(REPO)
    assert _flag(argv, "trigger-topic") == "dataproc-cancel-requests"
    assert _flag(argv, "service-account") == FUNCTION_SA
    assert _flag(argv, "trigger-service-account") == INVOKER_SA
    # RETRY_DEADLINE_SECONDS + VERIFY_TIMEOUT_SECONDS + 2 x PUBLISH_TIMEOUT_SECONDS + 15
    assert _flag(argv, "timeout") == f"{longest(verify=90)}s"
    assert _env(argv) == {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "RESULTS_TOPIC": f"projects/{PROJECT}/topics/dataproc-cancel-results",
        "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/dataproc-cancel-requests",
        "ALLOWED_PROJECTS": f"{PROJECT},{OTHER_TARGET}",
        "VERIFY_TIMEOUT_SECONDS": "90",
        "SWEEP_SCOPES": ",".join(
            f"projects/{target}/regions/{REGION}" for target in (PROJECT, OTHER_TARGET)
        ),
        "DATAPROC_REQUESTS_PER_MINUTE": "60",
        "DATAPROC_JOB_CANCELS_PER_MINUTE": "20",
        "DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE": "10",
        "CLUSTER_INCIDENT_ACTION": "jobs",
        "CLUSTER_DELETE_ALLOWED": "false",
        "DRY_RUN": "true",
    }
    assert re.fullmatch(r"deploy_digest=[0-9a-f]{32}", _flag(argv, "update-labels"))
    assert "--clear-secrets" in argv, "no --notify-webhook-secret: the function mounts none"


# --- (issue 15, item 7) a timeout that fits one message's work --------------------------


def _timeouts(run: Run) -> tuple[int, int]:
    """The function timeout deployed and the ack deadline set on the trigger's subscription."""
    (deployed,) = _find(run.changes, "functions", "deploy")
    (subscription,) = _find(run.changes, "pubsub", "subscriptions", "update")
    assert subscription[3] == SUBSCRIPTION
    return int(_flag(deployed, "timeout").removesuffix("s")), int(
        _flag(subscription, "ack-deadline")
    )


@pytest.mark.parametrize(
    ("flags", "timeout"),
    [
        ([], DEFAULT_TIMEOUT),
        # Today's 2 x verify + 60 gave 60 s: less than the 60 s retry deadline plus publishing.
        (["--verify-timeout=0"], longest(verify=0)),
        (["--setting", "RETRY_DEADLINE_SECONDS=120"], longest(retry=120)),
        (["--setting", "PUBLISH_TIMEOUT_SECONDS=2.5"], longest(publish=2.5)),
        # Rounded up: 60 + 60 + 2 x 0.3 + 8.05 + 15 = 143.65.
        (["--setting", "PUBLISH_TIMEOUT_SECONDS=0.3"], 144),
        (["--verify-timeout=240", "--setting", "RETRY_DEADLINE_SECONDS=216"], 540),
        (["--timeout=300"], 300),  # longer than needed is the caller's choice
    ],
    ids=["defaults", "no verification", "retry", "publish", "rounded up", "ceiling", "explicit"],
)
def test_function_timeout_and_ack_deadline_come_from_the_settings(
    deploy: Deploy, flags: list[str], timeout: int
) -> None:
    """The function timeout is Settings.longest_message_seconds of the very settings the
    function gets (rounded up); the push subscription waits that long plus a minute, at most
    Pub/Sub's 600 s, so it never gives up on a request that is still stopping work."""
    run = deploy([*ARGS, *flags])
    assert run.returncode == 0, run.stderr
    assert _timeouts(run) == (timeout, min(timeout + 60, 600))
    said = " ".join(run.stdout.split())
    assert f"function timeout {timeout} s, trigger ack deadline {min(timeout + 60, 600)} s" in said


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--timeout=90", "--setting", "RETRY_DEADLINE_SECONDS=120"],
            f"--timeout 90 is shorter than one message may take, {longest(retry=120)} s"
            " (RETRY_DEADLINE_SECONDS 120 + VERIFY_TIMEOUT_SECONDS 60 + 2 x"
            f" PUBLISH_TIMEOUT_SECONDS 30 + {MORE:g} s more: a chat notification, decoding,"
            " logging, a cold start)",
        ),
        (
            ["--verify-timeout=0", "--timeout=60"],
            f"--timeout 60 is shorter than one message may take, {longest(verify=0)} s",
        ),
        (
            [f"--timeout={DEFAULT_TIMEOUT - 1}"],
            f"Give --timeout {DEFAULT_TIMEOUT} or more (at most 540)",
        ),
        (
            ["--verify-timeout=240", "--setting", "RETRY_DEADLINE_SECONDS=300"],
            f"one message may take up to {longest(retry=300, verify=240)} s"
            " (RETRY_DEADLINE_SECONDS 300 + VERIFY_TIMEOUT_SECONDS 240 + 2 x"
            f" PUBLISH_TIMEOUT_SECONDS 30 + {MORE:g} s more: a chat notification, decoding,"
            " logging, a cold start), more than the 540 s an event-driven function may run",
        ),
        (
            ["--setting", "PUBLISH_TIMEOUT_SECONDS=300"],
            f"one message may take up to {longest(publish=300)} s",
        ),
    ],
    ids=[
        "shorter than a 120 s deadline",
        "no verification",
        "one second short",
        "ceiling",
        "publishing",
    ],
)
def test_a_timeout_that_cannot_hold_one_message_is_refused(
    deploy: Deploy, flags: list[str], message: str
) -> None:
    for args in ([*ARGS, *flags], [*ARGS, *flags, "--dry-run"]):
        run = deploy(args)
        assert run.returncode == 1
        assert message in " ".join(run.stderr.split())
        assert 'FAILED in step "Project and settings"' in run.stderr
        assert run.calls == [], "refused before any gcloud call"


@SLOW
def test_rerun_sets_the_ack_deadline_eventarc_left(deploy: Deploy) -> None:
    """A subscription still at Eventarc's deadline (users report 10 s) is corrected, alone."""
    first = deploy(FULL_ARGS)
    dead_letter = f"projects/{PROJECT}/topics/dataproc-cancel-requests-dead-letter"
    rules = [
        rule(rf"^pubsub subscriptions describe {SUBSCRIPTION} ", f"{dead_letter}\t10\t10\n"),
        *_rules_after(first),
    ]
    again = deploy(FULL_ARGS, rules)
    assert again.returncode == 0, again.stderr
    assert again.changes == [
        [
            "pubsub",
            "subscriptions",
            "update",
            SUBSCRIPTION,
            f"--ack-deadline={DEFAULT_TIMEOUT + 60}",
            f"--dead-letter-topic={dead_letter}",
            "--max-delivery-attempts=10",
        ]
    ]


def test_without_python3_it_refuses_rather_than_guess(deploy: Deploy, tmp_path: Path) -> None:
    """The timeout is computed by canceller/settings.py; without python3 nothing is deployed."""
    tools = tmp_path / "no-python"
    tools.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not Path(directory).is_dir():
            continue
        for program in Path(directory).iterdir():
            link = tools / program.name
            if not program.name.startswith("python") and not link.exists():
                link.symlink_to(program)
    run = deploy(ARGS, path=str(tools))
    assert run.returncode == 1
    assert "python3 not found: deploy.sh needs it" in run.stderr
    assert 'FAILED in step "Project and settings"' in run.stderr
    assert run.calls == []


def _env(deploy_argv: list[str]) -> dict[str, str]:
    env_vars = _flag(deploy_argv, "set-env-vars")
    assert env_vars.startswith("^;^"), "values hold commas, so ';' must be the delimiter"
    return dict(pair.split("=", 1) for pair in env_vars[3:].split(";"))


@pytest.mark.parametrize(
    ("flags", "requests", "cancels", "clusters", "said"),
    [
        (
            [],
            60,
            20,
            10,
            "each of up to 10 instances may make 60 Dataproc requests a minute: 600 in all (of"
            " Dataproc's default 7500 per project and region); and 20 job cancels a minute: 200"
            " in all (of 400); and 10 cluster stops or deletes a minute: 100 in all (of 200)",
        ),
        (
            ["--max-instances=3", "--dataproc-requests-per-minute=1000"],
            333,
            66,
            33,
            "each of up to 3 instances may make 333 Dataproc requests a minute: 999 in all",
        ),
        (
            [
                "--max-instances=500",
                "--dataproc-job-cancels-per-minute=100",
                "--dataproc-cluster-operations-per-minute=200",
            ],
            1,
            1,
            1,
            "and 1 job cancels a minute: 500 in all (of 400); and 1 cluster stops or deletes a"
            " minute: 500 in all (of 200)",
        ),
    ],
    ids=["defaults", "rounded down", "at least one each"],
)
def test_request_budget_is_divided_between_the_instances(
    deploy: Deploy, flags: list[str], requests: int, cancels: int, clusters: int, said: str
) -> None:
    run = deploy([*ARGS, *flags])
    assert run.returncode == 0, run.stderr
    (argv,) = _find(run.changes, "functions", "deploy")
    env = _env(argv)
    assert env["DATAPROC_REQUESTS_PER_MINUTE"] == str(requests)
    assert env["DATAPROC_JOB_CANCELS_PER_MINUTE"] == str(cancels)
    assert env["DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE"] == str(clusters)
    assert said in " ".join(run.stdout.split())


def test_monitoring_files_deploy_sh_renders_decode_into_the_apis_messages(deploy: Deploy) -> None:
    run = deploy(FULL_ARGS)
    assert run.returncode == 0, run.stderr
    policies = run.rendered("policy-from-file")
    dashboards = run.rendered("config-from-file")
    dashboards = {path: text for path, text in dashboards.items() if path.endswith(".json")}
    assert len(policies) == 4 and len(dashboards) == 1
    documents = {**policies, **dashboards}
    decoded = decode_all([(kind_of(path), text) for path, text in documents.items()])
    for (path, _), result in zip(documents.items(), decoded, strict=True):
        assert_strictly_valid(Path(path).name, result)
        message = result["message"]
        if kind_of(path) == "AlertPolicy":
            assert message["notificationChannels"] == CHANNELS
            assert message["userLabels"]["function"] == FUNCTION
    names = [json.loads(text)["displayName"] for text in policies.values()]
    assert names == POLICY_NAMES
    silent = json.loads(next(t for p, t in policies.items() if p.endswith("-silent.json")))
    assert silent["conditions"][0]["conditionAbsent"]["duration"] == f"{2 * 3600 + 600}s"


@SLOW  # gcloud start-ups, about 5 s on 2 cores; .ci/run runs it
def test_log_metric_configs_decode_into_the_logging_apis_message(deploy: Deploy) -> None:
    """Every log-based metric's configuration is a LogMetric of logging v2 as gcloud reads
    it, with nothing the API lacks; the money distributions' buckets reach what they count."""
    run = deploy(FULL_ARGS)
    assert run.returncode == 0, run.stderr
    configs = {
        argv[3]: run.files[_flag(argv, "config-from-file")]
        for argv in _find(run.changes, "logging", "metrics", "create")
    }
    assert len(configs) == 8
    decoded = decode_all([("LogMetric", text) for text in configs.values()])
    metrics = {}
    for (name, _), result in zip(configs.items(), decoded, strict=True):
        assert_strictly_valid(f"log-metric-{name}.yaml", result)
        metrics[name] = result["message"]

    def top(name: str) -> float:
        buckets = metrics[f"{FUNCTION}-{name}"]["bucketOptions"]["exponentialBuckets"]
        assert buckets["scale"] == 0.01, "from a cent"
        return buckets["scale"] * buckets["growthFactor"] ** buckets["numFiniteBuckets"]

    assert top("burn-stopped") >= 10_000, "dollars an hour"
    assert top("saved-up-to") >= 1_000_000, "a day of a big cluster, or a budget's month"
    for name in ("burn-stopped", "saved-up-to"):
        metric = metrics[f"{FUNCTION}-{name}"]
        assert set(metric["labelExtractors"]) == {"kind", "project", "trigger_kind"}
        assert metric["metricDescriptor"]["valueType"] == "DISTRIBUTION"
    notifications = metrics[f"{FUNCTION}-notifications"]
    assert set(notifications["labelExtractors"]) == {"notification", "notify_service"}
    assert notifications["metricDescriptor"]["valueType"] == "INT64"


def test_dashboard_charts_the_metrics_deploy_sh_creates(deploy: Deploy) -> None:
    """The money charts sum the distributions deploy.sh creates (their PromQL names, from the
    created names), and the notifications chart counts its counter."""
    run = deploy(FULL_ARGS)
    assert run.returncode == 0, run.stderr
    created = [argv[3] for argv in _find(run.changes, "logging", "metrics", "create")]
    (text,) = [t for p, t in run.rendered("config-from-file").items() if p.endswith(".json")]
    dashboard = json.loads(text)
    queries = [
        data_set["timeSeriesQuery"]
        for widget in dashboard["gridLayout"]["widgets"]
        for data_set in widget.get("xyChart", {}).get("dataSets", [])
    ]
    promql = [query["prometheusQuery"] for query in queries if "prometheusQuery" in query]
    summed = {
        name
        for name in created
        if any(f"logging_googleapis_com:user_{name.replace('-', '_')}_sum{{" in q for q in promql)
    }
    assert summed == {f"{FUNCTION}-burn-stopped", f"{FUNCTION}-saved-up-to"}
    assert len(promql) == 2
    filters = [
        query["timeSeriesFilter"]["filter"] for query in queries if "timeSeriesFilter" in query
    ]
    assert any(f'logging.googleapis.com/user/{FUNCTION}-notifications"' in f for f in filters)


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        ("*/15 * * * *", 2 * 900 + 600),
        pytest.param("* * * * *", 2 * 60 + 600, marks=SLOW),
        pytest.param("0 */6 * * *", 2 * 6 * 3600 + 600, marks=SLOW),
        ("30 2 * * *", None),  # daily: twice that is more than a day
        pytest.param("0 9 * * 1-5", None, marks=SLOW),  # weekdays: not an interval this reads
    ],
)
def test_sweep_alert_follows_the_schedule(
    deploy: Deploy, schedule: str, seconds: int | None
) -> None:
    run = deploy([f"--project={PROJECT}", f"--sweep-schedule={schedule}", *FULL_ARGS[4:]])
    assert run.returncode == 0, run.stderr
    silent = [t for p, t in run.rendered("policy-from-file").items() if p.endswith("-silent.json")]
    if seconds is None:
        assert silent == []
        assert "no 'sweeps stopped' alert" in run.stdout
    else:
        (text,) = silent
        assert json.loads(text)["conditions"][0]["conditionAbsent"]["duration"] == f"{seconds}s"


def test_results_table_dataset_and_bigquery_subscription(deploy: Deploy) -> None:
    run = deploy(FULL_ARGS)
    assert run.returncode == 0, run.stderr
    (enable,) = _find(run.changes, "services", "enable")
    assert "bigquery.googleapis.com" in enable
    (dataset,) = _find(run.changes, "bq", "mk", "--dataset")
    assert dataset[-1] == "finops-data-1:dataproc"
    assert _flag(dataset, "location") == REGION
    (table,) = _find(run.changes, "bq", "mk", "--table")
    assert table[-1] == BQ_TABLE
    assert _flag(table, "schema") == str(REPO / "deploy" / "bigquery" / "results-schema.json")
    assert _flag(table, "time_partitioning_field") == "publish_time"
    subscriptions = _find(run.changes, "pubsub", "subscriptions", "create")
    (bigquery,) = [argv for argv in subscriptions if argv[3] == BQ_SUBSCRIPTION]
    assert _flag(bigquery, "topic") == "dataproc-cancel-results"
    assert _flag(bigquery, "bigquery-table") == BQ_TABLE
    assert {"--use-topic-schema", "--write-metadata"} <= set(bigquery)
    # Dataset, table and grant come before the subscription (which needs the table), and
    # all before the function, whose new result fields the table must already have.
    order = [run.changes.index(argv) for argv in (dataset, table, bigquery)]
    (deployed,) = _find(run.changes, "functions", "deploy")
    assert order == sorted(order) and order[-1] < run.changes.index(deployed)


# --- (issue 15, item 11) who may pull the switch -------------------------------------------

INTRUDER = "user:intruder@example.com"
TOPIC_EDITOR = "user:pubsub-editor@example.com"
COMPUTE_SA = f"serviceAccount:{PROJECT_NUMBER}-compute@developer.gserviceaccount.com"
PIPELINE_SA = f"serviceAccount:pipeline@{PROJECT}.iam.gserviceaccount.com"
OTHER_INVOKERS = ["allUsers", "allAuthenticatedUsers", "user:developer@example.com"]


def _policy(*bindings: tuple[str, str]) -> str:
    """An IAM policy as deploy.sh reads it: one 'ROLE<TAB>MEMBER' line per member."""
    return "".join(f"{role}\t{member}\n" for role, member in bindings)


def _foreign_grants() -> list[Rule]:
    """Grants someone else made: publishers nobody named on the trigger topic, broader roles
    on it and on the project, and invokers of the function besides its push identity."""
    return [
        rule(
            r"^pubsub topics get-iam-policy dataproc-cancel-requests ",
            _policy(
                ("roles/pubsub.publisher", f"serviceAccount:{FUNCTION_SA}"),
                ("roles/pubsub.publisher", PUBLISHERS[0]),
                ("roles/pubsub.publisher", INTRUDER),
                ("roles/pubsub.publisher", BUDGET_PUBLISHER),
                ("roles/pubsub.publisher", MONITORING_AGENT),
                ("roles/pubsub.publisher", "allAuthenticatedUsers"),
                ("roles/pubsub.editor", TOPIC_EDITOR),
                ("roles/pubsub.viewer", "user:auditor@example.com"),
            ),
        ),
        rule(
            rf"^projects get-iam-policy {PROJECT} ",
            _policy(
                ("roles/editor", COMPUTE_SA),
                ("roles/owner", "user:owner@example.com"),
                ("roles/pubsub.publisher", PIPELINE_SA),
                ("roles/viewer", "user:auditor@example.com"),
            ),
        ),
        rule(
            rf"^run services get-iam-policy {FUNCTION} ",
            _policy(
                ("roles/run.invoker", f"serviceAccount:{INVOKER_SA}"),
                *(("roles/run.invoker", member) for member in OTHER_INVOKERS),
                ("roles/run.viewer", "user:auditor@example.com"),
            ),
        ),
        *BASE_RULES,
    ]


def _removals(calls: list[list[str]]) -> list[tuple[str, str, str, str]]:
    """(kind, resource, role, member) of every IAM grant the calls remove."""
    removed = []
    for argv in calls:
        if "remove-iam-policy-binding" in argv:
            at = argv.index("remove-iam-policy-binding")
            kind, resource = " ".join(argv[:at]), argv[at + 1]
            removed.append((kind, resource, _flag(argv, "role"), _flag(argv, "member")))
    return removed


def _trigger_publishers_added(calls: list[list[str]]) -> list[str]:
    return [
        member
        for kind, resource, role, member in _bindings(calls)
        if (kind, resource, role) == ("pubsub topics", TRIGGER_TOPIC, "roles/pubsub.publisher")
    ]


def test_trigger_topic_publishers_are_exactly_those_named(deploy: Deploy) -> None:
    """Publisher on the trigger topic is exactly: the function, each --publisher, and the
    budget and Monitoring publishers only with their allowlists. Others are removed and
    named; broader roles on the topic or the project are reported, never changed."""
    run = deploy(
        [*ARGS, f"--publisher={PUBLISHERS[0]}", f"--publisher={PUBLISHERS[1]}"], _foreign_grants()
    )
    assert run.returncode == 0, run.stderr
    assert _trigger_publishers_added(run.changes) == [PUBLISHERS[1]]
    removed = [
        (TRIGGER_TOPIC_KIND, TRIGGER_TOPIC, "roles/pubsub.publisher", member)
        for member in (INTRUDER, BUDGET_PUBLISHER, MONITORING_AGENT, "allAuthenticatedUsers")
    ]
    assert [r for r in _removals(run.changes) if r[0] == TRIGGER_TOPIC_KIND] == removed
    said = " ".join(run.stdout.split())
    assert f"{INTRUDER} may publish to the trigger topic {TRIGGER_TOPIC}, and so stop" in said
    assert f"to keep it: --publisher {INTRUDER}" in said
    assert "to keep it: --allowed-budget ID for each budget that may sweep" in said
    assert "to keep it: --allowed-alert-policy NAME for each policy that may stop work" in said
    assert f"{TOPIC_EDITOR} holds roles/pubsub.editor on the trigger topic" in said
    assert f"project-level roles/editor on {PROJECT}" in said and COMPUTE_SA in said
    assert f"project-level roles/pubsub.publisher on {PROJECT}" in said and PIPELINE_SA in said
    assert "user:owner@example.com" in said
    assert "auditor" not in said, "a role that cannot publish is nobody's business here"
    assert not [
        argv
        for argv in run.changes
        if argv[0] == "projects" and "remove-iam-policy-binding" in argv
    ], "project grants are never changed"


def test_budget_and_alert_policy_allowlists_let_their_publishers_in(deploy: Deploy) -> None:
    policies = [f" {ALERT_POLICIES[0]} ", ALERT_POLICIES[1]]  # blanks around a name are not kept
    run = deploy(
        [
            *ARGS,
            *(f"--allowed-budget={budget}" for budget in BUDGETS),
            *(f"--allowed-alert-policy={policy}" for policy in policies),
        ]
    )
    assert run.returncode == 0, run.stderr
    (argv,) = _find(run.changes, "functions", "deploy")
    env = _env(argv)
    assert env["ALLOWED_BUDGETS"] == ",".join(BUDGETS)
    assert env["ALLOWED_ALERT_POLICIES"] == ",".join(ALERT_POLICIES)
    assert sorted(_trigger_publishers_added(run.changes)) == sorted(
        [f"serviceAccount:{FUNCTION_SA}", BUDGET_PUBLISHER, MONITORING_AGENT]
    )
    # Without them, no budget or alert policy may publish, and the settings stay unset: any.
    plain = deploy(ARGS)
    assert _trigger_publishers_added(plain.changes) == [f"serviceAccount:{FUNCTION_SA}"]
    (argv,) = _find(plain.changes, "functions", "deploy")
    assert not {"ALLOWED_BUDGETS", "ALLOWED_ALERT_POLICIES"} & set(_env(argv))


def test_a_budget_publisher_without_an_allowlist_is_warned_about(deploy: Deploy) -> None:
    run = deploy([*ARGS, f"--publisher={BUDGET_PUBLISHER}", f"--publisher={MONITORING_AGENT}"])
    assert run.returncode == 0, run.stderr
    said = " ".join(run.stdout.split())
    assert "but no --allowed-budget is given: a notification of any budget" in said
    assert "but no --allowed-alert-policy is given: an incident of any alert policy" in said


@SLOW
def test_other_invokers_are_reported_and_removed_only_on_request(deploy: Deploy) -> None:
    run = deploy(ARGS, _foreign_grants())
    assert run.returncode == 0, run.stderr
    said = " ".join(run.stdout.split())
    for member in OTHER_INVOKERS:
        assert f"{member} may invoke the function (roles/run.invoker on {FUNCTION}), as if" in said
    assert "rerun with --remove-other-invokers" in said
    assert not _find(run.changes, "run", "services", "remove-iam-policy-binding")
    assert not _find(run.changes, "functions", "add-invoker-policy-binding"), "already there"

    removing = deploy([*ARGS, "--remove-other-invokers"], _foreign_grants())
    assert removing.returncode == 0, removing.stderr
    calls = _find(removing.changes, "run", "services", "remove-iam-policy-binding")
    assert [(argv[3], _flag(argv, "member"), _flag(argv, "role")) for argv in calls] == [
        (FUNCTION, member, "roles/run.invoker") for member in OTHER_INVOKERS
    ]
    for argv in calls:
        assert _flag(argv, "region") == REGION and _flag(argv, "project") == PROJECT
        assert "--all" in argv, "conditional bindings too"


def _mounted(deploy_argv: list[str]) -> str:
    """The variables a deploy command mounts from Secret Manager, as describe lists them."""
    secrets = [arg.split("=", 2)[1] for arg in deploy_argv if arg.startswith("--set-secrets=")]
    return ";".join(secrets)


def _rules_after(first: Run) -> list[Rule]:
    """What gcloud (and bq) would answer once the first run's changes exist."""
    (deployed,) = _find(first.changes, "functions", "deploy")
    digest = _flag(deployed, "update-labels").removeprefix("deploy_digest=")
    metric_rules = [
        rule(
            f"^logging metrics describe {argv[3]} ",
            first.files[_flag(argv, "config-from-file")]
            .splitlines()[0]
            .removeprefix("description: ")
            + "\n",
        )
        for argv in _find(first.changes, "logging", "metrics", "create")
    ]
    (enable,) = _find(first.changes, "services", "enable")
    policies: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kind, resource, role, member in _bindings(first.changes):
        if kind != "bq":
            policies[kind, resource].append(f"{role}\t{member}\n")
    results = f"projects/{PROJECT}/topics/dataproc-cancel-results"
    # Each role as the first run created it (with --allow-cluster-delete, with delete), in
    # its project or organisation, its permissions in another order.
    roles = [
        rule(
            rf"^iam roles describe {argv[3]} {re.escape(argv[4])} ",
            "\t" + ";".join(reversed(_flag(argv, "permissions").split(","))) + "\n",
        )
        for argv in _find(first.changes, "iam", "roles", "create")
    ]
    rules = [
        *BASE_RULES,
        rule(r"^services list ", "\n".join(enable[2:-1]) + "\n"),
        rule(r"^iam service-accounts describe ", "present\n"),
        *roles,
        *(
            rule(f"^{kind} get-iam-policy {re.escape(resource)} ", "".join(lines))
            for (kind, resource), lines in policies.items()
        ),
        rule(r"^pubsub schemas describe ", (REPO / "schemas" / "result.proto").read_text() + "\n"),
        rule(
            r"^pubsub topics describe dataproc-cancel-results ",
            f"{results}\tprojects/{PROJECT}/schemas/dataproc-cancel-results-schema\tJSON\n",
        ),
        rule(r"^pubsub topics describe ", "present\n"),
        rule(
            rf"^pubsub subscriptions describe {SUBSCRIPTION} ",
            f"projects/{PROJECT}/topics/dataproc-cancel-requests-dead-letter\t10"
            f"\t{DEFAULT_TIMEOUT + 60}\n",
        ),
        rule(
            rf"^pubsub subscriptions describe {BQ_SUBSCRIPTION} ",
            f"{BQ_TABLE.replace(':', '.')}\tTrue\tTrue\n",
        ),
        rule(r"^pubsub subscriptions describe ", "present\n"),
        rule(r"^functions describe .*serviceConfig\.service,", f"{SERVICE}\t{TRIGGER}\n"),
        # The digest, and the variables mounted from Secret Manager (the webhook's, if any).
        rule(r"^functions describe .*deploy_digest", f"{digest}\t{_mounted(deployed)}\n"),
        rule(
            r"^scheduler jobs describe ",
            f"{SCHEDULE}\tEtc/UTC\tprojects/{PROJECT}/topics/dataproc-cancel-requests\n",
        ),
        *metric_rules,
        rule(r"^bq show --format=json ", '{"kind": "bigquery#dataset"}\n'),
        rule(
            r"^bq show --schema --format=json ",
            json.dumps(json.loads((REPO / "deploy/bigquery/results-schema.json").read_text()))
            + "\n",
        ),
        rule(
            r"^bq get-iam-policy ",
            json.dumps(
                {"bindings": [{"role": "roles/bigquery.dataEditor", "members": [PUBSUB_AGENT]}]}
            ),
        ),
    ]
    for text in first.rendered("config-from-file").values():
        if text.lstrip().startswith("{"):
            labels = json.loads(text)["labels"]
            rules.append(
                rule(r"^monitoring dashboards describe ", f"{labels['deploy_digest']}\tetag-1\n")
            )
    listed = [
        f"{p['displayName']}\tprojects/{PROJECT}/alertPolicies/{n}\t{p['userLabels']['deploy_digest']}"
        for n, p in enumerate(json.loads(t) for t in first.rendered("policy-from-file").values())
    ]
    rules.append(rule(r"^alpha monitoring policies list ", "".join(f"{line}\n" for line in listed)))
    return rules


@SLOW
def test_rerun_changes_nothing_and_says_so(deploy: Deploy) -> None:
    first = deploy(FULL_ARGS)
    assert first.returncode == 0, first.stderr
    again = deploy(FULL_ARGS, _rules_after(first))
    assert again.returncode == 0, again.stderr
    assert again.changes == []
    assert "No changes: everything was already in place." in again.stdout
    assert again.calls, "a rerun still checks everything"
    assert _find(again.calls, "alpha", "monitoring", "policies", "list")
    assert _find(again.calls, "bq", "show")


@SLOW
def test_rerun_after_a_settings_change_redeploys_only_the_function(deploy: Deploy) -> None:
    first = deploy(FULL_ARGS)
    again = deploy([*FULL_ARGS, "--memory=512Mi"], _rules_after(first))
    assert again.returncode == 0, again.stderr
    assert [argv[:2] for argv in again.changes] == [["functions", "deploy"]]
    assert "Done: 1 change(s) made." in again.stdout


@SLOW
def test_rerun_updates_only_the_monitoring_that_changed(deploy: Deploy) -> None:
    """A policy whose deployed copy differs is replaced in place, found by its display name;
    a changed dashboard is replaced naming the etag it read."""
    first = deploy(FULL_ARGS)
    rules = _rules_after(first)
    (listing,) = [r for r in rules if r["match"].startswith("^alpha monitoring policies list")]
    lines = listing["stdout"].splitlines()
    lines[1] = lines[1].rsplit("\t", 1)[0] + "\tstale-digest"
    listing["stdout"] = "\n".join(lines) + "\n"
    rules.insert(0, rule(r"^monitoring dashboards describe ", "old-digest\tetag-7\n"))
    again = deploy(FULL_ARGS, rules)
    assert again.returncode == 0, again.stderr
    assert [argv[:4] for argv in again.changes] == [
        ["monitoring", "dashboards", "update", FUNCTION],
        ["alpha", "monitoring", "policies", "update"],
    ]
    (update,) = _find(again.changes, "alpha", "monitoring", "policies", "update")
    assert update[4] == f"projects/{PROJECT}/alertPolicies/1"
    assert (
        json.loads(again.files[_flag(update, "policy-from-file")])["displayName"]
        == (POLICY_NAMES[1])
    )
    (dashboard,) = _find(again.changes, "monitoring", "dashboards", "update")
    assert json.loads(again.files[_flag(dashboard, "config-from-file")])["etag"] == "etag-7"


@SLOW
def test_rerun_adds_new_result_fields_to_the_table(deploy: Deploy) -> None:
    first = deploy(FULL_ARGS)
    older = json.loads((REPO / "deploy/bigquery/results-schema.json").read_text())[1:]
    rules = [rule(r"^bq show --schema --format=json ", json.dumps(older)), *_rules_after(first)]
    again = deploy(FULL_ARGS, rules)
    assert again.returncode == 0, again.stderr
    assert again.changes == [
        ["bq", "update", f"--schema={REPO / 'deploy/bigquery/results-schema.json'}", BQ_TABLE]
    ]


@SLOW
def test_rerun_repairs_a_role_that_gained_permissions(deploy: Deploy) -> None:
    first = deploy(ARGS)
    rules = [
        rule(r"^iam roles describe ", "\t" + ";".join([*PERMISSIONS, "dataproc.clusters.delete"])),
        *_rules_after(first),
    ]
    again = deploy(ARGS, rules)
    updates = _find(again.changes, "iam", "roles", "update")
    assert [_flag(argv, "project") for argv in updates] == [PROJECT, OTHER_TARGET]
    assert all(sorted(_flag(argv, "permissions").split(",")) == PERMISSIONS for argv in updates)


# Without the two flags that allow deleting clusters: everything else of FULL_ARGS.
WITHOUT_DELETE = [
    arg
    for arg in FULL_ARGS
    if arg not in ("--allow-cluster-delete", "--cluster-incident-action=delete")
]


def test_cluster_flags_reach_the_function_and_the_role(deploy: Deploy) -> None:
    """--allow-cluster-delete is CLUSTER_DELETE_ALLOWED and dataproc.clusters.delete
    together; a rerun without it takes the permission away again (the role update names the
    whole list) and tells the function."""
    first = deploy(FULL_ARGS)
    assert first.returncode == 0, first.stderr
    roles = _find(first.changes, "iam", "roles", "create")
    assert [_flag(argv, "project") for argv in roles] == [PROJECT, OTHER_TARGET]
    for argv in roles:
        assert sorted(_flag(argv, "permissions").split(",")) == DELETE_PERMISSIONS
        assert "clusters delete, get, list, stop" in _flag(argv, "description")
    (deployed,) = _find(first.changes, "functions", "deploy")
    env = _env(deployed)
    assert {name: env[name] for name in env if "CLUSTER" in name or "BUDGET_" in name} == {
        "CLUSTER_DELETE_ALLOWED": "true",
        "CLUSTER_INCIDENT_ACTION": "delete",
        "BUDGET_LADDER": LADDER,
        "DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE": "5",  # 50 between 10 instances
    }
    assert "with dataproc.clusters.delete (--allow-cluster-delete)" in first.stdout

    again = deploy(WITHOUT_DELETE, _rules_after(first))
    assert again.returncode == 0, again.stderr
    assert [argv[:4] for argv in again.changes] == [
        ["iam", "roles", "update", "dataproc_canceller"],
        ["iam", "roles", "update", "dataproc_canceller"],
        ["functions", "deploy", FUNCTION, "--gen2"],
    ]
    for argv in _find(again.changes, "iam", "roles", "update"):
        assert sorted(_flag(argv, "permissions").split(",")) == PERMISSIONS
        assert "clusters get, list, stop;" in _flag(argv, "description")
    (deployed,) = _find(again.changes, "functions", "deploy")
    env = _env(deployed)
    assert (env["CLUSTER_DELETE_ALLOWED"], env["CLUSTER_INCIDENT_ACTION"]) == ("false", "jobs")
    assert "no dataproc.clusters.delete (--allow-cluster-delete adds it)" in again.stdout


def _normalise(argv: list[str], first: Run) -> list[str]:
    """A first run's command, with the values only a real run can know as placeholders."""
    (deployed,) = _find(first.changes, "functions", "deploy")
    known = {
        PROJECT_NUMBER: "<PROJECT_NUMBER>",
        SUBSCRIPTION: "<TRIGGER_SUBSCRIPTION>",
        _flag(deployed, "update-labels").removeprefix("deploy_digest="): "<DIGEST>",
        # Above a folder, and the billing account's: read with gcloud on a real run only.
        ORGANIZATION: "<ORGANIZATION>",
    }
    words = []
    for word in argv:
        for value, placeholder in known.items():
            word = word.replace(value, placeholder)
        # Generated files live in each run's own temporary directory.
        words.append(
            re.sub(r"=/\S+/((log-metric-|alert-)\S+|dashboard\.json)$", r"=GENERATED/\1", word)
        )
    return words


def test_dry_run_prints_the_first_run_and_calls_nothing(deploy: Deploy) -> None:
    dry = deploy([*FULL_ARGS, "--dry-run"])
    assert dry.returncode == 0, dry.stderr
    assert dry.calls == []
    first = deploy(FULL_ARGS)
    assert [_normalise(argv, first) for argv in dry.printed_commands] == [
        _normalise(argv, first) for argv in first.changes
    ]
    assert "none was run" in dry.stdout
    assert "EXTRACT(jsonPayload.outcome)" in dry.stdout, "the generated metric config is shown"
    assert f"a dry run does not check that secret {SECRET} exists in {PROJECT}" in dry.stdout


def test_dry_run_needs_an_explicit_project(deploy: Deploy) -> None:
    run = deploy(["--dry-run"])
    assert run.returncode == 2
    assert "give --project" in run.stderr
    assert run.calls == []


def test_failure_stops_and_names_the_step(deploy: Deploy) -> None:
    refuse = rule(
        r"^pubsub topics create ",
        stderr="ERROR: (gcloud.pubsub.topics.create) PERMISSION_DENIED: fake\n",
        exit=1,
    )
    run = deploy(ARGS, [refuse, *BASE_RULES])
    assert run.returncode != 0
    assert 'FAILED in step "Topics"' in run.stderr
    assert "PERMISSION_DENIED" in run.stderr
    assert run.changes[-1][:3] == ["pubsub", "topics", "create"], "nothing runs after a failure"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--setting", "MAX_CONCURRENCY=0"], "MAX_CONCURRENCY"),
        (
            ["--budget-ladder", "0.9:work", "--setting", "BUDGET_THRESHOLD=0.8"],
            "BUDGET_LADDER and BUDGET_THRESHOLD are both set",
        ),
    ],
    ids=["out of range", "ladder and threshold"],
)
def test_bad_function_setting_fails_before_any_change(
    deploy: Deploy, flags: list[str], message: str
) -> None:
    run = deploy([*ARGS, *flags])
    assert run.returncode != 0
    assert message in run.stderr
    assert 'FAILED in step "Project and settings"' in run.stderr
    assert run.calls == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument: --bogus"),
        (["--setting", "TOKEN=x"], "--setting TOKEN is not one of"),
        (["--setting", "TRIGGER_TOPIC=x"], "--setting TRIGGER_TOPIC is not one of"),
        # A webhook URL given bare, or as a name, is never echoed: it may be the secret.
        (
            ["--setting", "https://hooks.slack.com/services/T000/B000/SECRETXYZ"],
            "a --setting is not NAME=VALUE (what was given is not shown",
        ),
        (
            ["--setting", "https://chat.googleapis.com/v1/spaces/SPACE123/messages?key=k"],
            "--setting (not shown) is not one of",
        ),
        (["--verify-timeout", "600"], "--verify-timeout '600' is not valid"),
        (["--timeout", "600"], "--timeout '600' is not valid: a whole number from 1 to 540"),
        (["--timeout", "3m"], "--timeout '3m' is not valid"),
        (["--target-projects", "*"], "target project '*' is not valid"),
        (["--results-topic", "dataproc-cancel-requests"], "must differ"),
        (["--max-delivery-attempts", "200"], "--max-delivery-attempts '200' is not valid"),
        (["--notification-channel", "1234"], "--notification-channel '1234' is not valid"),
        (
            ["--notification-channel", "projects/p-1/notificationChannels/1"],
            "is not valid",
        ),
        (["--results-bigquery-table", "dataset.table"], "--results-bigquery-table 'dataset.table'"),
        (["--results-bigquery-table", "p-12345:d.t"], "PROJECT.DATASET.TABLE"),
        (["--dataproc-requests-per-minute", "0"], "--dataproc-requests-per-minute '0'"),
        (["--dataproc-job-cancels-per-minute", "401"], "a whole number from 1 to 400"),
        (["--sweep-schedule", '0 * * * *"; rm'], "--sweep-schedule"),
        (["--publisher", "allUsers"], "--publisher allUsers would let anyone stop everything"),
        (["--publisher", "allAuthenticatedUsers"], "would let anyone stop everything"),
        (["--publisher", "oncall@example.com"], "--publisher 'oncall@example.com' is not valid"),
        (["--publisher", "user:a@x.com,user:b@x.com"], "--publisher 'user:a@x.com,user:b@x.com'"),
        (["--allowed-budget", "a,b"], "--allowed-budget 'a,b' is not valid: a budget ID"),
        (["--allowed-alert-policy", "Long job; rm"], "--allowed-alert-policy 'Long job; rm'"),
        (["--allowed-alert-policy", "Jobs, sessions"], "without ',' or ';'"),
        (["--allowed-alert-policy", "  "], "--allowed-alert-policy '' is not valid"),
        (
            ["--setting", "CLUSTER_DELETE_ALLOWED=true"],
            "--setting CLUSTER_DELETE_ALLOWED: give --allow-cluster-delete instead, which also"
            " adds dataproc.clusters.delete to the role",
        ),
        (["--setting", "BUDGET_LADDER=1:work"], "sets it from --budget-ladder; give that flag"),
        (
            ["--setting", "DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE=5"],
            "sets it from --dataproc-cluster-operations-per-minute",
        ),
        (
            ["--cluster-incident-action", "delete"],
            "--cluster-incident-action delete needs --allow-cluster-delete",
        ),
        (
            ["--cluster-incident-action=delete", "--dry-run"],
            "--cluster-incident-action delete needs --allow-cluster-delete",
        ),
        (["--cluster-incident-action", "kill"], "'kill' is not valid: jobs, stop or delete"),
        (["--budget-ladder", "0.5:panic"], "--budget-ladder '0.5:panic' is not valid: RATIO:"),
        (["--budget-ladder", "0.9:work;DRY_RUN=false"], "--budget-ladder '0.9:work;DRY_RUN"),
        (["--dataproc-cluster-operations-per-minute", "201"], "a whole number from 1 to 200"),
        (
            ["--setting", "ALLOWED_ANCESTORS=folders/1"],
            "--setting ALLOWED_ANCESTORS: give --scope-folder F or --scope-organization O"
            " instead (repeatable), which also grant the function's role there",
        ),
        (["--scope-folder", "engineering"], "--scope-folder 'engineering' is not valid: a folder"),
        (["--scope-folder", "organizations/1"], "--scope-folder 'organizations/1' is not valid"),
        (["--scope-organization", "example.com"], "--scope-organization 'example.com' is not"),
        (["--billing-account", "my-account"], "--billing-account 'my-account' is not valid"),
        *(
            (["--setting", f"{name}_EMULATOR_HOST=127.0.0.1:8085"], "is not one of")
            for name in ("BILLING_BUDGETS", "CLOUD_BILLING", "RESOURCE_MANAGER", "CLOUD_ASSET")
        ),
    ],
)
def test_usage_errors_are_reported_before_any_call(
    deploy: Deploy, args: list[str], message: str
) -> None:
    run = deploy([f"--project={PROJECT}", *args])
    assert run.returncode == 2
    assert message in run.stderr
    assert run.calls == []


def test_every_function_setting_is_deployed_one_way_or_refused_on_purpose() -> None:
    """Each variable canceller/settings.py reads is a user setting (--setting), set from a
    flag, or for local tests only (an emulator host; never deployed), or derived
    (DATAPROC_PROJECT_REQUESTS_PER_MINUTE, from the per-instance budgets). A setting added
    there fails here until deploy.sh knows which."""
    settings = (REPO / "canceller" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'\benv(?:\.get\(|\[|,)\s*"([A-Z][A-Z0-9_]+)"', settings))
    # and each organisation API's emulator host, named in canceller/org_apis.py
    assert "env.get(api.emulator_variable" in settings
    read |= {api.emulator_variable for api in ORG_APIS}
    assert {"SWEEP_SCOPES", "DATAPROC_PROJECT_REQUESTS_PER_MINUTE"} <= read, "the pattern reads"
    source = DEPLOY.read_text(encoding="utf-8")
    user = source[source.index("readonly USER_SETTINGS=(") :]
    user_settings = set(user[: user.index(")")].split()[2:])
    flags = source[source.index("declare -rA SETTING_FLAGS=(") :]
    from_flags = set(re.findall(r"\[([A-Z_]+)\]=", flags[: flags.index("\n)")]))
    env = source[source.index("build_function_env() {") : source.index("\nper_instance() {")]
    from_flags |= set(re.findall(r"\[([A-Z_]+)\]=", env))
    from_flags |= set(re.findall(r"FUNCTION_ENV\[([A-Z_]+)\]=", env))
    local_only = {name for name in read if name.endswith("_EMULATOR_HOST")}
    assert {"CLOUD_ASSET_EMULATOR_HOST", "RESOURCE_MANAGER_EMULATOR_HOST"} <= local_only
    derived = {"DATAPROC_PROJECT_REQUESTS_PER_MINUTE"}
    assert read - user_settings - from_flags - local_only - derived == set()
    assert not (user_settings | from_flags) & local_only, "never deployed"
    assert "ALLOWED_ANCESTORS" in from_flags - user_settings
    assert {
        "SWEEP_REGIONS",
        "CLOUD_ASSET_REQUESTS_PER_MINUTE",
        "RESOURCE_MANAGER_REQUESTS_PER_MINUTE",
        "BILLING_REQUESTS_PER_MINUTE",
    } <= user_settings


def test_help_documents_every_flag_and_variable(deploy: Deploy) -> None:
    run = deploy(["--help"])
    assert run.returncode == 0
    assert run.calls == []
    source = DEPLOY.read_text(encoding="utf-8")
    parser = source[source.index("parse_args() {") : source.index("\nset_flag() {")]
    flags = set(re.findall(r"--[a-z][a-z-]+", parser))
    variables = set(re.findall(r"\bCANCELLER_[A-Z_]+", source))
    assert len(flags) > 28 and len(variables) > 23
    documented = set(re.findall(r"--[a-z][a-z-]+|\bCANCELLER_[A-Z_]+", run.stdout))
    assert (flags | variables) - documented == set()
    for setting in ("SWEEP_KINDS", "EXEMPT_LABEL"):
        assert setting in run.stdout
    said = " ".join(run.stdout.split())
    assert " ".join(PERMISSIONS) in said, "the role's permissions, from canceller/kinds"
    assert "and with --allow-cluster-delete: dataproc.clusters.delete" in said
    # What organisation scale adds, from canceller.role too.
    for extra in ("--project-scope", "--scope", "--billing-account"):
        settings = frozenset() if extra == "--billing-account" else DELETE
        added = sorted(set(role_cli_permissions(extra, settings)) - set(DELETE_PERMISSIONS))
        assert " ".join(added) in said, extra


def _teardown_commands(stdout: str) -> list[list[str]]:
    """The printed commands; a pipeline line 'A | awk ... | xargs -r -n1 B' gives A and B."""
    commands = []
    for line in stdout.splitlines():
        if not line.startswith(("gcloud ", "bq ")):
            continue
        if " | xargs " in line:
            head, _, tail = line.partition(" | ")
            commands.append(shlex.split(head))
            commands.append(shlex.split(tail.rpartition(" | ")[2])[3:])
        else:
            commands.append(shlex.split(line))
    return [argv[1:] if argv[0] == "gcloud" else argv for argv in commands]


def test_teardown_prints_commands_and_runs_none(deploy: Deploy) -> None:
    run = deploy(["--teardown", *FULL_ARGS])
    assert run.returncode == 0, run.stderr
    assert run.calls == []
    commands = _teardown_commands(run.stdout)
    deletions = [argv for argv in commands if not READ_VERBS & set(_command_words(argv))]
    assert all("--quiet" in argv or "--force" in argv for argv in deletions), (
        "piped to bash, nothing may prompt"
    )
    removed = [" ".join(word for word in argv if not word.startswith("--")) for argv in commands]
    assert removed == [
        f"functions delete {FUNCTION}",
        f"scheduler jobs delete {FUNCTION}-sweep",
        f"logging metrics delete {FUNCTION}-outcomes",
        f"logging metrics delete {FUNCTION}-time-to-stop",
        f"logging metrics delete {FUNCTION}-sweep-found",
        f"logging metrics delete {FUNCTION}-sweep-selected",
        f"logging metrics delete {FUNCTION}-sweep-acted",
        f"logging metrics delete {FUNCTION}-burn-stopped",
        f"logging metrics delete {FUNCTION}-saved-up-to",
        f"logging metrics delete {FUNCTION}-notifications",
        f"monitoring dashboards delete {FUNCTION}",
        "alpha monitoring policies list",
        "alpha monitoring policies delete",
        "pubsub subscriptions delete dataproc-cancel-requests-dead-letter-sub",
        f"pubsub subscriptions delete {BQ_SUBSCRIPTION}",
        f"bq rm {BQ_TABLE}",
        "bq rm finops-data-1:dataproc",
        "pubsub topics delete dataproc-cancel-requests dataproc-cancel-results"
        " dataproc-cancel-requests-dead-letter",
        "pubsub schemas delete dataproc-cancel-results-schema",
        f"projects remove-iam-policy-binding {PROJECT}",
        "iam roles delete dataproc_canceller",
        f"projects remove-iam-policy-binding {OTHER_TARGET}",
        "iam roles delete dataproc_canceller",
        f"secrets remove-iam-policy-binding {SECRET}",
        f"iam service-accounts delete {FUNCTION_SA}",
        f"iam service-accounts delete {INVOKER_SA}",
    ]
    assert f"#   gcloud secrets delete {SECRET} --project={PROJECT}" in run.stdout, (
        "the secret is the user's: said, not run"
    )
    (pipeline,) = [line for line in run.stdout.splitlines() if " | xargs " in line]
    assert f"awk -F'\\t' '$2 == \"{FUNCTION}\" {{ print $1 }}'" in pipeline, (
        "only this function's policies, matched exactly"
    )
    without_table = deploy(["--teardown", *ARGS])
    assert "bq rm" not in without_table.stdout
    assert "secrets" not in without_table.stdout


# --- (issue 16) organisation scale: folders, organisations, a billing account --------------

# Two folders of ORGANIZATION (one under the other), an organisation of its own, the
# billing account, and the settings organisation scale adds that deploy.sh passes on.
ORG_FLAGS = [
    f"--scope-folder={NESTED_FOLDER}",
    f"--scope-folder=folders/{TOP_FOLDER}",
    f"--scope-organization={OTHER_ORGANIZATION}",
    f"--billing-account=billingAccounts/{BILLING_ACCOUNT}",
    "--setting=SWEEP_REGIONS=us-east1,europe-west1",
    "--setting=CLOUD_ASSET_REQUESTS_PER_MINUTE=100",
    "--setting=RESOURCE_MANAGER_REQUESTS_PER_MINUTE=150",
    "--setting=BILLING_REQUESTS_PER_MINUTE=30",
    "--setting=SCOPE_CACHE_SECONDS=120",
]
ORG_ARGS = [*FULL_ARGS, *ORG_FLAGS]
ORG_ROLE = f"organizations/{ORGANIZATION}/roles/dataproc_canceller"
OTHER_ORG_ROLE = f"organizations/{OTHER_ORGANIZATION}/roles/dataproc_canceller"
BILLING_ROLE = f"organizations/{ORGANIZATION}/roles/dataproc_canceller_billing"
ORG_KINDS = ("resource-manager folders", "organizations", "billing accounts")
BILLING_APIS = {"billingbudgets.googleapis.com", "cloudbilling.googleapis.com"}
ASSET_API = "cloudasset.googleapis.com"


def _org_bindings(calls: list[list[str]]) -> list[tuple[str, str, str, str]]:
    """The grants on folders, organisations and billing accounts, in order."""
    return [grant for grant in _bindings(calls) if grant[0] in ORG_KINDS]


def _roles_created(calls: list[list[str]]) -> dict[tuple[str, str], list[str]]:
    """(role ID, --project=P or --organization=O) -> the created role's permissions."""
    return {
        (argv[3], argv[4]): sorted(_flag(argv, "permissions").split(","))
        for argv in _find(calls, "iam", "roles", "create")
    }


def test_scope_flags_and_billing_account_grant_each_its_organisations_role(
    deploy: Deploy,
) -> None:
    """A folder's or an organisation's role is its organisation's (custom roles live in a
    project or an organisation, and are granted within it): made once per organisation, with
    the Dataproc permissions and the reads that find where work is; the billing account gets
    the budget's reads; the target projects' role the reads a project can hold."""
    run = deploy(ORG_ARGS)
    assert run.returncode == 0, run.stderr
    member = f"serviceAccount:{FUNCTION_SA}"
    assert _org_bindings(run.changes) == [
        ("resource-manager folders", NESTED_FOLDER, ORG_ROLE, member),
        ("resource-manager folders", TOP_FOLDER, ORG_ROLE, member),
        ("organizations", OTHER_ORGANIZATION, OTHER_ORG_ROLE, member),
        ("billing accounts", BILLING_ACCOUNT, BILLING_ROLE, member),
    ]
    assert _roles_created(run.changes) == {
        ("dataproc_canceller", f"--project={PROJECT}"): PROJECT_SCOPE_PERMISSIONS,
        ("dataproc_canceller", f"--project={OTHER_TARGET}"): PROJECT_SCOPE_PERMISSIONS,
        ("dataproc_canceller", f"--organization={ORGANIZATION}"): SCOPE_PERMISSIONS,
        ("dataproc_canceller", f"--organization={OTHER_ORGANIZATION}"): SCOPE_PERMISSIONS,
        ("dataproc_canceller_billing", f"--organization={ORGANIZATION}"): BILLING_PERMISSIONS,
    }
    for argv in _find(run.changes, "iam", "roles", "create"):
        assert len(_flag(argv, "description")) <= 256, "IAM's limit for a role's description"
    # The organisation above each folder, parent by parent; an organisation is not walked.
    walked = [argv[3] for argv in _find(run.calls, "resource-manager", "folders", "describe")]
    assert walked == [NESTED_FOLDER, TOP_FOLDER, TOP_FOLDER]
    said = " ".join(run.stdout.split())
    assert f"folders/{NESTED_FOLDER} is in organizations/{ORGANIZATION}" in said
    for argv in run.changes:
        if argv[0] in ("resource-manager", "organizations") and "add-iam-policy-binding" in argv:
            assert "--condition=None" in argv, "their policies may hold conditional bindings"
    (enable,) = _find(run.changes, "services", "enable")
    assert {*BILLING_APIS, ASSET_API} <= set(enable)
    (deployed,) = _find(run.changes, "functions", "deploy")
    env = _env(deployed)
    assert env["ALLOWED_ANCESTORS"] == (
        f"folders/{NESTED_FOLDER},folders/{TOP_FOLDER},organizations/{OTHER_ORGANIZATION}"
    )
    assert {name: env[name] for name in env if name.endswith("_REQUESTS_PER_MINUTE")} == {
        "CLOUD_ASSET_REQUESTS_PER_MINUTE": "100",
        "RESOURCE_MANAGER_REQUESTS_PER_MINUTE": "150",
        "BILLING_REQUESTS_PER_MINUTE": "30",
        "DATAPROC_REQUESTS_PER_MINUTE": "60",
    }
    assert env["SWEEP_REGIONS"] == "us-east1,europe-west1"
    assert env["SCOPE_CACHE_SECONDS"] == "120"
    assert not [name for name in env if name.endswith("_EMULATOR_HOST")]
    # Every grant is in place before the function that needs it is deployed.
    grants = [n for n, argv in enumerate(run.changes) if "add-iam-policy-binding" in argv]
    assert max(grants[:6]) < run.changes.index(deployed)


@pytest.mark.parametrize(
    ("parent", "said"),
    [
        ("", f"billing account {BILLING_ACCOUNT} is in no organisation, so no custom role"),
        pytest.param(
            "billingAccounts/00AAAA-BBBBBB-CCCCCC",
            "is under billingAccounts/00AAAA-BBBBBB-CCCCCC, not an organisation",
            marks=SLOW,
        ),
    ],
    ids=["no organisation", "a reseller's subaccount"],
)
def test_a_billing_account_outside_an_organisation_gets_billing_viewer(
    deploy: Deploy, parent: str, said: str
) -> None:
    """roles/billing.viewer: read-only, and holds both billing.budgets.get and
    billing.resourceAssociations.list (roles/billing.costsManager may change budgets)."""
    rules = [rule(rf"^billing accounts describe {BILLING_ACCOUNT} ", parent + "\n"), *BASE_RULES]
    run = deploy([*ARGS, f"--billing-account={BILLING_ACCOUNT}"], rules)
    assert run.returncode == 0, run.stderr
    assert _org_bindings(run.changes) == [
        (
            "billing accounts",
            BILLING_ACCOUNT,
            "roles/billing.viewer",
            f"serviceAccount:{FUNCTION_SA}",
        )
    ]
    # No organisation role; the target projects may be read and searched (a budget over
    # them names them by number, and their work is found with Cloud Asset).
    plain_scope = sorted(role_cli_permissions("--project-scope", frozenset()))
    assert _roles_created(run.changes) == {
        ("dataproc_canceller", f"--project={PROJECT}"): plain_scope,
        ("dataproc_canceller", f"--project={OTHER_TARGET}"): plain_scope,
    }
    assert said in " ".join(run.stdout.split())
    assert not _find(run.calls, "resource-manager", "folders")
    (enable,) = _find(run.changes, "services", "enable")
    assert {*BILLING_APIS, ASSET_API} <= set(enable)
    (deployed,) = _find(run.changes, "functions", "deploy")
    assert "ALLOWED_ANCESTORS" not in _env(deployed)


def test_sweep_scopes_beyond_a_region_let_the_target_projects_be_searched(deploy: Deploy) -> None:
    """A sweep of a whole project finds where its work is with Cloud Asset. A folder no
    scope flag names is neither allowed nor granted: said, not granted."""
    scopes = f"projects/{OTHER_TARGET},folders/{TOP_FOLDER}"
    run = deploy([*ARGS, f"--setting=SWEEP_SCOPES={scopes}"])
    assert run.returncode == 0, run.stderr
    assert (
        f"SWEEP_SCOPES names folders/{TOP_FOLDER}, but no --scope-folder gives it: it is not in"
        " ALLOWED_ANCESTORS" in " ".join(run.stdout.split())
    )
    plain_scope = sorted(role_cli_permissions("--project-scope", frozenset()))
    assert _roles_created(run.changes) == {
        ("dataproc_canceller", f"--project={PROJECT}"): plain_scope,
        ("dataproc_canceller", f"--project={OTHER_TARGET}"): plain_scope,
    }
    (enable,) = _find(run.changes, "services", "enable")
    assert ASSET_API in enable and not BILLING_APIS & set(enable)
    assert not _org_bindings(run.changes)


def test_a_folder_whose_organisation_cannot_be_read_stops_the_run(deploy: Deploy) -> None:
    refuse = rule(
        rf"^resource-manager folders describe {TOP_FOLDER} ",
        stderr="ERROR: (gcloud.resource-manager.folders.describe) PERMISSION_DENIED: fake\n",
        exit=1,
    )
    run = deploy([*ARGS, f"--scope-folder={NESTED_FOLDER}"], [refuse, *BASE_RULES])
    assert run.returncode != 0
    assert 'FAILED in step "Organisation scopes"' in run.stderr
    said = " ".join(run.stderr.split())
    assert f"could not read folders/{TOP_FOLDER} to find the organisation above" in said
    assert "resourcemanager.folders.get" in said
    assert not _org_bindings(run.changes)
    assert not _find(run.changes, "functions", "deploy"), "nothing runs after a failure"


def test_dry_run_prints_the_organisation_scale_first_run(deploy: Deploy) -> None:
    """The organisations a real run reads (above a folder, the billing account's) are
    <ORGANIZATION>; everything else is the first run's."""
    dry = deploy([*ORG_ARGS, "--dry-run"])
    assert dry.returncode == 0, dry.stderr
    assert dry.calls == []
    first = deploy(ORG_ARGS)
    assert [_normalise(argv, first) for argv in dry.printed_commands] == [
        _normalise(argv, first) for argv in first.changes
    ]
    assert "a dry run does not read the billing account's organisation" in " ".join(
        dry.stdout.split()
    )


ORG_TEARDOWN_POLICY = "".join(
    f"{role}\t{member}\n"
    for role, member in [
        (ORG_ROLE, f"serviceAccount:{FUNCTION_SA}"),
        (BILLING_ROLE, f"serviceAccount:{FUNCTION_SA}"),
        ("roles/billing.viewer", f"serviceAccount:{FUNCTION_SA}"),
        (ORG_ROLE, "user:someone-else@example.com"),
        (
            f"organizations/{ORGANIZATION}/roles/not_dataproc_canceller",
            f"serviceAccount:{FUNCTION_SA}",
        ),
    ]
)


def test_teardown_removes_the_organisation_grants(deploy: Deploy, tmp_path: Path) -> None:
    """Teardown reads nothing, so a folder's and the billing account's grant (whose role's
    organisation it cannot know) is found in their policy by a pipeline; run here against a
    gcloud that prints a policy, each removes exactly the function's grant of our role."""
    run = deploy(["--teardown", *ORG_ARGS])
    assert run.returncode == 0, run.stderr
    assert run.calls == []
    removed = [
        " ".join(word for word in argv if not word.startswith("--"))
        for argv in _teardown_commands(run.stdout)
    ]
    # After the target projects' grants and roles:
    start = removed.index(f"projects remove-iam-policy-binding {OTHER_TARGET}") + 2
    assert removed[start:] == [
        f"resource-manager folders get-iam-policy {NESTED_FOLDER}",
        f"resource-manager folders remove-iam-policy-binding {NESTED_FOLDER}",
        f"resource-manager folders get-iam-policy {TOP_FOLDER}",
        f"resource-manager folders remove-iam-policy-binding {TOP_FOLDER}",
        f"organizations remove-iam-policy-binding {OTHER_ORGANIZATION}",
        f"billing accounts get-iam-policy {BILLING_ACCOUNT}",
        f"billing accounts remove-iam-policy-binding {BILLING_ACCOUNT}",
        "iam roles delete dataproc_canceller",
        f"secrets remove-iam-policy-binding {SECRET}",
        f"iam service-accounts delete {FUNCTION_SA}",
        f"iam service-accounts delete {INVOKER_SA}",
    ]
    assert "gcloud iam roles delete dataproc_canceller_billing --organization=ORGANIZATION_ID" in (
        run.stdout
    ), "the roles in organisations it cannot name are said, not run"
    fake = tmp_path / "teardown-bin" / "gcloud"
    fake.parent.mkdir()
    log = tmp_path / "teardown-calls"
    fake.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" get-iam-policy "*) cat {tmp_path / "policy"} ;;\n'
        f'*) printf "%s\\n" "$*" >>{log} ;; esac\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    (tmp_path / "policy").write_text(ORG_TEARDOWN_POLICY, encoding="utf-8")
    pipelines = [line for line in run.stdout.splitlines() if " | xargs " in line]
    assert len(pipelines) == 4  # the alert policies', two folders', the billing account's
    for line in pipelines[1:]:
        subprocess.run(
            ["bash", "-c", line],
            env={**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"},
            check=True,
            timeout=60,
        )
    calls = [
        (call.split()[:4], call.rpartition(" --role ")[2]) for call in log.read_text().splitlines()
    ]
    assert calls == [
        (["resource-manager", "folders", "remove-iam-policy-binding", NESTED_FOLDER], ORG_ROLE),
        (["resource-manager", "folders", "remove-iam-policy-binding", TOP_FOLDER], ORG_ROLE),
        (["billing", "accounts", "remove-iam-policy-binding", BILLING_ACCOUNT], BILLING_ROLE),
        (
            ["billing", "accounts", "remove-iam-policy-binding", BILLING_ACCOUNT],
            "roles/billing.viewer",
        ),
    ]


@SLOW
def test_organisation_scale_rerun_changes_nothing(deploy: Deploy) -> None:
    first = deploy(ORG_ARGS)
    assert first.returncode == 0, first.stderr
    again = deploy(ORG_ARGS, _rules_after(first))
    assert again.returncode == 0, again.stderr
    assert again.changes == []
    assert "No changes: everything was already in place." in again.stdout
    assert _find(again.calls, "resource-manager", "folders", "get-iam-policy")
    assert _find(again.calls, "billing", "accounts", "get-iam-policy")


def _deleted_organisation_role(first: Run) -> list[Rule]:
    """A rerun's answers where the organisation's role was deleted (and lost a permission)."""
    have = [p for p in SCOPE_PERMISSIONS if p != "resourcemanager.folders.get"]
    return [
        rule(
            rf"^iam roles describe dataproc_canceller --organization={ORGANIZATION} ",
            "True\t" + ";".join(have) + "\n",
        ),
        *_rules_after(first),
    ]


@SLOW
def test_organisation_scale_rerun_repairs_a_deleted_role(deploy: Deploy) -> None:
    """A deleted custom role keeps its ID for 7 days: undeleted, and set to exactly the list."""
    first = deploy(ORG_ARGS)
    again = deploy(ORG_ARGS, _deleted_organisation_role(first))
    assert again.returncode == 0, again.stderr
    assert [argv[:5] for argv in again.changes] == [
        ["iam", "roles", "undelete", "dataproc_canceller", f"--organization={ORGANIZATION}"],
        ["iam", "roles", "update", "dataproc_canceller", f"--organization={ORGANIZATION}"],
    ]
    (update,) = _find(again.changes, "iam", "roles", "update")
    assert sorted(_flag(update, "permissions").split(",")) == SCOPE_PERMISSIONS


# --- (issue 17) telling people: the chat webhook's secret ----------------------------------

NOTIFY_MOUNT = f"--set-secrets=NOTIFY_WEBHOOK_URL={SECRET}:latest"
WITHOUT_SECRET = [arg for arg in FULL_ARGS if not arg.startswith("--notify-webhook-secret")]


def _shows_no_secret(run: Run) -> None:
    """The secret's value is nowhere: never read (gcloud secrets versions access, which the
    fake would answer with it), so in no output, command or file."""
    assert not _find(run.calls, "secrets", "versions", "access")
    seen = [run.stdout, run.stderr, *(" ".join(argv) for argv in run.calls), *run.files.values()]
    assert not [text for text in seen if SECRET_VALUE in text]


def _secret_grants(calls: list[list[str]]) -> list[list[str]]:
    return _find(calls, "secrets", "add-iam-policy-binding")


@SLOW  # gcloud start-ups, about 5 s on 2 cores; .ci/run runs it
def test_webhook_url_is_mounted_from_its_secret_never_set_nor_shown(deploy: Deploy) -> None:
    """NOTIFY_WEBHOOK_URL comes from Secret Manager (--set-secrets), never --set-env-vars;
    the secret is checked by its metadata and granted to the function, alone, before the
    function is deployed (Cloud Run checks that access when it deploys)."""
    run = deploy(FULL_ARGS)
    assert run.returncode == 0, run.stderr
    (deployed,) = _find(run.changes, "functions", "deploy")
    assert NOTIFY_MOUNT in deployed and "--clear-secrets" not in deployed
    assert "NOTIFY_WEBHOOK_URL" not in _env(deployed), "never a plain setting"
    (enable,) = _find(run.changes, "services", "enable")
    assert "secretmanager.googleapis.com" in enable
    assert _find(run.calls, "secrets", "describe") == [
        ["secrets", "describe", SECRET, f"--project={PROJECT}", "--format=value(name)"]
    ]
    (version,) = _find(run.calls, "secrets", "versions", "describe")
    assert version[3:6] == ["latest", f"--secret={SECRET}", f"--project={PROJECT}"]
    (grant,) = _secret_grants(run.changes)
    assert grant[2] == SECRET and _flag(grant, "project") == PROJECT
    assert _flag(grant, "role") == SECRET_ACCESSOR
    assert _flag(grant, "member") == f"serviceAccount:{FUNCTION_SA}"
    assert "--condition=None" in grant, "a secret's policy may hold conditional bindings"
    assert run.changes.index(grant) < run.changes.index(deployed)
    assert f"secret {SECRET} in {PROJECT} has an enabled latest version" in run.stdout
    _shows_no_secret(run)


@pytest.mark.parametrize(
    ("given", "project", "mounted"),
    [
        (f"projects/{PROJECT}/secrets/{SECRET}", PROJECT, f"{SECRET}:latest"),
        (
            f"projects/{OTHER_TARGET}/secrets/chat_hook-2",
            OTHER_TARGET,
            f"projects/{OTHER_TARGET}/secrets/chat_hook-2:latest",
        ),
        (
            f"projects/{PROJECT_NUMBER}/secrets/{SECRET}",
            PROJECT_NUMBER,
            f"projects/{PROJECT_NUMBER}/secrets/{SECRET}:latest",
        ),
    ],
    ids=["this project", "another project", "by number"],
)
def test_the_secret_may_live_in_another_project(
    deploy: Deploy, given: str, project: str, mounted: str
) -> None:
    """gcloud functions deploy --help: --set-secrets takes SECRET:VERSION in the function's
    project, projects/PROJECT/secrets/SECRET:VERSION (an ID or a number) elsewhere."""
    run = deploy([*ARGS, f"--notify-webhook-secret={given}"])
    assert run.returncode == 0, run.stderr
    name = given.rsplit("/", 1)[1]
    (deployed,) = _find(run.changes, "functions", "deploy")
    assert f"--set-secrets=NOTIFY_WEBHOOK_URL={mounted}" in deployed
    assert [argv[2:4] for argv in _find(run.calls, "secrets", "describe")] == [
        [name, f"--project={project}"]
    ]
    (grant,) = _secret_grants(run.changes)
    assert (grant[2], _flag(grant, "project")) == (name, project)


def test_the_secret_flag_has_its_variable(deploy: Deploy) -> None:
    run = deploy(ARGS, environment={"CANCELLER_NOTIFY_WEBHOOK_SECRET": SECRET})
    assert run.returncode == 0, run.stderr
    (deployed,) = _find(run.changes, "functions", "deploy")
    assert NOTIFY_MOUNT in deployed
    assert len(_secret_grants(run.changes)) == 1


REFUSED_SETTING = "--setting NOTIFY_WEBHOOK_URL: the webhook URL is a secret, never a plain setting"
NOT_A_SECRET_NAME = "--notify-webhook-secret takes a Secret Manager secret's name"


@pytest.mark.parametrize(
    ("args", "environment", "message"),
    [
        (["--setting", f"NOTIFY_WEBHOOK_URL={SECRET_VALUE}"], {}, REFUSED_SETTING),
        (["--setting", f"NOTIFY_WEBHOOK_URL:{SECRET_VALUE}"], {}, REFUSED_SETTING),
        (
            [f"--notify-webhook-secret={SECRET}", "--dry-run"],
            {"CANCELLER_SETTINGS": f"DRY_RUN=true;NOTIFY_WEBHOOK_URL={SECRET_VALUE}"},
            REFUSED_SETTING,
        ),
        (["--notify-webhook-secret", SECRET_VALUE], {}, NOT_A_SECRET_NAME),
        ([], {"CANCELLER_NOTIFY_WEBHOOK_SECRET": SECRET_VALUE}, NOT_A_SECRET_NAME),
        (["--notify-webhook-secret=chat.hook"], {}, NOT_A_SECRET_NAME),  # gcloud refuses '.'
        (["--notify-webhook-secret=projects/P/secrets/hook"], {}, NOT_A_SECRET_NAME),
        (
            ["--notify-webhook-secret=projects/p-12345/secrets/hook/versions/2"],
            {},
            NOT_A_SECRET_NAME,
        ),
    ],
    ids=[
        "setting",
        "setting without =",
        "settings variable",
        "the URL as the secret",
        "the URL in the variable",
        "a dot",
        "a project that is no project",
        "a version",
    ],
)
def test_the_webhook_url_is_refused_as_a_setting_and_never_echoed(
    deploy: Deploy, args: list[str], environment: dict[str, str], message: str
) -> None:
    run = deploy([f"--project={PROJECT}", *args], environment=environment)
    assert run.returncode == 2
    assert message in run.stderr
    assert "--notify-webhook-secret NAME" in run.stderr or message == NOT_A_SECRET_NAME
    assert run.calls == []
    assert SECRET_VALUE not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            rule(r"^secrets describe ", stderr="ERROR: NOT_FOUND: fake\n", exit=1),
            f"secret {SECRET} not found in project {PROJECT} (or you may not read it). Create"
            " it with the webhook URL as its value (read keeps the URL out of your shell's"
            ' history): read -rs URL && printf %s "$URL" | gcloud secrets create'
            f" {SECRET} --project={PROJECT} --data-file=-",
        ),
        (
            rule(r"^secrets versions describe latest ", "DISABLED\n"),
            f"secret {SECRET}'s latest version is DISABLED, not ENABLED",
        ),
        (
            rule(r"^secrets versions describe latest ", stderr="ERROR: NOT_FOUND\n", exit=1),
            f"secret {SECRET}'s latest version is missing, not ENABLED: the function could not"
            " start with it. Add the webhook URL as a new version: read -rs URL && printf %s"
            f' "$URL" | gcloud secrets versions add {SECRET} --project={PROJECT} --data-file=-',
        ),
    ],
    ids=["no secret", "disabled", "no version"],
)
def test_a_secret_the_function_could_not_read_stops_the_run(
    deploy: Deploy, answer: Rule, message: str
) -> None:
    run = deploy([*ARGS, f"--notify-webhook-secret={SECRET}"], [answer, *BASE_RULES])
    assert run.returncode == 1
    assert 'FAILED in step "Notification secret"' in run.stderr
    assert message in " ".join(run.stderr.split())
    assert not _secret_grants(run.calls) and not _find(run.calls, "functions", "deploy")


@SLOW
def test_a_rerun_without_the_flag_unmounts_the_secret_and_says_so(deploy: Deploy) -> None:
    """Like every setting, the function's secrets are what this run says: without the flag,
    --clear-secrets, said when it takes one away; one mounted by hand since is taken away
    too, and a function that matches is left alone."""
    first = deploy(FULL_ARGS)
    again = deploy(WITHOUT_SECRET, _rules_after(first))
    assert again.returncode == 0, again.stderr
    (deployed,) = again.changes
    assert deployed[:2] == ["functions", "deploy"]
    assert "--clear-secrets" in deployed
    assert not [arg for arg in deployed if arg.startswith("--set-secrets")]
    said = " ".join(again.stdout.split())
    assert (
        "the function reads NOTIFY_WEBHOOK_URL from Secret Manager; without"
        " --notify-webhook-secret this deployment removes it (--clear-secrets), and nobody is"
        " told of what the function stops" in said
    )
    digest = _flag(deployed, "update-labels").removeprefix("deploy_digest=")
    by_hand = rule(r"^functions describe .*deploy_digest", f"{digest}\tNOTIFY_WEBHOOK_URL\n")
    third = deploy(WITHOUT_SECRET, [by_hand, *_rules_after(first)])
    assert [argv[:2] for argv in third.changes] == [["functions", "deploy"]]
    assert "--clear-secrets" in third.changes[0]
    matching = rule(r"^functions describe .*deploy_digest", f"{digest}\t\n")
    fourth = deploy(WITHOUT_SECRET, [matching, *_rules_after(first)])
    assert fourth.changes == []
    assert "removes it (--clear-secrets)" not in fourth.stdout
    # A secret volume mounted by hand is removed as well (--clear-secrets takes volumes
    # too), and said: a second review found it taken away silently.
    volume = rule(r"^functions describe .*deploy_digest", f"{digest}\t\t/etc/secrets\n")
    fifth = deploy(WITHOUT_SECRET, [volume, *_rules_after(first)])
    assert [argv[:2] for argv in fifth.changes] == [["functions", "deploy"]]
    assert "the function mounts secret volume(s) at /etc/secrets" in " ".join(fifth.stdout.split())


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, (
        "shellcheck is not installed: apt-get update && apt-get install -y shellcheck "
        "(Debian's package; .ci/run installs it)"
    )
    completed = subprocess.run(
        [shellcheck, "--severity=style", str(DEPLOY)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


# --- the real gcloud ------------------------------------------------------------------------


# bq, as the Cloud SDK ships it: its `bq` wrapper asks for credentials before bq parses
# anything, so bq.py itself is run, which parses every flag (names and enum values) first.
BQ_AUTH_ERROR = "Error retrieving auth credentials from gcloud"


def _bq_command(argv: list[str]) -> list[str]:
    sdk = Path(sdk_root())
    python = sdk / "platform" / "bundledpythonunix" / "bin" / "python3"
    return [
        str(python if python.exists() else sys.executable),
        str(sdk / "platform/bq/bq.py"),
        *argv,
    ]


def _check_withreal_gcloud(gcloud: str, argv: list[str], env: dict[str, str]) -> str | None:
    """None if the real gcloud (or bq) accepts the command's flags and values, else why not."""
    if argv[0] == "bq":
        completed = subprocess.run(
            _bq_command(argv[1:]),
            capture_output=True,
            text=True,
            env=env | {"HOME": env["CLOUDSDK_CONFIG"]},
            timeout=60,
            check=False,
        )
        output = " ".join((completed.stdout + completed.stderr).split())
        if BQ_AUTH_ERROR in output and "Flags parsing error" not in output:
            return None
        return f"{shlex.join(argv)}\n  exit {completed.returncode}:\n    {output[:300]}"
    completed = subprocess.run(
        [gcloud, *argv], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    if tuple(argv[:2]) in OFFLINE:
        accepted = completed.returncode == 0
    else:
        accepted = completed.returncode == 1 and NO_CREDENTIALS in completed.stderr
    if accepted:
        return None
    head = "\n    ".join(completed.stderr.strip().splitlines()[:4])
    return f"gcloud {shlex.join(argv)}\n  exit {completed.returncode}:\n    {head}"


def _printed_gcloud_commands(stdout: str) -> list[list[str]]:
    return _gcloud_arguments(line for line in stdout.splitlines() if line.startswith("gcloud "))


def _changed_monitoring_rules(first: Run) -> list[Rule]:
    """A rerun's answers where every policy and the dashboard differ from the files."""
    rules = _rules_after(first)
    for item in rules:
        if item["match"].startswith("^alpha monitoring policies list"):
            item["stdout"] = re.sub(r"\t[0-9a-f]{12}$", "\tstale", item["stdout"], flags=re.M)
    return [rule(r"^monitoring dashboards describe ", "stale\tetag-9\n"), *rules]


@pytest.mark.long  # ~90 s of gcloud start-ups on 2 cores; .ci/run runs it
def test_real_gcloud_accepts_every_command(deploy: Deploy, tmp_path: Path) -> None:
    gcloud = real_gcloud()
    # Everything, at organisation scale too: folders, an organisation, a billing account.
    first = deploy([*ORG_ARGS, "--print-wiring", "--budget-amount=500USD"])
    assert first.returncode == 0, first.stderr
    again = deploy(ORG_ARGS, _rules_after(first))
    changed = deploy(ORG_ARGS, _changed_monitoring_rules(first))  # the update commands
    # Removing publishers nobody named and other invokers; the ack deadline alone.
    foreign = deploy([*FULL_ARGS, "--remove-other-invokers"], _foreign_grants())
    assert _removals(foreign.changes), "the removal commands are checked too"
    # The cluster flags given up: the role updates that take dataproc.clusters.delete away,
    # in the target projects and in the organisations.
    without_delete = deploy([*WITHOUT_DELETE, *ORG_FLAGS], _rules_after(first))
    assert {argv[4].split("=")[0] for argv in _find(without_delete.changes, "iam", "roles")} == {
        "--project",
        "--organization",
    }
    # An organisation's role deleted: undeleted and updated.
    deleted = deploy(ORG_ARGS, _deleted_organisation_role(first))
    assert _find(deleted.changes, "iam", "roles", "undelete")
    # A billing account in no organisation: the predefined role.
    no_organisation = deploy(
        [*ARGS, f"--billing-account={BILLING_ACCOUNT}"],
        [rule(rf"^billing accounts describe {BILLING_ACCOUNT} ", "\n"), *BASE_RULES],
    )
    assert ("billing accounts", BILLING_ACCOUNT) in {
        b[:2] for b in _bindings(no_organisation.calls)
    }
    # The webhook's secret in another project (the runs above: in this one).
    elsewhere = deploy(
        [*ARGS, f"--notify-webhook-secret=projects/{PROJECT_NUMBER}/secrets/{SECRET}"]
    )
    assert _secret_grants(elsewhere.changes)
    teardown = deploy(["--teardown", *ORG_ARGS])
    deletions = _teardown_commands(teardown.stdout)
    for argv in deletions:  # xargs supplies the policy's name, or the grant's role
        if argv[:4] == ["alpha", "monitoring", "policies", "delete"]:
            argv.insert(4, f"projects/{PROJECT}/alertPolicies/123")
        if argv[-1] == "--role":
            argv.append(ORG_ROLE)
    commands = {
        tuple(argv)
        for argv in [
            *first.calls,
            *again.calls,
            *changed.calls,
            *foreign.calls,
            *without_delete.calls,
            # Of these two, only what differs from the runs above: the roles and grants.
            *(argv for argv in deleted.calls if argv[:2] == ["iam", "roles"]),
            *(argv for argv in no_organisation.calls if argv[0] == "billing"),
            # No webhook secret there: its deploy command clears the function's secrets.
            *_find(no_organisation.calls, "functions", "deploy"),
            *(argv for argv in elsewhere.calls if argv[0] == "secrets"),
            *_find(elsewhere.calls, "functions", "deploy"),
            *_printed_gcloud_commands(first.stdout),
            *deletions,
        ]
    }
    # Each kind of command organisation scale adds is among them.
    for words in [
        ("resource-manager", "folders", "describe"),
        ("resource-manager", "folders", "get-iam-policy"),
        ("resource-manager", "folders", "add-iam-policy-binding"),
        ("resource-manager", "folders", "remove-iam-policy-binding"),
        ("organizations", "get-iam-policy"),
        ("organizations", "add-iam-policy-binding"),
        ("organizations", "remove-iam-policy-binding"),
        ("billing", "accounts", "describe"),
        ("billing", "accounts", "get-iam-policy"),
        ("billing", "accounts", "add-iam-policy-binding"),
        ("billing", "accounts", "remove-iam-policy-binding"),
        ("iam", "roles", "undelete"),
        # and the webhook's secret: checked, granted, ungranted at teardown
        ("secrets", "describe"),
        ("secrets", "versions", "describe"),
        ("secrets", "get-iam-policy"),
        ("secrets", "add-iam-policy-binding"),
        ("secrets", "remove-iam-policy-binding"),
    ]:
        assert any(argv[: len(words)] == words for argv in commands), words
    deploys = [argv for argv in commands if argv[:2] == ("functions", "deploy")]
    assert any("--clear-secrets" in argv for argv in deploys)
    assert {arg for argv in deploys for arg in argv if arg.startswith("--set-secrets=")} == {
        NOTIFY_MOUNT,
        f"--set-secrets=NOTIFY_WEBHOOK_URL=projects/{PROJECT_NUMBER}/secrets/{SECRET}:latest",
    }
    assert {argv[4].split("=")[0] for argv in commands if argv[:2] == ("iam", "roles")} >= {
        "--project",
        "--organization",
    }
    assert len(commands) > 60
    assert {argv[0] for argv in commands} >= {"bq", "alpha", "monitoring"}
    # Files that deploy.sh generated and deleted again (log metric configs, rendered policies
    # and dashboards), put back where the commands name them: gcloud reads and decodes them
    # while it parses the flags.
    for run in (first, changed, foreign):
        for path, text in run.files.items():
            if not Path(path).is_relative_to(REPO):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(text, encoding="utf-8")
    configs = tmp_path / "gcloud-configs"  # one each: parallel runs share no state

    def check(numbered: tuple[int, tuple[str, ...]]) -> str | None:
        number, argv = numbered
        return _check_withreal_gcloud(gcloud, list(argv), offline_env(configs / str(number)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(pool.map(check, enumerate(sorted(commands))))
    problems = [verdict for verdict in verdicts if verdict is not None]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "argv",
    [
        ["pubsub", "topics", "create", "t-1", "--project=p-12345", "--message-encoding=xml"],
        [
            "pubsub",
            "topics",
            "add-iam-policy-binding",
            "t-1",
            "--project=p-12345",
            "--member=user:a@b.c",
            "--role=roles/pubsub.publisher",
            "--condition=None",
        ],
        [
            "pubsub",
            "schemas",
            "create",
            "s-1",
            "--project=p-12345",
            "--type=proto",
            "--definition=x",
        ],
    ],
    ids=["invalid value", "unknown flag", "invalid choice"],
)
def test_real_gcloud_check_catches_bad_commands(tmp_path: Path, argv: list[str]) -> None:
    """The check above can fail: gcloud refuses these before it asks for credentials."""
    verdict = _check_withreal_gcloud(real_gcloud(), argv, offline_env(tmp_path / "config"))
    assert verdict is not None
    assert "exit 2" in verdict
