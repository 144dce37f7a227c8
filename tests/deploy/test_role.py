"""canceller.role: the permission lists deploy.sh grants, as `python3 -m canceller.role`
prints them. A target project's role is the kind registry's Dataproc permissions; a folder's
or an organisation's adds the calls of canceller/org_apis.py granted on a scope; a project
at organisation scale the same, less what only a folder or an organisation can hold; the
billing account's, the calls granted on it. None is typed here: each comes from the
registry or from org_apis, so a call added there reaches the role without an edit here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from canceller.kinds import role_permissions
from canceller.org_apis import ORG_CALLS, permissions_on
from canceller.role import held_by_a_project, main, permissions

ROOT = Path(__file__).resolve().parents[2]
DELETE = frozenset({"CLUSTER_DELETE_ALLOWED"})


@pytest.mark.parametrize("settings", [frozenset(), DELETE], ids=["plain", "delete"])
def test_a_target_projects_role_is_the_registrys_dataproc_permissions(
    settings: frozenset[str],
) -> None:
    assert permissions(None, settings) == role_permissions(settings)
    assert all(permission.startswith("dataproc.") for permission in permissions(None, settings))


@pytest.mark.parametrize("settings", [frozenset(), DELETE], ids=["plain", "delete"])
def test_a_scopes_role_adds_every_call_granted_on_a_scope(settings: frozenset[str]) -> None:
    scope = permissions("--scope", settings)
    assert set(scope) == set(role_permissions(settings)) | set(permissions_on("scope"))
    assert list(scope) == sorted(scope)
    assert {
        "resourcemanager.projects.get",
        "resourcemanager.folders.get",
        "cloudasset.assets.searchAllResources",
    } <= set(scope)
    assert not {permission for permission in scope if permission.startswith("billing.")}


def test_a_project_at_organisation_scale_holds_the_scopes_role_less_folders() -> None:
    """IAM refuses, in a project-level custom role, a permission that only means something
    on a folder or an organisation ("Permission ... is not valid")."""
    project = permissions("--project-scope", DELETE)
    above = set(permissions("--scope", DELETE)) - set(project)
    assert above == {"resourcemanager.folders.get"}
    assert all(held_by_a_project(permission) for permission in project)
    assert {"resourcemanager.projects.get", "cloudasset.assets.searchAllResources"} <= set(project)
    assert not held_by_a_project("resourcemanager.organizations.get")


def test_the_billing_accounts_role_is_the_budget_and_its_projects() -> None:
    assert permissions("--billing-account", frozenset()) == (
        "billing.budgets.get",
        "billing.resourceAssociations.list",
    )


def test_every_organisation_call_is_granted_exactly_where_org_apis_says() -> None:
    scope = set(permissions("--scope", frozenset()))
    billing = set(permissions("--billing-account", frozenset()))
    for call in ORG_CALLS:
        assert call.granted_on in ("scope", "billing account"), call
        where, elsewhere = (scope, billing) if call.granted_on == "scope" else (billing, scope)
        assert call.permission in where and call.permission not in elsewhere, call


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--bogus"], "unknown option --bogus; known: --scope, --project-scope"),
        (["--billing-account", "CLUSTER_DELETE_ALLOWED"], "--billing-account takes no setting"),
        (["--scope", "DRY_RUN"], "unknown setting(s) DRY_RUN; known: CLUSTER_DELETE_ALLOWED"),
        (["DRY_RUN"], "unknown setting(s) DRY_RUN"),
    ],
)
def test_bad_arguments_are_refused(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_deploy_sh_invocations_print_one_permission_a_line() -> None:
    """As deploy.sh runs it: python3 -m, the repository on PYTHONPATH, nothing else set."""

    def run(*arguments: str) -> list[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "canceller.role", *arguments],
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)},
            cwd="/",
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return completed.stdout.splitlines()

    assert run() == list(role_permissions())
    assert run("CLUSTER_DELETE_ALLOWED") == list(role_permissions(DELETE))
    assert run("--scope", "CLUSTER_DELETE_ALLOWED") == list(permissions("--scope", DELETE))
    assert run("--project-scope") == list(permissions("--project-scope", frozenset()))
    assert run("--billing-account") == list(permissions_on("billing account"))
