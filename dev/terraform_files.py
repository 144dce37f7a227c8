#!/usr/bin/env python3
"""deploy/terraform/canceller.json: what the Terraform module must know of the code and of
deploy.sh, written from them rather than typed into the module.

    .venv/bin/python dev/terraform_files.py          write it
    .venv/bin/python dev/terraform_files.py --check  exit 1 (naming the command) if stale

From the Python code: the entry point (the function main.py decorates as a CloudEvent
function), the custom roles' permissions (canceller.role, as deploy.sh reads them) and the
terms of the function timeout (canceller.settings, Settings.longest_message_seconds). From
the repository: the files a deployment ships (the tracked files .gcloudignore lets through,
as `gcloud functions deploy --source .` uploads them). From deploy.sh: the settings a user
may give and those a flag owns, the APIs it enables, its limits and the budget publisher.
tests/deploy/test_terraform_module.py fails when the committed file differs from a fresh one.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from canceller.kinds import KINDS  # noqa: E402
from canceller.role import permissions  # noqa: E402
from canceller.settings import load_settings  # noqa: E402

OUTPUT = REPO / "deploy" / "terraform" / "canceller.json"
DEPLOY_SH = REPO / "deploy.sh"
# The one setting that adds permissions, and the module's variable that turns it on.
CLUSTER_DELETE = "CLUSTER_DELETE_ALLOWED"
# deploy.sh's `readonly NAME=value` and `readonly NAME=(...)` the module uses.
DEPLOY_SH_SCALARS = (
    "MAX_EVENT_FUNCTION_TIMEOUT",
    "ACK_MARGIN",
    "MAX_ACK_DEADLINE",
    "MAX_SILENCE_SECONDS",
    "ASSET_API",
    "BUDGET_PUBLISHER",
    "BILLING_VIEWER_ROLE",
    "SECRET_ACCESSOR",
    "NOTIFY_VARIABLE",
    "DATAPROC_REQUEST_QUOTA",
    "DATAPROC_JOB_OPERATION_QUOTA",
    "DATAPROC_CLUSTER_OPERATION_QUOTA",
)
DEPLOY_SH_LISTS = ("BASE_APIS", "BILLING_APIS", "USER_SETTINGS", "BILLING_VIEWER_HOLDS")


class Stale(Exception):
    """The inputs are not what this generator can describe to the module."""


def entry_point(main_py: str) -> str:
    """The name of the module-level function main.py decorates as a CloudEvent function
    (``@functions_framework.cloud_event``): what Cloud Functions calls. An alias kept for
    older deployments is decorated too (functions-framework registers a type by name) but
    only calls the entry point, so it is not one."""
    decorated = [
        node
        for node in ast.parse(main_py).body
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(decorator, ast.Attribute) and decorator.attr == "cloud_event"
            for decorator in node.decorator_list
        )
    ]
    names = {node.name for node in decorated}
    entries = [node.name for node in decorated if not _only_calls(node, names)]
    if len(entries) != 1:
        raise Stale(f"main.py should decorate one function with cloud_event, not {entries}")
    return entries[0]


def _only_calls(function: ast.FunctionDef, names: set[str]) -> bool:
    """Its body, past a docstring, is one call of another of ``names``: an alias."""
    body = function.body[1:] if ast.get_docstring(function) is not None else function.body
    return (
        len(body) == 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Call)
        and isinstance(body[0].value.func, ast.Name)
        and body[0].value.func.id in names - {function.name}
    )


def role_permissions() -> dict[str, Any]:
    """Each role deploy.sh makes, without and with --allow-cluster-delete."""
    known = {
        setting for kind in KINDS.values() for setting in kind.optional_permission_verbs.values()
    }
    if known != {CLUSTER_DELETE}:
        raise Stale(
            f"the kinds' optional permissions hang on {sorted(known)}; the module knows only "
            f"{CLUSTER_DELETE} (its allow_cluster_delete): teach it the others first"
        )
    roles: dict[str, Any] = {}
    for name, option in (
        ("project", None),
        ("project_scope", "--project-scope"),
        ("scope", "--scope"),
    ):
        roles[name] = {
            "default": list(permissions(option, frozenset())),
            "cluster_delete": list(permissions(option, frozenset({CLUSTER_DELETE}))),
        }
    roles["billing_account"] = list(permissions("--billing-account", frozenset()))
    return roles


def timeout_terms() -> dict[str, float]:
    """The defaults of the settings the timeout is summed from, and the rest of the sum
    (a chat notification, decoding, logging, a cold start), as deploy.sh's
    check_function_settings splits Settings.longest_message_seconds."""
    settings = load_settings(
        {"RESULTS_TOPIC": "projects/sample-project/topics/results", "GOOGLE_CLOUD_PROJECT": "p"}
    )
    retry = settings.retry_deadline_seconds
    verify = settings.verify_timeout_seconds
    publish = settings.publish_timeout_seconds
    margin = settings.longest_message_seconds - retry - verify - 2 * publish
    return {
        "RETRY_DEADLINE_SECONDS": retry,
        "VERIFY_TIMEOUT_SECONDS": verify,
        "PUBLISH_TIMEOUT_SECONDS": publish,
        "margin_seconds": round(margin, 6),
    }


def source_files() -> list[str]:
    """The tracked files `gcloud functions deploy --source .` uploads: those .gcloudignore
    (gitignore syntax) does not exclude."""

    def git(*arguments: str) -> set[str]:
        out = subprocess.run(
            ["git", "-c", "core.excludesFile=/dev/null", "ls-files", "-c", *arguments],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return set(out.splitlines())

    shipped = git() - git("-i", "--exclude-from=.gcloudignore")
    if "main.py" not in shipped:
        raise Stale(f"main.py is not among the files .gcloudignore lets through: {sorted(shipped)}")
    return sorted(shipped)


def deploy_sh_facts(text: str) -> dict[str, Any]:
    """deploy.sh's constants that the module shares, read from its `readonly` lines."""
    facts: dict[str, Any] = {}
    for name in DEPLOY_SH_SCALARS:
        match = re.search(rf"^readonly {name}=(\S+)", text, re.MULTILINE)
        if not match:
            raise Stale(f"deploy.sh has no `readonly {name}=...`")
        value = match.group(1)
        facts[name.lower()] = int(value) if value.isdigit() else value
    for name in DEPLOY_SH_LISTS:
        match = re.search(rf"^readonly {name}=\((.*?)\)", text, re.MULTILINE | re.DOTALL)
        if not match:
            raise Stale(f"deploy.sh has no `readonly {name}=(...)`")
        facts[name.lower()] = match.group(1).split()
    block = re.search(r"^declare -rA SETTING_FLAGS=\((.*?)^\)", text, re.MULTILINE | re.DOTALL)
    if not block:
        raise Stale("deploy.sh has no `declare -rA SETTING_FLAGS=(...)`")
    facts["setting_flags"] = sorted(re.findall(r"^\s*\[([A-Z_]+)\]=", block.group(1), re.MULTILINE))
    return facts


