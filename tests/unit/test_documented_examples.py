"""The documented trigger examples and schema agree with what the decoder accepts."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from jsonschema import Draft202012Validator

from canceller.chains import Continuation
from canceller.kinds import KINDS
from canceller.message import decode_trigger
from canceller.names import SCOPE_NAME, WIDE_SCOPE

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TRIGGER_SCHEMA = Draft202012Validator(json.loads((SCHEMAS / "trigger.schema.json").read_text()))
EXAMPLES = sorted(
    p for p in (SCHEMAS / "examples").glob("*.json") if not p.name.startswith("result-")
)
# The trigger kind each example decodes to, by file-name prefix; anything else names
# one operation (or several).
EXPECTED_KIND = {
    "trigger-batch": "batch",
    "trigger-job": "job",
    "trigger-session": "session",
    "trigger-cluster": "cluster",
    "trigger-sweep": "sweep",
    "budget": "budget",
    "incident": "incident",
}
# Examples that carry malformed names on purpose: how many each, and the kind they claim.
JOB = "projects/acme-data-prod/regions/us-central1/jobs/"
OPERATION = "projects/acme-data-prod/regions/us-central1/operations/op-1"
SCOPE = "projects/acme-data-prod/regions/us-central1"
SESSION = "projects/acme-data-prod/locations/us-central1/sessions/"
CLUSTER = "projects/acme-data-prod/regions/us-central1/clusters/"
HOST = "https://dataproc.googleapis.com/v1/"
NAMED = {"chainId": "names-42", "generation": 1}
SWEPT = {"sweepId": "sweep-42", "generation": 2}
START = {"scope": SCOPE, "kind": "jobs", "pageToken": ""}
HOSTILE = {"trigger-operations": 1, "trigger-jobs": 1, "trigger-sessions": 1}


def as_event(example: dict[str, Any]) -> CloudEvent:
    data = example["data"]
    raw = data if isinstance(data, str) else json.dumps(data)
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//x", "id": "1"},
        {
            "message": {
                "data": base64.b64encode(raw.encode()).decode(),
                "attributes": example["attributes"],
                "messageId": "1",
            }
        },
    )


def test_there_is_an_example_of_each_form() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {
        "trigger-operation",
        "trigger-name-field",
        "trigger-plain-text",
        "trigger-url",
        "trigger-attribute",
        "trigger-operations",
        "trigger-batch",
        "trigger-sweep",
        "budget-notification-over",
        "incident-batch-open",
        "incident-cluster-open",
        "trigger-job",
        "trigger-jobs",
        "trigger-job-url",
        "trigger-session",
        "trigger-sessions",
        "trigger-session-url",
        "trigger-sweep-kinds",
        "trigger-sweep-cluster",
        "trigger-sweep-continuation",
        "trigger-operations-continuation",
        "incident-job-open",
        "incident-job-reused-id",
        "incident-session-open",
        "trigger-cluster",
        "trigger-clusters",
        "trigger-cluster-url",
        "trigger-cluster-delete",
        "trigger-sweep-clusters-dry-run",
        "trigger-sweep-folder",
        "trigger-sweep-fan-out-child",
    } <= names


def _expected_kind(stem: str) -> str:
    prefixes = sorted(EXPECTED_KIND, key=len, reverse=True)  # trigger-sweep before trigger-s
    return next((EXPECTED_KIND[p] for p in prefixes if stem.startswith(p)), "operation")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_match_the_schema_and_decode(path: Path) -> None:
    example = json.loads(path.read_text())
    if isinstance(example["data"], dict):
        TRIGGER_SCHEMA.validate(example["data"])
    trigger = decode_trigger(as_event(example))
    kind = _expected_kind(path.stem)
    assert trigger.info.kind == kind
    assert len(trigger.rejections) == HOSTILE.get(path.stem, 0), trigger.rejections
    if kind in KINDS:
        assert trigger.targets
        assert {target.kind for target in trigger.targets} == {kind}
        data = example["data"]
        assert trigger.info.action == (
            data.get("action", "stop") if isinstance(data, dict) else "stop"
        )
    elif kind == "sweep":
        assert trigger.sweep is not None and not trigger.targets
    elif kind == "incident":
        assert trigger.incident is not None
        assert trigger.incident.resource_type == example["data"]["incident"]["resource"]["type"]


def test_sweep_example_fields_reach_the_decoded_spec() -> None:
    def trigger(stem: str) -> Any:
        example = json.loads((SCHEMAS / "examples" / f"{stem}.json").read_text())
        return decode_trigger(as_event(example))

    def spec(stem: str) -> Any:
        decoded = trigger(stem).sweep
        assert decoded is not None
        return decoded

    kinds = spec("trigger-sweep-kinds")
    assert kinds.kinds == ("jobs", "sessions")
    assert kinds.older_than_seconds == 7200
    cluster = spec("trigger-sweep-cluster")
    assert cluster.cluster_uuid == "7c1e4b2a-3f5d-4e6a-9b8c-2d1f0e9a8b7c"
    clusters = trigger("trigger-sweep-clusters-dry-run")
    assert clusters.sweep is not None and clusters.sweep.kinds == ("clusters",)
    assert clusters.sweep.older_than_seconds == 12 * 3600
    assert clusters.info.dry_run is True
    continued = trigger("trigger-sweep-continuation")
    chain = continued.chain
    assert (chain.id, chain.generation) == ("sweep-16802739401283746", 3)
    assert continued.info.chain == chain.id
    assert chain.answered(
        "projects/acme-data-prod/locations/us-central1/sessions/bi-notebook-churn"
    )
    assert chain.list_from is not None
    assert (chain.list_from.kind, chain.list_from.page_token, chain.pages) == ("sessions", "", 2)
    assert len(chain.skip) == 3


def test_fan_out_examples_decode_to_their_scope_and_part() -> None:
    """A sweep over a folder is a sweep of that folder; a fan-out child is the parent's
    chain (its sweep id, generation 1) for one project (part), listing only the kinds
    found in each of its scopes, and carries the attributes the function gives it."""
    folder = decode_trigger(as_event(json.loads(_example_path("trigger-sweep-folder").read_text())))
    assert folder.sweep is not None and folder.chain is None
    assert folder.sweep.scopes == ("folders/418726305512",)
    assert folder.sweep.older_than_seconds == 7200

    example = json.loads(_example_path("trigger-sweep-fan-out-child").read_text())
    data = example["data"]
    child = decode_trigger(as_event(example))
    assert not child.rejections and child.sweep is not None and child.chain is not None
    chain = child.chain
    assert (chain.id, chain.generation, chain.part) == ("sweep-142", 1, "projects/acme-data-prod")
    assert child.info.chain == chain.id
    assert child.sweep.scope_kinds == {
        scope: tuple(kinds) for scope, kinds in data["sweep"]["scopeKinds"].items()
    }
    fields, skip = chain.sweep_fields()
    assert fields == data["sweep"]["continuation"] and skip == []
    handed_on = Continuation(data, chain.id, chain.generation, chain.part)
    assert handed_on.attributes() == example["attributes"]


def _example_path(stem: str) -> Path:
    return SCHEMAS / "examples" / f"{stem}.json"


SCOPE_ITEM = TRIGGER_SCHEMA.schema["$defs"]["sweepRequest"]["properties"]["sweep"]["properties"][
    "scopes"
]["items"]["pattern"]


@pytest.mark.parametrize(
    "scope",
    [
        SCOPE,
        "projects/acme-data-prod",
        "projects/example.com:legacy-proj",
        "projects/example.com:legacy-proj/regions/europe-west1",
        "projects/acme-data-prod/regions/global",
        "folders/418726305512",
        "organizations/123456789012",
        "folders/" + "1" * 21,
        "folders/team-1",
        "organizations/example.com",
        "projects/Acme",
        "projects/acme",
        "projects/acme-data-prod/regions/us-central",
        "projects/acme-data-prod/locations/us-central1",
        "projects/acme-data-prod/regions/us-central1/jobs/a",
        "billingAccounts/01D4EE-079462-DFD6EC",
        "projects/",
        "",
    ],
)
def test_the_schema_spells_sweep_scopes_as_the_function_does(scope: str) -> None:
    """trigger.schema.json's scope grammar is canceller.names': a project and region
    (SCOPE_NAME), or a project, a folder or an organisation (WIDE_SCOPE)."""
    known = bool(SCOPE_NAME.fullmatch(scope) or WIDE_SCOPE.fullmatch(scope))
    assert bool(re.fullmatch(SCOPE_ITEM.removeprefix("^").removesuffix("$"), scope)) == known
    assert TRIGGER_SCHEMA.is_valid({"sweep": {"scopes": [scope]}}) == known


def test_a_wide_sweep_takes_no_max() -> None:
    """max cannot be shared out across a fan-out's children, so the schema does not
    describe a sweep wider than projects/P/regions/R with one (canceller.fan_out answers
    it REJECTED)."""
    assert TRIGGER_SCHEMA.is_valid({"sweep": {"scopes": [SCOPE], "max": 5}})
    for scopes in (["folders/418726305512"], [SCOPE, "projects/acme-data-prod"]):
        assert not TRIGGER_SCHEMA.is_valid({"sweep": {"scopes": scopes, "max": 5}})


def test_scope_kinds_name_only_the_sweeps_own_scopes_and_kinds() -> None:
    """What JSON Schema cannot say (scopeKinds' keys are among the sweep's scopes, its
    kinds among the sweep's kinds), the decoder does."""
    other = "projects/acme-data-prod/regions/europe-west1"
    for sweep in (
        {"scopes": [SCOPE], "scopeKinds": {other: ["jobs"]}},
        {"scopes": [SCOPE], "kinds": ["jobs"], "scopeKinds": {SCOPE: ["sessions"]}},
    ):
        assert TRIGGER_SCHEMA.is_valid({"sweep": sweep})
        trigger = decode_trigger(as_event({"data": {"sweep": sweep}, "attributes": {}}))
        assert trigger.rejections and trigger.sweep is None
        assert "scopeKinds" in trigger.rejections[0].detail


def _example_data(stem: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / "examples" / f"{stem}.json").read_text())["data"]


