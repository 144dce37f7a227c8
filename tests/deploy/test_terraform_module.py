"""deploy/terraform: the Terraform module deploys what deploy.sh deploys, with the same least
privilege, checked without the providers (their registry is out of reach here).

- Its files are as `terraform fmt` writes them; canceller.json is what dev/terraform_files.py
  writes from the code now; the archive holds what `gcloud functions deploy` uploads.
- Every resource and data block, argument and nested block is one the provider's own schema
  has, every required one present (tests/deploy/terraform-provider-schema.json, see
  dev/terraform_provider_schema.py); every reference names something declared.
- modules/config, which works out everything deploy.sh works out before its first gcloud
  call and uses no provider, is run by terraform itself and held against a deploy.sh
  --dry-run with the same flags: settings, timeout and ack deadline, roles, publishers,
  APIs, names, log metrics; and the monitoring files it fills in against deploy.sh's way.
- It refuses what deploy.sh refuses.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from packaging.specifiers import SpecifierSet

from canceller.role import permissions
from tests.support.gcloud_offline import offline_env, real_gcloud
from tests.support.monitoring_messages import decode_all
from tests.support.monitoring_templates import MONITORING, SAMPLE_CHANNELS, SAMPLE_VALUES, render
from tests.support.terraform import (
    CONFIG,
    EXAMPLE,
    HCL_KEYS,
    MODULE,
    REPO,
    ConfigRoot,
    Module,
    block_problems,
    config_inputs,
    interpolations,
    literal,
    provider_schemas,
    reference_problems,
    schema_problems,
    terraform,
)

PROJECT = "canceller-test-1"
DEPLOY = REPO / "deploy.sh"
PROJECT_NUMBER = "<PROJECT_NUMBER>"  # what a deploy.sh dry run writes for it
MODULES = (MODULE, CONFIG, EXAMPLE)


@pytest.fixture(scope="module")
def config_root(tmp_path_factory: pytest.TempPathFactory) -> ConfigRoot:
    return ConfigRoot(tmp_path_factory.mktemp("config-root"))


def _generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "terraform_files", REPO / "dev" / "terraform_files.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the files ------------------------------------------------------------------------------


def test_the_module_is_formatted_as_terraform_fmt_writes_it() -> None:
    completed = terraform(["fmt", "-check", "-recursive", "-diff", str(MODULE)], REPO)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_canceller_json_is_what_dev_terraform_files_writes_from_the_code_now() -> None:
    committed = (MODULE / "canceller.json").read_text()
    assert committed == _generator().generate(), (
        "deploy/terraform/canceller.json is stale: run .venv/bin/python dev/terraform_files.py"
    )


def test_the_entry_point_is_the_function_main_py_decorates_even_beside_an_alias() -> None:
    generator = _generator()
    renamed = (
        "import functions_framework\n"
        "@functions_framework.cloud_event\n"
        "def stop_dataproc_work(event): ...\n"
        "@functions_framework.cloud_event\n"
        "def cancel_operation(event):\n"
        '    """The first name."""\n'
        "    stop_dataproc_work(event)\n"
    )
    assert generator.entry_point(renamed) == "stop_dataproc_work"
    assert generator.entry_point((REPO / "main.py").read_text()) == _canceller()["entry_point"]
    with pytest.raises(generator.Stale, match="one function"):
        generator.entry_point(renamed + "@functions_framework.cloud_event\ndef other(event): ...\n")


def test_the_archive_ships_exactly_the_tracked_files_gcloud_uploads(tmp_path: Path) -> None:
    """`gcloud meta list-files-for-upload` applies .gcloudignore as `gcloud functions
    deploy --source .` does (offline); of those, the tracked files are what ships."""
    env = offline_env(tmp_path / "gcloud-config")
    uploaded = subprocess.run(
        [real_gcloud(), "meta", "list-files-for-upload", str(REPO)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert _canceller()["source_files"] == sorted(set(uploaded) & set(tracked))


def _canceller() -> dict[str, Any]:
    return json.loads((MODULE / "canceller.json").read_text())


# --- against the providers' schemas -----------------------------------------------------------


def test_every_block_argument_and_nested_block_is_in_the_provider_schema() -> None:
    schemas = provider_schemas()["schemas"]
    problems = [
        problem for path in MODULES for problem in schema_problems(Module.load(path), schemas)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        pytest.param(
            ("runtime     = var.runtime", "runtim = var.runtime"),
            "no argument runtim",
            id="misspelt",
        ),
        pytest.param(
            ("location = var.region\n", 'location = var.region\n  url = "x"\n'),
            "no argument url (read-only)",
            id="read-only",
        ),
        pytest.param(
            ("  location = var.region\n", ""), "required argument location missing", id="required"
        ),
        pytest.param(
            ('dynamic "secret_environment_variables"', 'dynamic "secret_environment_variable"'),
            "no block secret_environment_variable (dynamic)",
            id="dynamic",
        ),
        pytest.param(
            ('        version    = "latest"\n', ""),
            "secret_environment_variables: required argument version missing",
            id="nested-required",
        ),
    ],
)
def test_the_schema_check_catches_mistakes(mistake: tuple[str, str], expected: str) -> None:
    text = (MODULE / "function.tf").read_text()
    assert mistake[0] in text
    document = hcl2.loads(text.replace(mistake[0], mistake[1], 1))
    (body,) = [
        entry['"google_cloudfunctions2_function"']['"canceller"']
        for entry in document["resource"]
        if '"google_cloudfunctions2_function"' in entry
    ]
    schema = provider_schemas()["schemas"]["resource google_cloudfunctions2_function"]
    own = {key: value for key, value in body.items() if key not in {"depends_on"}}
    problems = block_problems("function", own, schema)
    assert any(expected in problem for problem in problems), problems


def test_the_provider_versions_checked_are_the_ones_the_module_accepts() -> None:
    required = Module.load(MODULE).documents["versions.tf"]["terraform"][0]["required_providers"][0]
    checked = {
        entry["provider"]: entry["provider_version"] for entry in provider_schemas()["providers"]
    }
    for name, requirement in required.items():
        if name.startswith("__"):  # python-hcl2's comments
            continue
        source = f"registry.terraform.io/{literal(requirement['source'])}"
        assert source in checked, f"{source}: no schema was taken from it"
        assert checked[source] in SpecifierSet(literal(requirement["version"])), (
            name,
            checked[source],
        )


# --- references ------------------------------------------------------------------------------


def test_every_reference_names_a_declared_variable_local_output_resource_and_attribute() -> None:
    schemas = provider_schemas()["schemas"]
    problems = [
        problem for path in MODULES for problem in reference_problems(Module.load(path), schemas)
    ]
    assert problems == []


def test_the_reference_check_catches_what_is_not_declared() -> None:
    schemas = provider_schemas()["schemas"]
    module = copy.deepcopy(Module.load(MODULE))
    module.documents["mistakes.tf"] = hcl2.loads(
        'output "a" { value = var.nope }\n'
        'output "b" { value = local.nope }\n'
        'output "c" { value = module.config.nope }\n'
        'output "d" { value = google_pubsub_topic.nope.id }\n'
        'output "e" { value = google_pubsub_topic.trigger.nope }\n'
        'output "f" { value = google_cloudfunctions2_function.canceller.service_config[0].nope }\n'
    )
    problems = "\n".join(reference_problems(module, schemas))
    for expected in (
        "var.nope is not declared",
        "local.nope is not defined",
        "module.config.nope: config has no such output",
        "google_pubsub_topic.nope is not declared",
        "google_pubsub_topic.trigger.nope: no such attribute",
        "service_config.nope: no such attribute",
    ):
        assert expected in problems


def test_module_calls_give_declared_variables_and_every_required_one() -> None:
    for path in (MODULE, EXAMPLE):
        for name, call in Module.load(path).module_calls.items():
            called = Module.load((path / literal(call["source"])).resolve())
            given = set(call) - HCL_KEYS - {"source"}
            required = {
                variable for variable, body in called.variables.items() if "default" not in body
            }
            assert given <= set(called.variables), (path.name, name, given - set(called.variables))
            assert required <= given, (path.name, name, required - given)


def test_every_variable_and_local_is_used() -> None:
    for path in MODULES:
        module = Module.load(path)
        used = " ".join(
            expression for _, text in module.expressions() for expression in interpolations(text)
        )
        unused = [
            f"var.{name}" for name in module.variables if not re.search(rf"\bvar\.{name}\b", used)
        ]
        unused += [
            f"local.{name}" for name in module.locals if not re.search(rf"\blocal\.{name}\b", used)
        ]
        assert unused == [], path.name


def test_the_settings_a_variable_sets_are_deploy_sh_s_setting_flags_each_naming_a_variable() -> (
    None
):
    text = (CONFIG / "main.tf").read_text()
    block = re.search(r"setting_variables = \{(.*?)\n  \}", text, re.DOTALL)
    assert block
    named = dict(re.findall(r"(\w+)\s+= \"([^\"]+)\"", block.group(1)))
    assert sorted(named) == _canceller()["deploy_sh"]["setting_flags"]
    root = Module.load(MODULE).variables
    for variables in named.values():
        assert all(variable in root for variable in variables.split(" or ")), variables


def test_the_alert_policies_fields_the_module_maps_are_every_field_the_files_use() -> None:
    """The provider takes an alert policy as arguments, not JSON: a field added to a file
    that monitoring.tf does not carry would be dropped without a word."""

    def keys(value: Any) -> set[str]:
        """Every field name, but a label's: userLabels is carried whole."""
        if isinstance(value, dict):
            inner = [item for key, item in value.items() if key != "userLabels"]
            return set(value) | {key for item in inner for key in keys(item)}
        if isinstance(value, list):
            return {key for item in value for key in keys(item)}
        return set()

    text = (MODULE / "monitoring.tf").read_text()
    for path in sorted(MONITORING.glob("alert-*.json")):
        if path.name.startswith("alert-") and path.stem.removeprefix("alert-") in _alert_names():
            fields = keys(json.loads(path.read_text()))
            missing = sorted(field for field in fields if not re.search(rf"\.{field}\b", text))
            assert missing == [], path.name


