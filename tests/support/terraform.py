"""deploy/terraform, read and run without the providers (whose registry these machines cannot
reach): its .tf files parsed with python-hcl2, every block held against the providers'
schemas, every reference against what is declared, and its provider-free modules/config run
by the real terraform binary, offline."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "deploy" / "terraform"
CONFIG = MODULE / "modules" / "config"
EXAMPLE = MODULE / "examples" / "basic"
SCHEMA_FILE = REPO / "tests" / "deploy" / "terraform-provider-schema.json"

# What Terraform itself takes in a resource or data block, whatever its type.
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"})
HCL_KEYS = frozenset({"__is_block__", "__comments__", "__inline_comments__"})


def terraform_binary() -> str:
    binary = shutil.which("terraform")
    assert binary, (
        "terraform is needed to check deploy/terraform "
        "(https://developer.hashicorp.com/terraform/install; the tests use no provider)"
    )
    return binary


def terraform(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """terraform, with no CLI configuration, no version check and no colour: offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "CHECKPOINT_"))}
    env |= {"TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    return subprocess.run(
        [terraform_binary(), *arguments, "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def unquote(text: str) -> str:
    """A quoted HCL string literal or block label as its value."""
    return json.loads(text) if text.startswith('"') else text


def literal(value: Any) -> Any:
    """A literal as python-hcl2 gives it (a default, an argument), as its value."""
    if isinstance(value, str):
        if value == "${null}":
            return None
        return unquote(value)
    if isinstance(value, list):
        return [literal(item) for item in value]
    if isinstance(value, dict):
        return {unquote(key): literal(item) for key, item in value.items() if key not in HCL_KEYS}
    return value


def is_blocks(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get("__is_block__") for item in value)
    )


@dataclass
class Module:
    """The .tf files of one directory (a Terraform module), parsed."""

    path: Path
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    @functools.cache
    def load(cls, path: Path) -> Module:
        """Parsed once per directory: python-hcl2 takes seconds over the whole module."""
        module = cls(path)
        for tf in sorted(path.glob("*.tf")):
            module.documents[tf.name] = hcl2.loads(tf.read_text())
        return module

    def labelled(self, kind: str) -> Iterator[tuple[list[str], dict[str, Any]]]:
        """Each block of a kind (resource, data, variable, output, module) with its labels."""
        for document in self.documents.values():
            for entry in document.get(kind, []):
                yield from _unlabel(entry, [])

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return {labels[0]: body for labels, body in self.labelled("variable")}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return {labels[0]: body for labels, body in self.labelled("output")}

    @property
    def module_calls(self) -> dict[str, dict[str, Any]]:
        return {labels[0]: body for labels, body in self.labelled("module")}

    @property
    def resources(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(labels[0], labels[1]): body for labels, body in self.labelled("resource")}

    @property
    def data(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(labels[0], labels[1]): body for labels, body in self.labelled("data")}

    @property
    def locals(self) -> set[str]:
        return {
            name
            for document in self.documents.values()
            for block in document.get("locals", [])
            for name in block
            if name not in HCL_KEYS
        }

    def expressions(self) -> Iterator[tuple[str, str]]:
        """(file, text) of every expression written in the module."""
        for name, document in self.documents.items():
            for text in _strings(document):
                yield name, text


def _unlabel(
    entry: dict[str, Any], labels: list[str]
) -> Iterator[tuple[list[str], dict[str, Any]]]:
    for label, inner in entry.items():
        if label in HCL_KEYS:
            continue
        if inner.get("__is_block__"):
            yield [*labels, unquote(label)], inner
        else:
            yield from _unlabel(inner, [*labels, unquote(label)])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in HCL_KEYS:
                yield from _strings(item)


def interpolations(text: str) -> Iterator[str]:
    """The ${...} expressions in a string python-hcl2 gives (outermost ones)."""
    start = text.find("${")
    while start != -1:
        depth, index = 0, start + 1
        while index < len(text):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                break
            index += 1
        yield text[start + 2 : index]
        start = text.find("${", index)


# --- the providers' schemas ---------------------------------------------------------------


def provider_schemas() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def block_problems(where: str, body: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What in one block's body its schema does not allow, or requires and misses."""
    problems: list[str] = []
    present: set[str] = set()
    for key, value in body.items():
        if key in HCL_KEYS:
            continue
        if key == "dynamic":
            for entry in value:
                for label, dynamic in entry.items():
                    if label in HCL_KEYS:
                        continue
                    name = unquote(label)
                    present.add(name)
                    if name not in schema["blocks"]:
                        problems.append(f"{where}: no block {name} (dynamic)")
                        continue
                    for content in dynamic.get("content", []):
                        problems += block_problems(
                            f"{where}.{name}", content, schema["blocks"][name]
                        )
            continue
        present.add(key)
        if is_blocks(value):
            if key not in schema["blocks"]:
                problems.append(f"{where}: no block {key}")
                continue
            for block in value:
                problems += block_problems(f"{where}.{key}", block, schema["blocks"][key])
        elif key not in schema["attributes"]:
            read_only = " (read-only)" if key in schema["computed"] else ""
            problems.append(f"{where}: no argument {key}{read_only}")
    for name, attribute in schema["attributes"].items():
        if attribute["required"] and name not in present:
            problems.append(f"{where}: required argument {name} missing")
    for name, block in schema["blocks"].items():
        if block["required"] and name not in present:
            problems.append(f"{where}: required block {name} missing")
    return problems


def schema_problems(module: Module, schemas: dict[str, Any]) -> list[str]:
    """Every resource and data block of the module held against its type's schema."""
    problems: list[str] = []
    for kind, blocks in (("resource", module.resources), ("data", module.data)):
        for (terraform_type, name), body in blocks.items():
            where = f"{module.path.name}: {kind} {terraform_type}.{name}"
            schema = schemas.get(f"{kind} {terraform_type}")
            if schema is None:
                problems.append(f"{where}: no such type in {SCHEMA_FILE.name}")
                continue
            own = {key: value for key, value in body.items() if key not in META_ARGUMENTS}
            problems += block_problems(where, own, schema)
    return problems


# --- references ---------------------------------------------------------------------------

NAMED = re.compile(r"(?<![\w.])(var|local|module)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?")
RESOURCE = re.compile(
    r"(?<![\w.])(data\.)?((?:google|archive)_[a-z0-9_]+)\.([a-z_][\w-]*)"
    r"((?:\[[^\]]*\]|\.[A-Za-z_]\w*)*)"
)


def reference_problems(module: Module, schemas: dict[str, Any]) -> list[str]:
    """Every var., local., module. and resource reference held against what the module
    declares, and a resource's attributes against its type's schema."""
    problems: list[str] = []
    variables, local_names, calls = module.variables, module.locals, module.module_calls
    for file, text in module.expressions():
        for expression in interpolations(text):
            for kind, name, attribute in NAMED.findall(expression):
                if kind == "var" and name not in variables:
                    problems.append(f"{file}: var.{name} is not declared")
                elif kind == "local" and name not in local_names:
                    problems.append(f"{file}: local.{name} is not defined")
                elif kind == "module":
                    problems += _module_problem(module, file, calls, name, attribute)
            for data, terraform_type, name, path in RESOURCE.findall(expression):
                kind = "data" if data else "resource"
                declared = module.data if data else module.resources
                if (terraform_type, name) not in declared:
                    problems.append(f"{file}: {data}{terraform_type}.{name} is not declared")
                    continue
                attributes = re.findall(r"\.([A-Za-z_]\w*)", re.sub(r"\[[^\]]*\]", "", path))
                problems += _attribute_problems(
                    f"{file}: {data}{terraform_type}.{name}",
                    schemas[f"{kind} {terraform_type}"],
                    attributes,
                )
    return problems


def _module_problem(
    module: Module, file: str, calls: dict[str, dict[str, Any]], name: str, output: str
) -> list[str]:
    if name not in calls:
        return [f"{file}: module.{name} is not called"]
    called = Module.load((module.path / literal(calls[name]["source"])).resolve())
    if output and output not in called.outputs:
        return [f"{file}: module.{name}.{output}: {called.path.name} has no such output"]
    return []


def _attribute_problems(where: str, schema: dict[str, Any] | None, path: list[str]) -> list[str]:
    for index, attribute in enumerate(path):
        if schema is None:
            return []
        if attribute == "id" and index == 0:
            return []
        if attribute in schema["attributes"]:
            return []
        nested = schema["blocks"].get(attribute) or schema["computed"].get(attribute, "absent")
        if nested == "absent":
            return [f"{where}.{'.'.join(path[: index + 1])}: no such attribute"]
        schema = nested
    return []


# --- modules/config, run ------------------------------------------------------------------


def config_inputs(**given: Any) -> dict[str, Any]:
    """Every input of modules/config: the parent module's defaults, and ``given``."""
    defaults = {
        name: literal(body["default"])
        for name, body in Module.load(MODULE).variables.items()
        if "default" in body
    }
    wanted = Module.load(CONFIG).variables
    inputs = {name: defaults[name] for name in wanted if name in defaults} | given
    assert set(inputs) == set(wanted), f"inputs {sorted(set(wanted) - set(inputs))} not given"
    return inputs


class ConfigRoot:
    """A root module, in ``work``, that calls modules/config with the inputs of each run and
    outputs all it works out (no provider: nothing is created). The inputs arrive as the
    parent module's variables do, marked sensitive where those are (a message must not show
    them). Initialised once; each run is one terraform apply."""

    def __init__(self, work: Path) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        parent = Module.load(MODULE).variables
        names = list(Module.load(CONFIG).variables)
        root = {
            "variable": {
                name: {"type": "any", "sensitive": bool(parent.get(name, {}).get("sensitive"))}
                for name in names
            },
            # A relative source: Terraform reads a local module in place, so its files find
            # canceller.json and deploy/monitoring beside them.
            "module": {
                "config": {
                    "source": os.path.relpath(CONFIG, work),
                    **{name: f"${{var.{name}}}" for name in names},
                }
            },
            "output": {"config": {"value": "${module.config}", "sensitive": True}},
        }
        (work / "main.tf.json").write_text(json.dumps(root))
        completed = terraform(["init", "-backend=false", "-input=false"], work)
        assert completed.returncode == 0, completed.stdout + completed.stderr

    def run(self, inputs: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """terraform apply with these inputs."""
        (self.work / "terraform.tfvars.json").write_text(json.dumps(inputs))
        return terraform(["apply", "-auto-approve", "-input=false"], self.work)

    def outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """What modules/config works out of these inputs, as the apply recorded it."""
        completed = self.run(inputs)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        state = json.loads((self.work / "terraform.tfstate").read_text())
        return state["outputs"]["config"]["value"]