def test_sweep_continuation_example_is_written_as_the_function_writes_it() -> None:
    """Its position reads back into the fields the function would write for it (the
    segment, its pages and the digests of what the chain answered, in order)."""
    data = _example_data("trigger-sweep-continuation")
    chain = decode_trigger(as_event({"data": data, "attributes": {}})).chain
    assert chain is not None
    fields, skip = chain.sweep_fields()
    assert fields == data["sweep"]["continuation"]
    assert skip == data["sweep"]["skip"]


def test_named_continuation_example_decodes_to_its_chain() -> None:
    """A list handed on keeps its chain: the results of its names carry the first
    message's chain id (trigger.chain, dedupeKey), not this message's id."""
    data = _example_data("trigger-operations-continuation")
    trigger = decode_trigger(as_event({"data": data, "attributes": {}}))
    assert not trigger.rejections
    assert trigger.chain is not None
    assert (trigger.chain.id, trigger.chain.generation) == (
        data["continuation"]["chainId"],
        data["continuation"]["generation"],
    )
    assert trigger.info.chain == trigger.chain.id != f"names-{trigger.info.message_id}"
    assert [target.name for target in trigger.targets] == data["operations"]
    # The keys the function writes (canceller.dispatch hands on the names not started).
    assert list(data) == ["operations", "continuation", "reason", "requestId"]
    assert isinstance(data["requestId"], str)  # echoed as the text it became