def _alert_names() -> list[str]:
    text = (CONFIG / "monitoring.tf").read_text()
    block = re.search(r"monitoring_files = \{(.*?)\n  \}", text, re.DOTALL)
    assert block
    return [
        name
        for name in re.findall(r"^\s+([\w-]+)\s+=", block.group(1), re.MULTILINE)
        if name != "dashboard"
    ]


# --- the defaults ------------------------------------------------------------------------------

# deploy.sh's variable (NAME=${CANCELLER_X:-default}) -> the module's.
DEFAULTS = {
    "REGION": "region",
    "FUNCTION": "function_name",
    "TRIGGER_TOPIC": "trigger_topic",
    "RESULTS_TOPIC": "results_topic",
    "DEAD_LETTER_TOPIC": "dead_letter_topic",
    "TARGET_PROJECTS": "target_projects",
    "VERIFY_TIMEOUT": "verify_timeout",
    "FUNCTION_TIMEOUT": "timeout",
    "MEMORY": "memory",
    "MAX_INSTANCES": "max_instances",
    "RUNTIME": "runtime",
    "MAX_DELIVERY_ATTEMPTS": "max_delivery_attempts",
    "SWEEP_SCHEDULE": "sweep_schedule",
    "SWEEP_TIME_ZONE": "sweep_time_zone",
    "BILLING_ACCOUNT": "billing_account",
    "REQUESTS_PER_MINUTE": "dataproc_requests_per_minute",
    "JOB_CANCELS_PER_MINUTE": "dataproc_job_cancels_per_minute",
    "CLUSTER_OPERATIONS_PER_MINUTE": "dataproc_cluster_operations_per_minute",
    "BUDGET_LADDER": "budget_ladder",
    "CLUSTER_INCIDENT_ACTION": "cluster_incident_action",
    "ALLOW_CLUSTER_DELETE": "allow_cluster_delete",
    "RESULTS_TABLE": "results_bigquery_table",
    "NOTIFY_SECRET": "notify_webhook_secret",
    "REMOVE_OTHER_INVOKERS": "remove_other_invokers",
}


