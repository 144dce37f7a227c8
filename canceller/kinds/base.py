"""What the engine needs to know about one kind of Dataproc work, and nothing it does.

The engine (``canceller.engine``) reads, stops, watches and reports every kind the same
way; a kind only describes itself: its REST calls, how to tell running from stopped
from ended otherwise, which fields a sweep may filter on, and its result fields.
Cloud Custodian's c7n-gcp serves every resource type from one query engine the same
way; adding a kind is a small subclass here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from canceller.clock import parse_timestamp
from canceller.names import NameRule, ResourceName, ScopeName
from canceller.resource import Resource as Resource  # re-exported: every kind reads them
from canceller.resource import text as text

if TYPE_CHECKING:  # canceller.burn reads resources with this module's helpers
    from canceller.burn import Burn, Horizon
    from canceller.prices import PriceTable


class Phase(Enum):
    RUNNING = "running"  # may be stopped
    STOPPING = "stopping"  # a stop was accepted (ours or someone's) and is in progress
    STOPPED = "stopped"  # ended because it was stopped
    ENDED = "ended"  # ended some other way (succeeded, failed)

    @property
    def final(self) -> bool:
        return self in (Phase.STOPPED, Phase.ENDED)


class InvalidWork(ValueError):
    """A resource Dataproc returned cannot be stopped as described (e.g. a batch whose
    operation field is not a usable name); the message says why."""


@dataclass(frozen=True)
class IncidentLabels:
    """How a Cloud Monitoring incident on this kind's monitored resource names it: the
    resource type and the labels holding its place, its ID and (if any) its uuid."""

    resource_type: str
    place: str
    id: str
    uuid: str | None = None


class Kind:
    """One kind of Dataproc work. Subclasses set the class attributes and override what
    differs; the defaults fit a resource stopped by ``POST NAME:verb``.

    Everything else that knows kinds derives from these attributes: the name grammar
    (``canceller.names``), the message keys (``canceller.message``), the sweep kinds and
    filter fields (``canceller.selection``, ``canceller.settings``), the quota bucket
    (``canceller.request_budget``), the incidents (``canceller.dispatch``), the IAM role
    deploy.sh grants (``canceller.kinds.role``); tests/unit/test_every_registered_kind.py
    checks that the schemas, the emulator and the docs (docs/iam.md, docs/integrations.md)
    know every kind."""

    name: ClassVar[str]  # "job": the result's kind and the JSON key for one name
    plural: ClassVar[str]  # "jobs": the JSON key for a list, the sweep kind, the collection
    place: ClassVar[str] = "regions"  # the path segment before the region: or "locations"
    id_pattern: ClassVar[str]  # the grammar of an ID, from Dataproc's own rule
    aliases: ClassVar[tuple[str, ...]] = ()  # other JSON keys for one name
    # What the role needs: ``dataproc.{plural}.{verb}`` for each verb here...
    permission_verbs: ClassVar[tuple[str, ...]] = ()
    # ...and for these only when the setting named is true (deploy.sh asks for each).
    optional_permission_verbs: ClassVar[Mapping[str, str]] = {}
    # Dataproc's per-minute quota bucket of each call, "read" or "stop"; "default" if
    # absent (canceller.request_budget.Bucket names them).
    quota_buckets: ClassVar[Mapping[str, str]] = {}
    incident: ClassVar[IncidentLabels | None] = None
    result_name_key: ClassVar[str | None] = None  # a result field repeating the target's name
    swept_by_default: ClassVar[bool] = True  # in SWEEP_KINDS when it is not set
    stop_verb: ClassVar[str] = "cancel"
    stopped_word: ClassVar[str] = "cancelled"
    stopping_word: ClassVar[str] = "cancelling"
    stop_body: ClassVar[dict[str, Any] | None] = None  # None: no request body at all
    # Dataproc refuses a stop with FAILED_PRECONDITION while the work is in a state that
    # cannot be stopped *yet* (a job in SETUP_DONE): keep trying within the deadline.
    stop_can_wait: ClassVar[bool] = False
    sweepable: ClassVar[bool] = True
    # Sweep filter fields this kind can evaluate itself ("labels.KEY" is always one), with
    # the values a state field may take; a clause on anything else does not apply to it.
    filter_fields: ClassVar[Mapping[str, frozenset[str] | None]] = {}
    # Query of the listing that verifies many stops of this kind at once.
    watch_params: ClassVar[Mapping[str, str]] = {}
    # A listing asks for 1,000 a page: ListBatchesRequest documents that as its maximum,
    # the others document none and "may return fewer"; fewer pages, fewer requests.
    page_size: ClassVar[int] = 1000
    # State word -> phase, for the states that are not plain running.
    phases: ClassVar[Mapping[str, Phase]] = {}
    state_path: ClassVar[tuple[str, ...]] = ("state",)  # where the state word is
    detail_path: ClassVar[tuple[str, ...] | None] = None  # where Dataproc says why, if at all

    # Cloud Asset Inventory's type for this kind's resources (operations are not assets),
    # and the asset types whose live presence in a region means this kind may have work
    # there: where an organisation-wide sweep lists it (canceller.fan_out).
    asset_type: ClassVar[str | None] = None
    found_by: ClassVar[tuple[str, ...]] = ()

    # The kinds whose work on one of these must be stopped first (a cluster's jobs and
    # operations): the engine stops and verifies those, then this (canceller.clearing).
    clears_first: ClassVar[tuple[str, ...]] = ()
    action: ClassVar[str] = "stop"  # what this description does to the work
    actions: ClassVar[tuple[str, ...]] = ("stop",)  # what a message may ask for

    @property
    def ended_states(self) -> tuple[str, ...]:
        """The state words in which this kind's work is over: an asset search leaves them
        out, so that a search only finds where work may still be running."""
        return tuple(sorted(word for word, phase in self.phases.items() if phase.final))

    def name_rule(self) -> NameRule:
        return NameRule(self.place, self.plural, self.id_pattern, self.stop_verbs)

    def acting(self, action: str) -> Kind:
        """The description that does ``action`` (one of ``actions``) to this kind."""
        return self

    @property
    def stop_verbs(self) -> tuple[str, ...]:
        """The verbs a URL naming this kind may end in."""
        return (self.stop_verb,)

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(f"dataproc.{self.plural}.{verb}" for verb in self.permission_verbs)

    # ---- reading ----------------------------------------------------------------------

    def phase(self, resource: Resource) -> Phase:
        """By the kind's state word: any state not in ``phases`` is still running (the
        safe reading of a state Dataproc adds later: watched, never called stopped)."""
        return self.phases.get(self.state_word(resource), Phase.RUNNING)

    def state_word(self, resource: Resource) -> str:
        """The kind's own word for its state, for sentences and ``phases``."""
        state = _at(resource, self.state_path)
        return state if isinstance(state, str) else "STATE_UNSPECIFIED"

    def ending(self, resource: Resource) -> str:
        """How a finished resource ended, as a clause for a sentence."""
        detail = text(_at(resource, self.detail_path)) if self.detail_path else None
        said = f"the {self.name} is {self.state_word(resource)}"
        return said + (f" ({detail})" if detail else "")

    def describe(self, resource: Resource) -> dict[str, Any]:
        """The result's ``state`` object for this resource as last seen."""
        raise NotImplementedError

    def uuid(self, resource: Resource) -> str | None:
        """The server-made identity of this incarnation (an ID can be reused)."""
        return None

    # ---- stopping ---------------------------------------------------------------------

    def stop_path(self, name: ResourceName, resource: Resource) -> str:
        return f"{name.name}:{self.stop_verb}"

    def stop_call(self, name: ResourceName, resource: Resource, chain: str) -> StopCall:
        """The request that stops it; ``chain`` (the request's chain id) is for kinds
        whose stop takes an idempotency key."""
        return StopCall("POST", self.stop_path(name, resource), self.stop_body)

    def result_operation(self, name: ResourceName, resource: Resource | None) -> str:
        """The result's ``operation`` field: the operation acted on, if this kind acts
        through one (``resource``: the target as read, None if it never was)."""
        return ""

    def refusal(self, resource: Resource) -> str | None:
        """Why this function will not stop this resource at all, or None."""
        return None

    def can_wait(self, resource: Resource) -> bool:
        """Is a FAILED_PRECONDITION refusal of a stop, in this state, a "not yet"?"""
        return self.stop_can_wait

    def refused_because(self, resource: Resource) -> str:
        """What in the resource explains a stop Dataproc refused for good, and what
        would stop it instead; empty when nothing does."""
        return ""

    def gone(self, last: Resource) -> Resource | None:
        """What a 404 on reading it means once a stop of ours was accepted: None, an
        error; a deletion's description says the work is gone, as asked."""
        return None

    def watched(self, name: ResourceName, resource: Resource) -> tuple[Kind, ResourceName]:
        """What to read to see the stop take effect: the resource itself, by default."""
        return self, name

    # ---- money (canceller/burn.py) -----------------------------------------------------

    def burn(self, resource: Resource, table: PriceTable) -> Burn | None:
        """What the work was costing when read, in dollars an hour at list price; None
        when it is known only from other work (``burn_reference``)."""
        raise NotImplementedError(f"the {self.name} kind does not say what it burns")

    def burn_reference(self, name: ResourceName, resource: Resource) -> ResourceName | None:
        """The work whose burn is given beside this one's, for reference (a job's cluster)."""
        return None

    def referenced_burn(self, reference: Burn | None, unread: str) -> Burn:
        """This work's burn, given its reference's (None: not read, ``unread`` says why)."""
        raise NotImplementedError(f"the {self.name} kind reads no other work's burn")

    def horizon(
        self, resource: Resource, now: datetime, period_end: datetime | None = None
    ) -> Horizon | None:
        """How long the work would otherwise have run, for ``savedUpTo``; None when its
        burn is never known, so there is nothing to save."""
        return None

    # ---- sweeping ---------------------------------------------------------------------

    def collection(self, scope: ScopeName) -> str:
        return f"projects/{scope.project}/{self.place}/{scope.region}/{self.plural}"

    def listed_items(self, page: Resource) -> list[Resource]:
        """The items of one list page that are objects; a malformed page lists nothing."""
        items = page.get(self.plural)
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def listed_name(self, item: Resource, scope: ScopeName) -> object:
        """The full name of a listed item (to be validated like any other name)."""
        return item.get("name")

    def server_params(self, clauses: tuple[Clause, ...]) -> dict[str, str]:
        """Query parameters that narrow a sweep's listing on the server. Everything is
        checked here again, so these only save pages."""
        return {}

    def work_params(
        self, cluster_name: str, label: tuple[str, str] | None = None
    ) -> dict[str, str]:
        """Query parameters listing this kind's work on one cluster (for a kind that
        ``clears_first``): what runs there, or with ``label`` (KEY, VALUE) the work
        carrying it in every state, finished or not (a few items, where exempt work must
        be found whatever its state)."""
        clauses = [Clause("clusterName", cluster_name)]
        if label is not None:
            clauses.append(Clause(f"labels.{label[0]}", label[1]))
        return self.server_params(tuple(clauses))

    def field_value(self, item: Resource, field: str) -> str | None:
        """The value of one of ``filter_fields`` on a listed item; a kind without
        filter fields (batches, never swept) has none."""
        return None

    def labels(self, item: Resource) -> Mapping[str, str]:
        labels = item.get("labels")
        return labels if isinstance(labels, dict) else {}

    def created_at(self, item: Resource) -> datetime | None:
        created = item.get("createTime")
        return parse_timestamp(created) if isinstance(created, str) else None

    def cluster_uuid(self, item: Resource) -> str | None:
        return None

    def sweepable_item(self, item: Resource) -> bool:
        """May a sweep select this listed item at all (before its filter)?"""
        return True

    def applies(self, clause: Clause) -> bool:
        """Can this kind evaluate ``clause`` itself? A sweep never lets a kind ignore a
        clause it cannot check: that kind is left out of the sweep instead."""
        if clause.field.startswith("labels."):
            return True
        if clause.field not in self.filter_fields:
            return False
        values = self.filter_fields[clause.field]
        return values is None or clause.value in values

    def holds(self, clause: Clause, item: Resource) -> bool:
        if clause.field.startswith("labels."):
            return self.labels(item).get(clause.field.removeprefix("labels.")) == clause.value
        return self.field_value(item, clause.field) == clause.value


@dataclass(frozen=True)
class StopCall:
    """One stop request: ``POST path`` with ``body`` (None: no body at all), or a
    ``DELETE`` with query ``params``."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Clause:
    """One ``field = value`` of a sweep filter."""

    field: str
    value: str


def _at(resource: Resource, path: tuple[str, ...]) -> object:
    """The value at ``path`` in a resource, or None where any step is missing."""
    value: object = resource
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