def test_a_first_message_starts_its_own_chain() -> None:
    for stem, chain in (
        ("trigger-operations", "names-1"),
        ("trigger-sweep", "sweep-1"),
        ("budget-notification-over", "sweep-1"),
        ("incident-job-open", "sweep-1"),
    ):
        example = json.loads((SCHEMAS / "examples" / f"{stem}.json").read_text())
        trigger = decode_trigger(as_event(example))
        assert trigger.chain is None
        assert trigger.info.chain == chain, stem


def test_url_examples_name_their_kind_with_its_verb() -> None:
    for stem, kind, verb in (
        ("trigger-url", "operation", ":cancel"),
        ("trigger-job-url", "job", ":cancel"),
        ("trigger-session-url", "session", ":terminate"),
        ("trigger-cluster-url", "cluster", ":stop"),
    ):
        example = json.loads((SCHEMAS / "examples" / f"{stem}.json").read_text())
        assert example["data"].strip().endswith(verb)
        (target,) = decode_trigger(as_event(example)).targets
        assert target.kind == kind
        assert example["data"].strip().removesuffix(verb).endswith(target.name)


@pytest.mark.parametrize(
    "data",
    [
        {"operation": "projects/acme-data-prod/regions/us-central1/operations/x", "dryrun": True},
        {"operation": "projects/acme-data-prod/regions/us-central1/operations/a/../b"},
        {"operations": []},
        {"sweep": {"scope": ["projects/p/regions/r"]}},
        {"batch": "projects/acme-data-prod/locations/us-central1/batches/UPPER"},
        {"job": "projects/acme-data-prod/locations/us-central1/sessions/not-a-job"},
        {"job": f"projects/acme-data-prod/regions/us-central1/jobs/{'j' * 101}"},
        {"job": "projects/acme-data-prod/regions/us-central1/jobs/etl:cancel"},
        {"session": "projects/acme-data-prod/regions/us-central1/jobs/not-a-session"},
        {"session": "projects/acme-data-prod/locations/us-central1/sessions/Notebook"},
        {"jobs": []},
        {"sessions": "projects/acme-data-prod/locations/us-central1/sessions/nb-1"},
        {"job": "projects/acme-data-prod/regions/us-central1/jobs/a", "session": "x"},
        {"sweep": {"kinds": ["batches"]}},
        {"sweep": {"kinds": "jobs"}},
        {"sweep": {"clusterUuid": "not a uuid"}},
        {"sweep": {"continuation": {"sweepId": "sweep-1"}}},
        {"sweep": {"continuation": {"sweepId": "nightly", "generation": 1}}},
        {"sweep": {"continuation": {"sweepId": "sweep-1", "generation": 0}}},
        {"sweep": {"continuation": {"sweepId": "sweep-1", "generation": 1001}}},
        {"sweep": {"max": 100_001}},
        # A named list's continuation: only beside a list, only a names- chain, only its
        # two fields; a sweep carries its own inside 'sweep'.
        {"operation": OPERATION, "continuation": NAMED},
        {"sweep": {}, "continuation": NAMED},
        {"operations": [OPERATION], "continuation": {**NAMED, "chainId": "sweep-42"}},
        {"operations": [OPERATION], "continuation": {**NAMED, "generation": 0}},
        {"jobs": [JOB + "a"], "continuation": {**NAMED, "generation": 1001}},
        {"jobs": [JOB + "a"], "continuation": {"chainId": "names-42"}},
        {"sessions": [SESSION + "nb-1"], "continuation": {**NAMED, "after": "x"}},
        {"operations": [OPERATION], "continuation": {**NAMED, "chainId": "names-a b"}},
        # A sweep's position.
        {"sweep": {"continuation": {**SWEPT, "chainId": "names-42"}}},
        {"sweep": {"continuation": {**SWEPT, "after": {"time": "2026-11-27T18:42:07Z"}}}},
        {"sweep": {"continuation": {**SWEPT, "listFrom": {"scope": SCOPE, "kind": "jobs"}}}},
        {"sweep": {"continuation": {**SWEPT, "listFrom": {**START, "scope": "projects/p"}}}},
        {"sweep": {"continuation": {**SWEPT, "listFrom": {**START, "pageToken": "a b"}}}},
        {"sweep": {"continuation": {**SWEPT, "listFrom": {**START, "pageToken": "t" * 2049}}}},
        {"sweep": {"continuation": {**SWEPT, "listFrom": {**START, "pageToken": 7}}}},
        {"sweep": {"continuation": {**SWEPT, "pages": 0}}},
        {"sweep": {"continuation": {**SWEPT, "pages": 10_001}}},
        {"sweep": {"continuation": {**SWEPT, "pages": True}}},
        {"sweep": {"continuation": SWEPT, "skip": ["not a digest"]}},
        {"sweep": {"continuation": SWEPT, "skip": [f"{SESSION}nb-1"]}},
        {"sweep": {"continuation": SWEPT, "skip": ["ABCDEF0123456789"]}},
        {"sweep": {"continuation": SWEPT, "skip": [f"{i:016x}" for i in range(2001)]}},
        {"sweep": {"skip": ["0123456789abcdef"]}},
        # An incident holds only what Monitoring sends.
        {"version": "1.2", "incident": {"state": "open"}, "dryRun": True},
        # Clusters: Dataproc's name rule, regions (not locations), :stop only.
        {"cluster": CLUSTER + "Etl"},
        {"cluster": CLUSTER + "1etl"},
        {"cluster": CLUSTER + "etl-"},
        {"cluster": CLUSTER + "etl_nightly"},
        {"cluster": CLUSTER + "c" * 52},
        {"cluster": "projects/acme-data-prod/locations/us-central1/clusters/etl"},
        {"cluster": CLUSTER + "etl:stop"},
        {"cluster": f"{HOST}{CLUSTER}etl:cancel"},
        {"cluster": f"{HOST}{CLUSTER}etl:delete"},
        {"cluster": f"{HOST}{CLUSTER}etl:start"},
        {"clusters": []},
        {"clusters": CLUSTER + "etl"},
        {"cluster": CLUSTER + "etl", "job": JOB + "a"},
        {"cluster": CLUSTER + "etl", "continuation": NAMED},
        # Each kind's URL takes its own verb only.
        {"job": f"{HOST}{JOB}etl:terminate"},
        {"session": f"{HOST}{SESSION}nb-1:cancel"},
        {"operation": f"{HOST}{OPERATION}:stop"},
        # 'action': stop or delete, delete for clusters only, never beside a sweep.
        {"cluster": CLUSTER + "etl", "action": "restart"},
        {"cluster": CLUSTER + "etl", "action": "Delete"},
        {"cluster": CLUSTER + "etl", "action": ["delete"]},
        {"clusters": [CLUSTER + "etl"], "action": None},
        {"job": JOB + "a", "action": "delete"},
        {"sessions": [SESSION + "nb-1"], "action": "delete"},
        {"operation": OPERATION, "action": "delete"},
        {"sweep": {}, "action": "stop"},
        {"sweep": {"kinds": ["clusters"]}, "action": "delete"},
        {"sweep": {"kinds": ["cluster"]}},
        # A fan-out child's fields: its project, and the kinds of each of its scopes.
        {"sweep": {"continuation": {**SWEPT, "part": "acme-data-prod"}}},
        {"sweep": {"continuation": {**SWEPT, "part": SCOPE}}},
        {"sweep": {"continuation": {**SWEPT, "part": "folders/418726305512"}}},
        {"sweep": {"continuation": {**SWEPT, "part": "projects/Acme-Data"}}},
        {"sweep": {"continuation": {**SWEPT, "part": ["projects/acme-data-prod"]}}},
        {"sweep": {"scopes": [SCOPE], "scopeKinds": {SCOPE: ["batches"]}}},
        {"sweep": {"scopes": [SCOPE], "scopeKinds": {SCOPE: "jobs"}}},
        {"sweep": {"scopes": [SCOPE], "scopeKinds": [SCOPE]}},
    ],
)
def test_schema_and_decoder_both_refuse(data: dict[str, Any]) -> None:
    assert not TRIGGER_SCHEMA.is_valid(data)
    trigger = decode_trigger(as_event({"data": data, "attributes": {}}))
    assert trigger.rejections
    assert not (trigger.targets or trigger.sweep)


