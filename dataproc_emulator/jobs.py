"""Scripted cluster jobs, rendered as the Job resource at the instant they are read.

Like operations, a job stores only *when* things happen (submitted, seeded, due to
finish, cancel requested); its status and statusHistory are worked out from the clock
on every read, so thousands of jobs need no timers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import failed_precondition, invalid
from .listing import FilterLanguage
from .records import new_uuid, timestamp

TERMINAL = frozenset({"CANCELLED", "DONE", "ERROR"})
# The server's own words: "cancellable states: '[PENDING, RUNNING]'"
# (googleapis/google-cloud-java#3754, a SETUP_DONE job).
CANCELLABLE = ("PENDING", "RUNNING")
# ListJobsRequest.JobStateMatcher as documented: ACTIVE is "PENDING, RUNNING, or
# CANCEL_PENDING", NON_ACTIVE "CANCELLED, DONE, or ERROR". Taken literally, so a job in
# SETUP_DONE, CANCEL_STARTED or ATTEMPT_FAILURE matches neither (whether the real
# server counts those as ACTIVE is unconfirmed; the literal reading is the one a
# client must survive: list ALL when every unfinished job matters).
CATEGORIES = {
    "ACTIVE": frozenset({"PENDING", "RUNNING", "CANCEL_PENDING"}),
    "NON_ACTIVE": TERMINAL,
}
_MATCHERS = {"ALL": None, "0": None, "ACTIVE": "ACTIVE", "1": "ACTIVE"}
_MATCHERS |= {"NON_ACTIVE": "NON_ACTIVE", "2": "NON_ACTIVE"}
# JobStatus.State numbers, for ``$alt=json;enum-encoding=int`` (the generated REST
# transport asks for it on every job method). These are jobs.proto's field numbers, as
# google-cloud-dataproc's JobStatus.State has them; they are NOT the ordinals of the
# apitools enum in gcloud's dataproc_v1_messages.py, which lists states in another order.
_STATE_NUMBERS = {
    "PENDING": 1,
    "RUNNING": 2,
    "CANCEL_PENDING": 3,
    "CANCELLED": 4,
    "DONE": 5,
    "ERROR": 6,
    "CANCEL_STARTED": 7,
    "SETUP_DONE": 8,
    "ATTEMPT_FAILURE": 9,
}
SEEDABLE_STATES = frozenset(_STATE_NUMBERS) - {"CANCEL_PENDING", "CANCEL_STARTED"}
ON_CANCEL = frozenset({"cancel", "finish", "stuck", "forbidden"})
DEFAULT_ERROR_DETAILS = (
    "Google Cloud Dataproc Agent reports job failure. If logs are available, they can be "
    "found in the driver output."
)


@dataclass(frozen=True)
class Status:
    state: str
    at: float
    details: str | None = None

    def to_json(self) -> dict[str, str]:
        body = {"state": self.state, "stateStartTime": timestamp(self.at)}
        if self.details is not None:
            body["details"] = self.details
        return body


@dataclass(eq=False)
class JobRecord:
    """One job and its script.

    ``initial`` is the state it was seeded in; earlier states are dated at submission
    and the seeded one (when it is not RUNNING) at seeding. ``setup_seconds`` holds it
    in SETUP_DONE that long after seeding; ``completes_after`` (from seeding) ends it
    in ``completion``. A cancel moves it to CANCEL_PENDING at once, CANCEL_STARTED
    half-way through ``cancel_seconds`` and CANCELLED at the end (``on_cancel``
    "finish": DONE instead; "stuck": CANCEL_PENDING for good). Its cluster stopping or
    being deleted ends it in ERROR (``cluster_end``). Whatever end comes first wins.
    ``cluster_uuid_seeded``: False when the uuid was made up here, so the job may take
    that of an emulated cluster of its clusterName (Dataproc fills placement.clusterUuid
    from the cluster the job is submitted to).
    """

    project: str
    region: str
    job_id: str
    seeded: float
    submitted: float
    initial: str = "RUNNING"
    setup_seconds: float | None = None
    completes_after: float | None = None
    completion: str = "DONE"
    details: str | None = None
    on_cancel: str = "cancel"
    cancel_seconds: float = 0.0
    get_forbidden: bool = False
    cluster_name: str = "emulator-cluster"
    cluster_uuid: str = field(default_factory=new_uuid)
    cluster_uuid_seeded: bool = False
    job_uuid: str = field(default_factory=new_uuid)
    labels: dict[str, str] = field(default_factory=dict)
    cancel_requested: float | None = None
    cluster_end: Status | None = None
    seq: int = 0

    @property
    def name(self) -> str:
        return f"projects/{self.project}/regions/{self.region}/jobs/{self.job_id}"

    def history(self, now: float, upto: str | None = None) -> list[Status]:
        """Every status entered by ``now``, oldest first; ``upto`` cuts after that state."""
        entered: list[Status] = []
        for status in self._script():
            if status.at > now:
                break
            entered.append(status)
            if status.state in TERMINAL or status.state == upto:
                break
        return entered

    def status(self, now: float) -> Status:
        return self.history(now)[-1]

    def cancel(self, now: float) -> None:
        """Start cancelling, as CancelJob does, or refuse as Dataproc does."""
        state = self.status(now).state
        if state not in CANCELLABLE:
            # The known message also names the project; it is used for every state
            # that is not cancellable, terminal and already-cancelling ones included
            # (assumed: the server checks against one list of cancellable states).
            raise failed_precondition(
                f"Cannot cancel jobId '{self.job_id}' in projectId '{self.project}' in state: "
                f"'{state}'; cancellable states: '[{', '.join(CANCELLABLE)}]'"
            )
        self.cancel_requested = now

    def runs_on(self, project: str, region: str, cluster_name: str, cluster_uuid: str) -> bool:
        return (self.project, self.region, self.cluster_name, self.cluster_uuid) == (
            project,
            region,
            cluster_name,
            cluster_uuid,
        )

    def end_with_cluster(self, now: float, at: float, details: str) -> bool:
        """Its cluster is going away: unless the job has ended by ``now``, it fails at
        ``at`` (Dataproc: "running jobs fail" on a stop). True if it was still going."""
        if self.cluster_end is not None or self.status(now).state in TERMINAL:
            return False
        self.cluster_end = Status("ERROR", at, details)
        return True

    def to_json(self, now: float, upto: str | None = None) -> dict[str, Any]:
        """The Job resource; proto3 JSON leaves out ``done`` while it is false."""
        entered = self.history(now, upto)
        control = (
            f"gs://dataproc-staging-{self.region}-emulator/google-cloud-dataproc-metainfo/"
            f"{self.cluster_uuid}/jobs/{self.job_id}/"
        )
        body: dict[str, Any] = {
            "reference": {"projectId": self.project, "jobId": self.job_id},
            "placement": {"clusterName": self.cluster_name, "clusterUuid": self.cluster_uuid},
            "sparkJob": {
                "mainClass": "org.apache.spark.examples.SparkPi",
                "jarFileUris": ["file:///usr/lib/spark/examples/jars/spark-examples.jar"],
                "args": ["1000"],
            },
            "status": entered[-1].to_json(),
            "driverControlFilesUri": control,
            "driverOutputResourceUri": control + "driveroutput",
            "jobUuid": self.job_uuid,
        }
        if len(entered) > 1:
            body["statusHistory"] = [status.to_json() for status in entered[:-1]]
        if self.labels:
            body["labels"] = dict(self.labels)
        if entered[-1].state in TERMINAL:
            body["done"] = True
        return body

    def _script(self) -> list[Status]:
        """Every status this job will ever enter as things stand, in time order."""
        script = [Status("PENDING", self.submitted)]
        if self.initial != "PENDING":
            setup_at = self.seeded if self.setup_seconds is not None else self.submitted
            script.append(Status("SETUP_DONE", setup_at))
        if self.setup_seconds is not None:
            script.append(Status("RUNNING", self.seeded + self.setup_seconds))
        elif self.initial not in ("PENDING", "SETUP_DONE"):
            script.append(Status("RUNNING", self.submitted))
        if self.initial in TERMINAL or self.initial == "ATTEMPT_FAILURE":
            script.append(Status(self.initial, self.seeded, self._details(self.initial)))
        if self.completes_after is not None:
            at = self.seeded + self.completes_after
            script.append(Status(self.completion, at, self._details(self.completion)))
        if self.cancel_requested is not None:
            script += self._cancel_script(self.cancel_requested)
        if self.cluster_end is not None:
            script.append(self.cluster_end)
        # Stable: statuses due at the same instant keep their causal order.
        return sorted(script, key=lambda status: status.at)

    def _cancel_script(self, start: float) -> list[Status]:
        script = [Status("CANCEL_PENDING", start)]
        end = start + self.cancel_seconds
        if self.on_cancel == "cancel":
            script.append(Status("CANCEL_STARTED", start + self.cancel_seconds / 2))
            script.append(Status("CANCELLED", end))
        elif self.on_cancel == "finish":
            script.append(Status("DONE", end))
        return script

    def _details(self, state: str) -> str | None:
        if state in ("ERROR", "ATTEMPT_FAILURE"):
            return self.details or DEFAULT_ERROR_DETAILS
        return None


def list_filter(query: dict[str, str], now: float) -> Callable[[JobRecord], bool]:
    """ListJobs' selection: clusterName always; filter, or else jobStateMatcher."""
    cluster = query.get("clusterName")
    text = query.get("filter", "")
    matches = _filter_language(now).compile(text) if text else _matcher(query, now)
    return lambda job: (not cluster or job.cluster_name == cluster) and matches(job)


