"""Organisation scale: what a message cannot do now goes on, and is answered once.

Regressions of the second hostile review of issue 16 (each failed on the code it
reviewed; its docstring names the defect, and the test asserts the fixed behaviour).
Driven in process against the emulator, as tests/emulator/test_fan_out_at_the_limits.py does.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from canceller import fan_out
from canceller.results import Outcome
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import (
    BILLING_ACCOUNT,
    WHOLE_ACCOUNT_BUDGET_ID,
    fake_organisation,
)
from tests.support.dispatching import PROJECT, follow_fan_out, handle
from tests.support.organisation import (
    FAST,
    ORGANISATION,
    OWN_PAIR,
    QUICK,
    RM_503,
    SUB_1,
    TEAM_1,
    TEAM_2,
    TOPIC,
    budget_notification,
    job_state,
    seed_job,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _details(results: Any) -> list[str]:
    return [f"{r.outcome.value} {r.target}: {r.detail[:300]}" for r in results]


# ---- 1. A budget read as SWEEP_SCOPES hands its failed search on under the budget ------


def test_a_failed_search_of_sweep_scopes_read_for_an_unreadable_budget_is_searched_later(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: the budget is refused for good (403), so SWEEP_SCOPES (two folders) is
    swept instead, as docs/integrations.md promises. The second folder's search fails for now and is
    handed on, but run_fan_out's _rest sees spec.budget and writes it into the
    continuation: the continuation reads the budget again, is refused again, and answers
    REJECTED "this continuation's budget cannot be read". The folder from SWEEP_SCOPES is
    never searched and its work never stopped (a readable budget would instead narrow
    the folder away as "covers nothing")."""
    first = seed_job(admin, "org-f1-p1", "us-central1", "a")
    second = seed_job(admin, "org-f2-p1", "us-central1", "b")
    admin.add_fault(pathRegex=r"/budgets/", status=403, times=-1)
    admin.add_fault(
        pathRegex=r"folders/2002:searchAllResources", status=503, retryAfter="60", times=1
    )
    body, attributes = budget_notification()
    run = follow_fan_out(
        emulator,
        body,
        attributes,
        limit=8,
        ALLOWED_ANCESTORS=ORGANISATION,
        SWEEP_SCOPES=f"{TEAM_1},{TEAM_2}",
        **FAST,
    )
    parent = run.handled[0]
    assert parent.continuation is not None
    rejected = [r for r in run.results if r.outcome is Outcome.REJECTED]
    assert rejected == [], _details(rejected)
    assert (job_state(admin, first), job_state(admin, second)) == ("CANCELLED", "CANCELLED")


# ---- 2. A plain sweep drops, for good, a scope the allowlist could not check yet -------