def test_every_default_is_deploy_sh_s() -> None:
    text = DEPLOY.read_text()
    variables = Module.load(MODULE).variables
    for name, variable in DEFAULTS.items():
        match = re.search(rf"^{name}=\$\{{CANCELLER_\w+:-([^}}]*)\}}", text, re.MULTILINE)
        assert match, f"deploy.sh sets no {name} from the environment"
        default = literal(variables[variable]["default"])
        shown = (
            {None: "", True: "true", False: "false"}.get(default, default)
            if not isinstance(default, list)
            else ",".join(default)
        )
        assert str(shown) == match.group(1), (name, variable)


# --- modules/config, run, against deploy.sh -------------------------------------------------


def _dry_run(flags: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANCELLER_", "CLOUDSDK_"))}
    return subprocess.run(
        [str(DEPLOY), "--dry-run", *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _commands(stdout: str) -> list[list[str]]:
    """The gcloud (and bq) commands a dry run prints, without the program's name, bq's kept."""
    commands = []
    for line in stdout.splitlines():
        if line.startswith("  + "):
            argv = shlex.split(line[4:])
            commands.append(argv[1:] if argv[0] == "gcloud" else argv)
    return commands


def _metric_configs(stdout: str) -> dict[str, str]:
    """Each log metric's configuration a dry run prints under its create command."""
    configs: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("  + gcloud logging metrics create "):
            current = line.split()[5]
            configs[current] = []
        elif current and line.startswith("      | "):
            configs[current].append(line[8:])
        else:
            current = None
    return {name: "\n".join(lines) + "\n" for name, lines in configs.items()}


def _flag(argv: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in argv if arg.startswith(f"--{name}=")]
    return value


def _find(commands: list[list[str]], *words: str) -> list[list[str]]:
    return [argv for argv in commands if argv[: len(words)] == list(words)]


CHANNEL = f"projects/{PROJECT}/notificationChannels/123"
SCENARIOS = {
    "defaults": (
        [
            "--project",
            PROJECT,
            "--sweep-schedule",
            "*/15 * * * *",
            "--notification-channel",
            CHANNEL,
        ],
        {"sweep_schedule": "*/15 * * * *", "notification_channels": [CHANNEL]},
    ),
    "everything": (
        shlex.split(
            f"--project {PROJECT} --region europe-west1 --function fin-killswitch"
            " --trigger-topic kill-requests --results-topic kill-results"
            " --dead-letter-topic kill-dead"
            f" --target-projects {PROJECT},data-team-prod --verify-timeout 90 --timeout 300"
            " --max-instances 4 --max-delivery-attempts 7 --setting RETRY_DEADLINE_SECONDS=80"
            " --setting PUBLISH_TIMEOUT_SECONDS=20 --setting DRY_RUN=true"
            f" --setting SWEEP_SCOPES=projects/{PROJECT}/regions/europe-west1,folders/111"
            " --sweep-schedule '0 */2 * * *' --billing-account 012345-6789AB-CDEF01"
            " --scope-folder 111 --scope-organization 222 --dataproc-requests-per-minute 500"
            " --dataproc-job-cancels-per-minute 150 --dataproc-cluster-operations-per-minute 50"
            " --budget-ladder '0.5:report, 0.9:work,1.2:clusters' --cluster-incident-action delete"
            f" --allow-cluster-delete --notification-channel {CHANNEL}"
            " --publisher user:ops@example.com --publisher group:sre@example.com"
            " --allowed-budget budget-1 --allowed-alert-policy ' Dataproc too long '"
            " --results-bigquery-table finops-prod.dataproc.cancel_results"
            " --notify-webhook-secret projects/secrets-proj/secrets/chat-hook"
        ),
        {
            "region": "europe-west1",
            "function_name": "fin-killswitch",
            "trigger_topic": "kill-requests",
            "results_topic": "kill-results",
            "dead_letter_topic": "kill-dead",
            "target_projects": [PROJECT, "data-team-prod"],
            "verify_timeout": 90,
            "timeout": 300,
            "max_instances": 4,
            "max_delivery_attempts": 7,
            "settings": {
                "RETRY_DEADLINE_SECONDS": "80",
                "PUBLISH_TIMEOUT_SECONDS": "20",
                "DRY_RUN": "true",
                "SWEEP_SCOPES": f"projects/{PROJECT}/regions/europe-west1,folders/111",
            },
            "sweep_schedule": "0 */2 * * *",
            "billing_account": "012345-6789AB-CDEF01",
            "scope_folders": ["111"],
            "scope_organizations": ["222"],
            "dataproc_requests_per_minute": 500,
            "dataproc_job_cancels_per_minute": 150,
            "dataproc_cluster_operations_per_minute": 50,
            "budget_ladder": "0.5:report, 0.9:work,1.2:clusters",
            "cluster_incident_action": "delete",
            "allow_cluster_delete": True,
            "notification_channels": [CHANNEL],
            "publishers": ["user:ops@example.com", "group:sre@example.com"],
            "allowed_budgets": ["budget-1"],
            "allowed_alert_policies": [" Dataproc too long "],
            "results_bigquery_table": "finops-prod.dataproc.cancel_results",
            "notify_webhook_secret": "projects/secrets-proj/secrets/chat-hook",
        },
    ),
}


def _log_metric_message(config: dict[str, Any]) -> dict[str, Any]:
    """A modules/config log metric as the LogMetric message monitoring.tf makes of it."""
    buckets = config["buckets"]
    message: dict[str, Any] = {
        "description": config["description"],
        "filter": config["filter"],
        "metricDescriptor": {
            "metricKind": config["metric_kind"],
            "valueType": config["value_type"],
            "unit": config["unit"],
            **({"labels": config["labels"]} if config["labels"] else {}),
        },
    }
    if config["label_extractors"]:
        message["labelExtractors"] = config["label_extractors"]
    if config["value_extractor"]:
        message["valueExtractor"] = config["value_extractor"]
    if buckets:
        message["bucketOptions"] = {
            "exponentialBuckets": {
                "numFiniteBuckets": buckets["num_finite_buckets"],
                "growthFactor": buckets["growth_factor"],
                "scale": buckets["scale"],
            }
        }
    return message


@pytest.mark.parametrize(
    "scenario",
    [
        # About 2 s each (deploy.sh's dry run; the Cloud SDK's decoder): the plain suite
        # keeps the one that takes every path, the long runs (dev/test.sh -m long) both.
        pytest.param("defaults", marks=pytest.mark.long),
        "everything",
    ],
)
def test_the_module_works_out_what_deploy_sh_does(scenario: str, config_root: ConfigRoot) -> None:
    flags, given = SCENARIOS[scenario]
    dry = _dry_run(flags)
    assert dry.returncode == 0, dry.stderr
    commands = _commands(dry.stdout)
    config = config_root.outputs(
        config_inputs(project=PROJECT, project_number=PROJECT_NUMBER, **given)
    )
    names, members = config["names"], config["members"]

    (deploy,) = _find(commands, "functions", "deploy")
    settings = _flag(deploy, "set-env-vars").removeprefix("^;^").split(";")
    assert config["function_env"] == dict(setting.split("=", 1) for setting in settings)
    assert f"{config['function_timeout']}s" == _flag(deploy, "timeout")
    assert _entry_point_names(_flag(deploy, "entry-point")) == config["entry_point"]
    (subscription,) = _find(commands, "pubsub", "subscriptions", "update")
    assert str(config["ack_deadline"]) == _flag(subscription, "ack-deadline")
    assert _flag(subscription, "dead-letter-topic").endswith(
        f"/topics/{names['dead_letter_topic']}"
    )

    roles = {}
    for argv in _find(commands, "iam", "roles", "create"):
        where = (
            "project"
            if argv[3] == names["role_id"] and any(a.startswith("--project=") for a in argv)
            else None
        )
        where = where or ("scope" if argv[3] == names["role_id"] else "billing")
        roles.setdefault(where, set()).add(
            (_flag(argv, "title"), _flag(argv, "description"), _flag(argv, "permissions"))
        )
    assert roles == {
        role: {(spec["title"], spec["description"], ",".join(spec["permissions"]))}
        for role, spec in config["roles"].items()
        if role == "project"
        or (role == "scope" and config["scope_folders"] + config["scope_organizations"])
        or (role == "billing" and config["billing_account"])
    }
    created_in = [
        _flag(argv, "project")
        for argv in _find(commands, "iam", "roles", "create")
        if any(a.startswith("--project=") for a in argv)
    ]
    assert created_in == config["targets"]

    publishers = {
        _flag(argv, "member")
        for argv in _find(commands, "pubsub", "topics", "add-iam-policy-binding")
        if argv[3] == given.get("trigger_topic", "dataproc-cancel-requests")
    }
    assert publishers == set(config["trigger_publishers"])
    (enable,) = _find(commands, "services", "enable")
    assert set(config["apis"]) == set(enable[2:-1]) - {"eventarc.googleapis.com"} | {
        "storage.googleapis.com"
    }
    granted = {_flag(argv, "member") for argv in commands if "add-iam-policy-binding" in argv}
    assert {members["function"], members["pubsub_agent"]} <= granted
    (invoker,) = _find(commands, "functions", "add-invoker-policy-binding")
    assert _flag(invoker, "member") == members["invoker"]

    assert [argv[3] for argv in _find(commands, "iam", "service-accounts", "create")] == [
        names["function_account"],
        names["invoker_account"],
    ]
    assert {argv[3] for argv in _find(commands, "pubsub", "topics", "create")} == {
        given.get("trigger_topic", "dataproc-cancel-requests"),
        given.get("results_topic", "dataproc-cancel-results"),
        names["dead_letter_topic"],
    }
    assert [argv[3] for argv in _find(commands, "pubsub", "schemas", "create")] == [names["schema"]]
    subscriptions = [argv[3] for argv in _find(commands, "pubsub", "subscriptions", "create")]
    assert subscriptions[0] == names["dead_letter_subscription"]
    assert [argv[4] for argv in _find(commands, "scheduler", "jobs", "create", "pubsub")] == [
        names["sweep_job"]
    ]

    metrics = _metric_configs(dry.stdout)
    assert set(metrics) == set(config["log_metrics"])
    decoded = decode_all([("LogMetric", text) for text in metrics.values()])
    for (name, _), result in zip(metrics.items(), decoded, strict=True):
        expected = result["message"]
        expected["description"] = re.sub(
            r" \(deploy\.sh config \w+\)$", "", expected["description"]
        )
        assert _log_metric_message(config["log_metrics"][name]) == expected, name

    policies = [
        Path(_flag(argv, "policy-from-file")).stem
        for argv in _find(commands, "alpha", "monitoring", "policies", "create")
    ]
    assert sorted(policies) == sorted(f"alert-{name}" for name in config["alert_policies"])

    if "results_bigquery_table" in given:
        (dataset,) = [argv for argv in _find(commands, "bq", "mk") if "--dataset" in argv]
        bigquery = config["bigquery"]
        assert dataset[-1] == f"{bigquery['project']}:{bigquery['dataset']}"
        assert _flag(dataset, "location") == given.get("region", "us-central1")
        assert subscriptions[1] == names["bigquery_subscription"]
    if "notify_webhook_secret" in given:
        secret = config["secret"]
        assert _flag(deploy, "set-secrets") == (
            f"{config['notify_variable']}=projects/{secret['project']}/secrets/{secret['id']}:latest"
        )
        (access,) = _find(commands, "secrets", "add-iam-policy-binding")
        assert (access[2], _flag(access, "project"), _flag(access, "role")) == (
            secret["id"],
            secret["project"],
            config["secret_accessor_role"],
        )


def _entry_point_names(name: str) -> str:
    """The function main.py binds ``name`` to: itself, or what an alias (NAME = OTHER) names."""
    for node in ast.parse((REPO / "main.py").read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            name
        ]:
            return getattr(node.value, "id", name)
    return name


def test_the_monitoring_files_are_filled_in_as_deploy_sh_fills_them(
    config_root: ConfigRoot,
) -> None:
    config = config_root.outputs(
        config_inputs(
            project=SAMPLE_VALUES["PROJECT"],
            project_number=PROJECT_NUMBER,
            function_name=SAMPLE_VALUES["FUNCTION"],
            sweep_schedule=SAMPLE_VALUES["SWEEP_SCHEDULE"],
            notification_channels=SAMPLE_CHANNELS,
        )
    )

    def filled(name: str) -> str:
        # deploy.sh's render_template: $(<file) (no trailing newlines), every placeholder,
        # then the digest of that in place of @@DEPLOY_DIGEST@@.
        values = SAMPLE_VALUES | {"DEPLOY_DIGEST": "@@DEPLOY_DIGEST@@"}
        text = render((MONITORING / name).read_text().rstrip("\n"), values, SAMPLE_CHANNELS)
        return text.replace("@@DEPLOY_DIGEST@@", hashlib.sha256(text.encode()).hexdigest()[:12])

    assert config["dashboard_json"] == filled("dashboard.json")
    assert set(config["alert_policies"]) == set(_alert_names())
    for name, policy in config["alert_policies"].items():
        assert policy == json.loads(filled(f"alert-{name}.json")), name


# --- the roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "project_option", "settings"),
    [
        ({}, None, frozenset()),
        ({"allow_cluster_delete": True}, None, frozenset({"CLUSTER_DELETE_ALLOWED"})),
        ({"scope_folders": ["111"]}, "--project-scope", frozenset()),
        (
            {"billing_account": "012345-6789AB-CDEF01", "allow_cluster_delete": True},
            "--project-scope",
            frozenset({"CLUSTER_DELETE_ALLOWED"}),
        ),
        ({"settings": {"SWEEP_SCOPES": "projects/p-123456"}}, "--project-scope", frozenset()),
    ],
)
def test_the_roles_hold_exactly_canceller_roles_permissions(
    given: dict[str, Any],
    project_option: str | None,
    settings: frozenset[str],
    config_root: ConfigRoot,
) -> None:
    config = config_root.outputs(config_inputs(project=PROJECT, project_number="1", **given))
    roles = {role: spec["permissions"] for role, spec in config["roles"].items()}
    assert roles == {
        "project": list(permissions(project_option, settings)),
        "scope": list(permissions("--scope", settings)),
        "billing": list(permissions("--billing-account", frozenset())),
    }


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "given", "expected"),
    [
        (
            ["--timeout", "100"],
            {"timeout": 100},
            "timeout 100 is shorter than one message may take, 204 s",
        ),
        (
            ["--verify-timeout", "240", "--setting", "RETRY_DEADLINE_SECONDS=300"],
            {"verify_timeout": 240, "settings": {"RETRY_DEADLINE_SECONDS": "300"}},
            "more than the 540 s an event-driven function may run",
        ),
        (
            ["--setting", "CLUSTER_DELETE_ALLOWED=true"],
            {"settings": {"CLUSTER_DELETE_ALLOWED": "true"}},
            "CLUSTER_DELETE_ALLOWED is set from the variable allow_cluster_delete",
        ),
        (["--setting", "NO_SUCH=1"], {"settings": {"NO_SUCH": "1"}}, "NO_SUCH is not one of"),
        (
            ["--cluster-incident-action", "delete"],
            {"cluster_incident_action": "delete"},
            "needs allow_cluster_delete = true",
        ),
        (
            ["--publisher", "allUsers"],
            {"publishers": ["allUsers"]},
            "would let anyone stop everything",
        ),
        (
            ["--trigger-topic", "same-topic", "--results-topic", "same-topic"],
            {"trigger_topic": "same-topic", "results_topic": "same-topic"},
            "the trigger and results topics must differ",
        ),
        (
            ["--budget-ladder", "0.5:sweep"],
            {"budget_ladder": "0.5:sweep"},
            "budget_ladder '0.5:sweep' is not valid",
        ),
        (["--function", "x"], {"function_name": "x"}, "function_name 'x' is not valid"),
    ],
)
def test_the_module_refuses_what_deploy_sh_refuses(
    flags: list[str], given: dict[str, Any], expected: str, config_root: ConfigRoot
) -> None:
    refused = _dry_run(["--project", PROJECT, *flags])
    assert refused.returncode != 0, refused.stdout
    completed = config_root.run(config_inputs(project=PROJECT, project_number="1", **given))
    assert completed.returncode != 0
    assert expected in " ".join(completed.stderr.split()), completed.stderr