def _matcher(query: dict[str, str], now: float) -> Callable[[JobRecord], bool]:
    """jobStateMatcher by name (gcloud) or number (enum-encoding=int clients)."""
    raw = query.get("jobStateMatcher", "ALL")
    if raw not in _MATCHERS:
        raise invalid(
            "Invalid value at 'job_state_matcher' (type.googleapis.com/"
            f'google.cloud.dataproc.v1.ListJobsRequest.JobStateMatcher), "{raw}"'
        )
    category = _MATCHERS[raw]
    if category is None:
        return lambda job: True
    return lambda job: job.status(now).state in CATEGORIES[category]


def _filter_language(now: float) -> FilterLanguage[JobRecord]:
    """The documented filter: ``status.state = ACTIVE|NON_ACTIVE`` and ``labels.KEY =
    value`` (``*`` for any), AND only. gcloud's help also shows
    ``placement.clusterName``; the API reference does not list it, so it is refused
    here (the clusterName parameter does that job)."""

    def category(job: JobRecord) -> str | None:
        state = job.status(now).state
        return next((name for name, states in CATEGORIES.items() if state in states), None)

    return FilterLanguage(
        {"status.state": category},
        labels=lambda job: job.labels,
        operators=frozenset({"="}),
        choices={"status.state": frozenset(CATEGORIES)},
    )


def enums_as_numbers(job: dict[str, Any]) -> dict[str, Any]:
    """Every enum a Job here has, as numbers (Google does this when asked)."""
    for status in [job["status"], *job.get("statusHistory", [])]:
        status["state"] = _STATE_NUMBERS[status["state"]]
    return job
