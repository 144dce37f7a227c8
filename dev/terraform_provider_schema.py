#!/usr/bin/env python3
"""tests/deploy/terraform-provider-schema.json: the Terraform provider schemas of the resource
and data source types deploy/terraform uses, for a test that holds the module to them
without the providers (whose registry the test machines cannot reach).

The schemas come from the npm packages CDK for Terraform generated from the providers' own
schemas (`terraform providers schema -json`): @cdktf/provider-google and
@cdktf/provider-archive, each naming the provider version it was generated from. Their
JavaScript keeps, per resource and per nested block, every attribute's real name (what a
getter reads: `this.getStringAttribute('output_base64sha256')`), whether it can be set (a
setter; a `put` method for a block) and whether it is optional (a `reset` method: a
settable attribute or block without one is required).

    cd /tmp && npm pack @cdktf/provider-google@16.12.1 @cdktf/provider-archive@11.0.1
    .venv/bin/python dev/terraform_provider_schema.py /tmp/cdktf-provider-google-16.12.1.tgz \\
        /tmp/cdktf-provider-archive-11.0.1.tgz

Each node of the output is {"attributes": {name: {"required": bool}}, "blocks": {name:
{"required": bool, ...node}}, "computed": {name: node or null}}: what may be set, which
nested blocks may be written, and what may only be read.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "deploy" / "terraform"
OUTPUT = REPO / "tests" / "deploy" / "terraform-provider-schema.json"

CLASS = re.compile(r"^class (\w+) extends ([\w.]+) \{$(.*?)^\}$", re.MULTILINE | re.DOTALL)
MEMBER = re.compile(r'this\._(\w+) = new ([\w.]+)\(this, "(\w+)"')
SIMPLE_GETTER = re.compile(
    r"^    get (\w+)\(\) \{\s*return [^;]*?"
    r"(?:get\w+Attribute|interpolationForAttribute)\('(\w+)'\)",
    re.MULTILINE,
)
MEMBER_GETTER = re.compile(r"^    get (\w+)\(\) \{\s*return this\._(\w+);", re.MULTILINE)
TYPE = re.compile(r"terraformResourceType: '(\w+)'")


def classes(javascript: str) -> dict[str, tuple[str, str]]:
    """Each class of a generated file: its base class and body."""
    return {match[1]: (match[2], match[3]) for match in CLASS.finditer(javascript)}


def node(name: str, found: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The schema one generated class describes (a resource, or one nested block)."""
    body = found[name][1]
    members = {field: (kind, attribute) for field, kind, attribute in MEMBER.findall(body)}
    setters = set(re.findall(r"^    set (\w+)\(value\)", body, re.MULTILINE))
    puts = set(re.findall(r"^    put(\w+)\(value\)", body, re.MULTILINE))
    resets = set(re.findall(r"^    reset(\w+)\(\)", body, re.MULTILINE))
    schema: dict[str, Any] = {"attributes": {}, "blocks": {}, "computed": {}}

    def capital(getter: str) -> str:
        return getter[0].upper() + getter[1:]

    for getter, attribute in SIMPLE_GETTER.findall(body):
        if getter in setters:
            schema["attributes"][attribute] = {"required": capital(getter) not in resets}
        else:
            schema["computed"][attribute] = None
    for getter, field in MEMBER_GETTER.findall(body):
        if field not in members:
            continue
        kind, attribute = members[field]
        element = re.sub(r"List$", "OutputReference", kind)
        nested = node(element, found) if element in found else None
        if capital(getter) in puts:
            schema["blocks"][attribute] = {
                "required": capital(getter) not in resets,
                **(nested or {}),
            }
        else:
            schema["computed"][attribute] = nested
    return schema


def package_schemas(tgz: Path, wanted: set[tuple[str, str]]) -> tuple[dict[str, Any], Any]:
    """The package's version facts, and the schema of each wanted (kind, type), kind being
    "resource" or "data"."""
    schemas: dict[str, Any] = {}
    with tarfile.open(tgz) as archive:
        manifest = json.load(io.TextIOWrapper(archive.extractfile("package/package.json")))  # type: ignore[arg-type]
        for kind, terraform_type in sorted(wanted):
            provider, _, rest = terraform_type.partition("_")
            directory = rest if kind == "resource" else f"data-{provider}-{rest}"
            if provider == manifest["cdktf"]["provider"]["name"].rsplit("/", 1)[1]:
                path = f"package/lib/{directory.replace('_', '-')}/index.js"
                javascript = archive.extractfile(path).read().decode()  # type: ignore[union-attr]
                found = classes(javascript)
                top = [
                    name
                    for name, (base, _) in found.items()
                    if base in {"cdktf.TerraformResource", "cdktf.TerraformDataSource"}
                ]
                if len(top) != 1 or TYPE.search(found[top[0]][1])[1] != terraform_type:  # type: ignore[index]
                    raise SystemExit(f"{path} does not describe {terraform_type}")
                schemas[f"{kind} {terraform_type}"] = node(top[0], found)
    facts = {
        "package": f"{manifest['name']}@{manifest['version']}",
        "provider": manifest["cdktf"]["provider"]["name"],
        "provider_version": manifest["cdktf"]["provider"]["version"],
    }
    return facts, schemas


def used_types(module: Path) -> set[tuple[str, str]]:
    """Every (kind, type) the module's .tf files declare, examples included."""
    used: set[tuple[str, str]] = set()
    for path in module.rglob("*.tf"):
        document = hcl2.loads(path.read_text())
        for kind in ("resource", "data"):
            for block in document.get(kind, []):
                used.update((kind, terraform_type.strip('"')) for terraform_type in block)
    return used


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="+", type=Path, help="npm pack tarballs")
    options = parser.parse_args(arguments)
    wanted = used_types(MODULE)
    document: dict[str, Any] = {
        "comment": "Written by dev/terraform_provider_schema.py (see its docstring): the "
        "provider schemas of the types deploy/terraform uses.",
        "providers": [],
        "schemas": {},
    }
    for package in options.packages:
        facts, schemas = package_schemas(package, wanted)
        document["providers"].append(facts)
        document["schemas"].update(schemas)
    if missing := sorted(
        f"{kind} {name}" for kind, name in wanted if f"{kind} {name}" not in document["schemas"]
    ):
        print(f"no schema in these packages for: {', '.join(missing)}", file=sys.stderr)
        return 1
    document["schemas"] = dict(sorted(document["schemas"].items()))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUTPUT.relative_to(REPO)}: {len(document['schemas'])} types")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