def test_a_scope_resource_manager_cannot_check_yet_is_not_dropped_beside_one_swept(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: run_sweep's new `unchecked` scopes. A sweep of the function's own pair and
    a pair in an allowed folder, while Resource Manager answers 503: the own pair is
    swept, the other is only named in the summary ("NOT swept, the allowlist could not
    be checked"), and the message is acked with no continuation and no redelivery. The
    job in the allowed folder is never stopped and no result names it: an outcome lost.
    docs/integrations.md: "Resource Manager failing for now is not a refusal"."""
    own = seed_job(admin, PROJECT, "us-central1", "own")
    placed = seed_job(admin, "org-f1-p1", "us-central1", "placed")
    admin.add_fault(**RM_503, times=-1)
    pair = "projects/org-f1-p1/regions/us-central1"
    handled = handle(
        emulator,
        {"sweep": {"scopes": [OWN_PAIR, pair]}},
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=TOPIC,
        **FAST,
    )
    assert job_state(admin, own) == "CANCELLED"
    assert job_state(admin, placed) == "RUNNING"
    # It goes on in a sweep of its own project, a part of this chain, which checks again.
    (child,) = handled.children
    assert child.message["sweep"]["scopes"] == [pair]
    assert child.attributes()["part"] == "projects/org-f1-p1"
    assert handled.transient_failures == []  # what this message stopped is not redelivered


def test_an_inline_fan_out_does_not_drop_a_project_resource_manager_cannot_check_yet(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: the same through a fan-out without TRIGGER_TOPIC: the parent fans the
    unplaceable project in (not a refusal), its inline run_sweep drops it as unchecked
    beside the explicit pair it does sweep, and the message is acked: org-f1-p1's job is
    never stopped, and sweep.fanOut counts it as a pair swept."""
    own = seed_job(admin, PROJECT, "us-central1", "own")
    placed = seed_job(admin, "org-f1-p1", "us-central1", "placed")
    admin.add_fault(**RM_503, times=-1)
    handled = handle(
        emulator, {"sweep": {"scopes": [TEAM_1, OWN_PAIR]}}, ALLOWED_ANCESTORS=TEAM_1, **FAST
    )
    assert job_state(admin, own) == "CANCELLED"
    assert job_state(admin, placed) == "RUNNING"
    assert handled.transient_failures, _details(handled.results)


# ---- 3. A parent's continuation fans a project out again, under the same keys ----------


def test_a_project_found_by_the_parent_is_not_fanned_out_again_by_its_continuation(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: a sweep of team-1 and its subfolder (both allowed), the subfolder's
    search failing for now. The parent's team-1 search already found org-f1s1-p1 and
    fanned it out; the continuation searches the subfolder and fans org-f1s1-p1 out
    AGAIN, as a child with the same attributes (chain, generation 1, part), which
    docs/message-contract.md says marks "one fork's copies", though here its body differs
    (work seen since): two different children, and two different summaries under one
    dedupeKey (…/summary/projects/org-f1s1-p1/1), of which a consumer keeps one. It also costs the
    project a second round of Dataproc listings."""
    seed_job(admin, "org-f1s1-p1", "us-central1", "a")
    admin.add_fault(
        pathRegex=r"folders/2101:searchAllResources", status=503, retryAfter="60", times=1
    )
    settings = {"ALLOWED_ANCESTORS": ORGANISATION, "TRIGGER_TOPIC": TOPIC, **QUICK}
    parent = handle(emulator, {"sweep": {"scopes": [TEAM_1, SUB_1]}}, message_id="m-0", **settings)
    assert parent.continuation is not None
    seed_job(admin, "org-f1s1-p1", "europe-west1", "b")  # seen by the continuation's search
    later = handle(emulator, parent.continuation.message, message_id="m-1", **settings)
    first = [c for c in parent.children if c.part == "projects/org-f1s1-p1"]
    again = [c for c in later.children if c.part == "projects/org-f1s1-p1"]
    assert len(first) == 1
    assert again == [] or (
        again[0].attributes() != first[0].attributes() or again[0].message == first[0].message
    ), (first[0].message, again[0].message)


# ---- 4. The trigger schema's new patterns are not JSON Schema (ECMA-262) regexes --------


def _patterns(node: Any, where: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.append((f"{where}/{key}", value))
            else:
                found += _patterns(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _patterns(value, f"{where}/{index}")
    return found


def test_every_trigger_schema_pattern_is_an_ecma_262_regex() -> None:
    """Defect: 4cdb839 wrote sweep.scopes' items, scopeKinds' propertyNames and
    sweep.budget as Python regexes with named groups `(?P<project>...)`. JSON Schema
    patterns are ECMA-262: every non-Python validator (ajv, Go, Java, BigQuery tooling)
    refuses to compile the schema or every sweep message. Before the fixes no pattern
    used `(?P<`. Checked with node when it is installed, else by the Python-only syntax."""
    schema = json.loads((SCHEMAS / "trigger.schema.json").read_text())
    patterns = _patterns(schema)
    assert patterns
    python_only = [where for where, pattern in patterns if "(?P<" in pattern]
    bad = list(python_only)
    if node := shutil.which("node"):
        script = (
            "const ps=JSON.parse(require('fs').readFileSync(0,'utf8'));const bad=[];"
            "for(const [w,p] of ps){try{new RegExp(p,'u')}catch(e){bad.push(w)}}"
            "console.log(JSON.stringify(bad))"
        )
        out = subprocess.run(
            [node, "-e", script], input=json.dumps(patterns), capture_output=True, text=True
        )
        bad = sorted(set(bad) | set(json.loads(out.stdout)))
    assert bad == [], bad


# ---- 5. The budget's label clause can push the children's filter past 1 KiB -------------


def test_a_budget_label_past_the_filter_limit_is_answered_once_by_the_parent(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: the parent ANDed the budget's label clause onto SWEEP_FILTER without
    checking the result, so every child carried a filter past 1,024 characters and was
    REJECTED whole at decode, each on its own, the budget's parent saying it fanned out.
    Now the parent answers once, saying why, and publishes no child."""
    values = {key: key * 63 for key in "abcdefghijkl"}
    values["m"] = "m" * 30
    sweep_filter = " AND ".join(f'labels.{k} = "{v}"' for k, v in values.items())
    assert len(sweep_filter) <= 1024
    description = copy.deepcopy(org)
    description["budgets"].append(
        {
            "billingAccount": BILLING_ACCOUNT,
            "id": "budget-etl",
            "displayName": "etl",
            "budgetFilter": {"labels": {"team": ["etl"]}},
            "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "10"}},
        }
    )
    admin.seed_organisation(description)
    job = seed_job(admin, "org-f1-p1", "us-central1", "etl", labels={**values, "team": "etl"})
    body, attributes = budget_notification("budget-etl")
    run = follow_fan_out(
        emulator,
        body,
        attributes,
        limit=5,
        ALLOWED_ANCESTORS=ORGANISATION,
        SWEEP_FILTER=sweep_filter,
        **FAST,
    )
    (rejected,) = [r for r in run.results if r.outcome is Outcome.REJECTED]
    assert "the budget's labels beside the sweep filter cannot be applied" in rejected.detail
    assert len(run.handled) == 1 and run.handled[0].children == []
    assert job_state(admin, job) == "RUNNING"


# ---- 6. A budget's searches past 1,050 are dropped, the same ones every time ------------


def test_a_budget_says_which_searches_past_its_continuation_cap_were_not_read(
    emulator: Any, admin: EmulatorAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect: the first message searches MAX_SEARCH_SCOPES (50) and its continuation
    carried at most 1,000; the rest was cut, the same projects every notification. The
    cap is now 10,000 (one search per billed project of a whole-account budget; a
    message of about 300 KB), and what is past it is said NOT searched in the summary,
    with what to do. Scaled down here (1 search a message, 2 carried) over 7 projects."""
    monkeypatch.setattr(fan_out, "MAX_SEARCH_SCOPES", 1)
    monkeypatch.setattr(fan_out, "MAX_BUDGET_SEARCHES", 2)
    description = fake_organisation(folders=2, projects_per_folder=2)
    admin.seed_organisation(description)
    billed = sorted(p["projectId"] for p in description["projects"])
    last = seed_job(admin, billed[-1], "us-central1", "a")
    body, attributes = budget_notification(WHOLE_ACCOUNT_BUDGET_ID)
    run = follow_fan_out(emulator, body, attributes, limit=20, ALLOWED_PROJECTS="*", **FAST)
    searched = sorted(
        scope
        for handled in run.handled
        for result in handled.results
        if result.outcome is Outcome.SWEEP_SUMMARY and "fanOut" in result.provenance.sweep
        for scope in result.provenance.sweep["fanOut"]["searched"]
    )
    assert searched == [f"projects/{p}" for p in billed[:3]]  # 1, then the 2 carried
    (first,) = [r for r in run.handled[0].results if r.outcome is Outcome.SWEEP_SUMMARY]
    assert "4 more NOT searched (set ALLOWED_ANCESTORS" in first.detail
    assert first.provenance.sweep["fanOut"]["complete"] is False
    assert job_state(admin, last) == "RUNNING"


# ---- 7. A child refused at decode answers outside its sweep, a key per copy --------------


def test_copies_of_a_child_refused_at_decode_answer_under_one_key_of_its_sweep(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: a fan-out child refused whole at decode (here the filter past 1 KiB that
    finding 5's parent writes; also the part and scopeKinds checks 17c1e4e added) is
    answered under `names-<its message id>/rejected/0/...`: not its sweep's id, so the
    budget action's total by sweep id misses it, and the two copies a redelivered parent
    publishes (same body and attributes, two message ids) answer one refusal under two
    keys. docs/message-contract.md: the key "is the same for every answer to one target, whichever
    delivery or fork gave it"."""
    part = "projects/org-f1-p1"
    child = {
        "sweep": {
            "scopes": [f"{part}/regions/us-central1"],
            "kinds": ["jobs"],
            "filter": " AND ".join([f'labels.k = "{"v" * 60}"'] * 15),
            "continuation": {"sweepId": "sweep-m-0", "generation": 1, "part": part},
        }
    }
    attributes = {"continuation": "true", "chain": "sweep-m-0", "generation": "1", "part": part}
    keys = []
    for message_id in ("c-1", "c-2"):
        handled = handle(
            emulator, child, attributes, message_id=message_id, ALLOWED_ANCESTORS=TEAM_1, **QUICK
        )
        (rejected,) = handled.results
        assert rejected.outcome is Outcome.REJECTED and "1024" in rejected.detail
        keys.append(rejected.key)
    assert keys[0] == keys[1], keys
    assert keys[0].startswith(f"sweep-m-0/{part}/"), keys