@pytest.mark.parametrize(
    "data",
    [
        {"job": f"https://dataproc.googleapis.com/v1/{JOB}etl_1"},
        {"session": "projects/example.com:legacy-proj/locations/europe-west1/sessions/nb-7"},
        {"jobs": ["projects/acme-data-prod/regions/us-central1/jobs/a", "not a name"]},
        {"sweep": {"kinds": ["jobs", "jobs"], "clusterUuid": "0D2E6F0A-9c1b"}},
        {"sweep": {"continuation": {"sweepId": "sweep-42", "generation": 1000}}},
        {"jobs": [JOB + "a"], "continuation": {**NAMED, "generation": 1000}, "dryRun": True},
        {
            "batches": ["projects/acme-data-prod/locations/us-central1/batches/daily-1"],
            "continuation": NAMED,
        },
        {
            "sweep": {
                "continuation": {
                    **SWEPT,
                    "listFrom": {**START, "pageToken": "CgZqb2ItNDI~!"},
                    "pages": 10_000,
                },
                "skip": [f"{i:016x}" for i in range(2000)],
            }
        },
        {
            "jobs": [JOB + "a", JOB + "b"],
            "continuation": {**NAMED, "attempted": [JOB + "b"]},
        },
        {"cluster": f"https://us-central1-dataproc.googleapis.com/v1/{CLUSTER}etl-nightly:stop"},
        {"cluster": f"{HOST}{CLUSTER}etl"},
        {"cluster": "projects/example.com:legacy-proj/regions/europe-west1/clusters/a"},
        {"cluster": CLUSTER + "c" * 51, "action": "stop", "dryRun": True},
        {"cluster": CLUSTER + "etl", "action": "delete", "reason": "r", "requestId": 7},
        {"clusters": [CLUSTER + "etl", "not a name"], "action": "stop"},
        # A named list of clusters to delete, handed on: its action goes with it.
        {
            "clusters": [CLUSTER + "a", CLUSTER + "b"],
            "action": "delete",
            "continuation": {**NAMED, "attempted": [CLUSTER + "b"]},
            "dryRun": True,
        },
        # stop is every kind's action, so naming it is never wrong.
        {"job": JOB + "a", "action": "stop"},
        {"name": OPERATION, "action": "stop"},
        {"sessions": [SESSION + "nb-1"], "action": "stop", "continuation": NAMED},
        {"sweep": {"kinds": ["clusters", "jobs"], "filter": "status.state = INACTIVE"}},
        {"sweep": {"kinds": ["clusters"], "filter": "clusterName = etl AND labels.team = a"}},
        {"sweep": {"continuation": {**SWEPT, "listFrom": {**START, "kind": "clusters"}}}},
        # Wider scopes, fanned out; a child's part and kinds per scope.
        {"sweep": {"scopes": ["folders/418726305512", "organizations/123456789012"]}},
        {"sweep": {"scopes": ["projects/acme-data-prod", SCOPE], "kinds": ["jobs"]}},
        {
            "sweep": {
                "scopes": [SCOPE, "projects/acme-data-prod/regions/europe-west1"],
                "kinds": ["operations", "jobs", "sessions"],
                "scopeKinds": {SCOPE: ["operations", "jobs"]},
                "continuation": {**SWEPT, "generation": 1, "part": "projects/acme-data-prod"},
            }
        },
        {
            "sweep": {
                "scopes": ["projects/example.com:legacy-proj/regions/europe-west1"],
                "continuation": {**SWEPT, "part": "projects/example.com:legacy-proj"},
                "skip": ["0123456789abcdef"],
            }
        },
    ],
)
def test_schema_and_decoder_both_accept(data: dict[str, Any]) -> None:
    assert TRIGGER_SCHEMA.is_valid(data)
    trigger = decode_trigger(as_event({"data": data, "attributes": {}}))
    assert trigger.targets or trigger.sweep