def generate() -> str:
    facts = deploy_sh_facts(DEPLOY_SH.read_text())
    roles = role_permissions()
    # deploy.sh grants roles/billing.viewer where no custom role can be made, and refuses a
    # billing permission that role is not known to hold: so does this.
    if unheld := set(roles["billing_account"]) - set(facts.pop("billing_viewer_holds")):
        raise Stale(f"{facts['billing_viewer_role']} is not known to hold {sorted(unheld)}")
    document = {
        "comment": (
            "Written by dev/terraform_files.py from main.py, canceller/, .gcloudignore and "
            "deploy.sh; do not edit: rerun it (tests/deploy/test_terraform_module.py checks)."
        ),
        "entry_point": entry_point((REPO / "main.py").read_text()),
        "permissions": roles,
        "timeout": timeout_terms(),
        "source_files": source_files(),
        "deploy_sh": facts,
    }
    return json.dumps(document, indent=2) + "\n"


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    options = parser.parse_args(arguments)
    try:
        text = generate()
    except Stale as problem:
        print(f"dev/terraform_files.py: {problem}", file=sys.stderr)
        return 2
    relative = OUTPUT.relative_to(REPO)
    if options.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(
                f"{relative} is stale: run .venv/bin/python dev/terraform_files.py", file=sys.stderr
            )
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