def test_a_webhook_url_given_as_the_secret_is_refused_and_never_shown(
    config_root: ConfigRoot,
) -> None:
    url = "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=KEY-VALUE&token=TOKEN-VALUE"
    completed = config_root.run(
        config_inputs(project=PROJECT, project_number="1", notify_webhook_secret=url)
    )
    assert completed.returncode != 0
    assert "not the webhook URL" in " ".join(completed.stderr.split())
    for part in ("KEY-VALUE", "TOKEN-VALUE", "spaces/AAAA"):
        assert part not in completed.stdout + completed.stderr


def test_a_sweep_of_a_folder_out_of_scope_is_warned_of_as_deploy_sh_warns(
    config_root: ConfigRoot,
) -> None:
    sweep = f"projects/{PROJECT}/regions/us-central1,folders/999"
    dry = _dry_run(["--project", PROJECT, "--setting", f"SWEEP_SCOPES={sweep}"])
    assert dry.returncode == 0, dry.stderr
    assert "SWEEP_SCOPES names folders/999, but no --scope-folder gives it" in " ".join(
        dry.stdout.split()
    )
    inputs = config_inputs(project=PROJECT, project_number="1", settings={"SWEEP_SCOPES": sweep})
    completed = config_root.run(inputs)
    assert completed.returncode == 0, completed.stderr
    warned = " ".join((completed.stdout + completed.stderr).split())
    assert (
        "SWEEP_SCOPES names folders/999, but no scope_folders or scope_organizations gives it"
        in warned
    )
    covered = config_root.run(inputs | {"scope_folders": ["999"]})
    assert "SWEEP_SCOPES names" not in covered.stdout + covered.stderr


def test_the_readme_describes_every_input_and_output() -> None:
    text = (MODULE / "README.md").read_text()
    module = Module.load(MODULE)
    for section, names in (("Inputs", module.variables), ("Outputs", module.outputs)):
        table = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
        listed = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
        assert sorted(listed) == sorted(names), section