def _names_to_judge(kind: str) -> list[str]:
    """Names of ``kind`` good and bad, bare and as URLs with every kind's verb."""
    rule = KINDS[kind].name_rule()
    good_id = {"operation": "op_1-A", "batch": "b-12", "job": "Job_1", "session": "nb-1"}.get(
        kind, "etl-1"
    )
    names = []
    for place in ("regions", "locations"):
        for ident in (good_id, "x", "UPPER-case", "a" * 64, "-a1"):
            names.append(f"projects/acme-data-prod/{place}/us-central1/{rule.collection}/{ident}")
    valid = f"projects/acme-data-prod/{rule.place}/us-central1/{rule.collection}/{good_id}"
    for host in ("https://dataproc.googleapis.com", "https://us-central1-dataproc.googleapis.com"):
        names.append(f"{host}/v1/{valid}")
        for verb in ("cancel", "terminate", "stop", "start", "delete", "Stop"):
            names.append(f"{host}/v1/{valid}:{verb}")
    return [*names, f"{valid}:{rule.verbs[0]}", f"http://dataproc.googleapis.com/v1/{valid}"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_schema_spells_each_kinds_names_as_the_decoder_does(kind: str) -> None:
    """The name patterns of trigger.schema.json and the registry's grammar (its ID rule,
    its place, the verbs its URLs may end in) accept the same names."""
    for name in _names_to_judge(kind):
        decoded = decode_trigger(as_event({"data": {kind: name}, "attributes": {}}))
        assert TRIGGER_SCHEMA.is_valid({kind: name}) == bool(decoded.targets), name


def test_a_cluster_is_deleted_only_when_the_message_says_so() -> None:
    for stem, action in (
        ("trigger-cluster", "stop"),
        ("trigger-clusters", "stop"),
        ("trigger-cluster-url", "stop"),
        ("trigger-cluster-delete", "delete"),
    ):
        example = json.loads((SCHEMAS / "examples" / f"{stem}.json").read_text())
        trigger = decode_trigger(as_event(example))
        assert trigger.info.action == action, stem
        assert trigger.targets and all(t.kind == "cluster" for t in trigger.targets)


BUDGET = json.loads((SCHEMAS / "examples" / "budget-notification-over.json").read_text())


@pytest.mark.parametrize(
    ("attributes", "data"),
    [
        ({**BUDGET["attributes"], "dryRun": "true"}, BUDGET["data"]),
        ({**BUDGET["attributes"], "operation": OPERATION}, BUDGET["data"]),
        (BUDGET["attributes"], {**BUDGET["data"], "dryRun": False}),
        (BUDGET["attributes"], {**BUDGET["data"], "sweep": {"scopes": [SCOPE]}}),
        (BUDGET["attributes"], {**BUDGET["data"], "costAmount": -1}),
    ],
    ids=["extra attribute", "operation attribute", "dryRun field", "sweep field", "negative cost"],
)
def test_a_budget_notification_holds_only_what_billing_sends(
    attributes: dict[str, str], data: dict[str, Any]
) -> None:
    """Anything more would be ignored if it were read, so it is refused: nobody may believe
    a dryRun (or a sweep) beside a budget was obeyed. Attributes are not the JSON Schema's
    to describe; the data is."""
    if set(attributes) == set(BUDGET["attributes"]):
        assert not TRIGGER_SCHEMA.is_valid(data)
    trigger = decode_trigger(as_event({"data": data, "attributes": attributes}))
    assert trigger.rejections and trigger.budget is None and trigger.sweep is None


def test_the_operation_attribute_is_read_only_with_an_empty_body() -> None:
    for data in ("", "  \n"):
        (target,) = decode_trigger(
            as_event({"data": data, "attributes": {"operation": OPERATION}})
        ).targets
        assert target.name == OPERATION
    for data in (f"{SCOPE}/operations/op-2", {"operation": f"{SCOPE}/operations/op-2"}):
        trigger = decode_trigger(as_event({"data": data, "attributes": {"operation": OPERATION}}))
        assert not trigger.targets
        (rejection,) = trigger.rejections
        assert "only read with an empty body" in rejection.detail


def test_a_named_continuation_marks_only_its_own_names_as_attempted() -> None:
    """What JSON Schema cannot say (attempted is a subset of the list), the decoder does."""
    data = {
        "sessions": [SESSION + "nb-1"],
        "continuation": {**NAMED, "attempted": [SESSION + "nb-2"]},
    }
    trigger = decode_trigger(as_event({"data": data, "attributes": {}}))
    assert trigger.rejections and not trigger.targets
    assert "attempted" in trigger.rejections[0].detail
