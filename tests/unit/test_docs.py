"""The documentation holds together: README.md is a front door whose links, anchors and map
of the tree point at what exists, and docs/ carries the rest without copies that can drift.

What is documented once: the deploy flags are deploy.sh's own --help, embedded in
docs/deployment.md between markers and held equal to the live output here; the settings
table of docs/settings.md is held to the names and defaults canceller/settings.py reads.
"""

from __future__ import annotations

import os
import re
import subprocess
from glob import glob
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
HELP_BEGIN = "<!-- deploy.sh --help: begin -->"
HELP_END = "<!-- deploy.sh --help: end -->"
TREE_HEADING = "## Map of the tree"
# A front door, not a manual: what does not fit belongs in docs/.
README_MAX_BYTES = 20_000


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code, where links are links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and
    underscores kept), spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    outside = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    for heading in re.findall(r"^#{1,6} (.+)$", outside, re.M):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _prose(page.read_text(encoding="utf-8")))


def test_the_pages_exist() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "deployment.md", "settings.md", "message-contract.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    links = _links(page)
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue  # https://, mailto:: not this repository's
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no {target.relative_to(ROOT)}")
        elif anchor and (target.suffix != ".md" or anchor not in _anchors(target)):
            broken.append(f"{link}: no heading #{anchor} in {target.name}")
    assert broken == [], broken


def test_readme_and_docs_link_each_other() -> None:
    """Every docs page is reached from the README, so none is an orphan."""
    linked = {(README.parent / link.partition("#")[0]).resolve() for link in _links(README) if link}
    assert [page.name for page in PAGES[1:] if page not in linked] == []


def test_the_anchor_rule_is_githubs() -> None:
    assert _slug("Budget alerts (Cloud Billing)") == "budget-alerts-cloud-billing"
    assert _slug("IAM it grants, and why") == "iam-it-grants-and-why"
    assert _slug("`--help` and [flags](x.md)") == "--help-and-flags"


def test_the_tree_map_names_only_paths_that_exist() -> None:
    """Each entry's path (first column), and each file or path its description names,
    exists: a name is looked up under the entry's own directory, then from the root."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(TREE_HEADING) :]
    block = re.search(r"^```\n(.*?)^```", section, re.M | re.S)
    assert block is not None, "the map is a code block under its heading"
    entries: list[tuple[list[str], str]] = []
    for line in block.group(1).splitlines():
        if line.startswith(" "):
            entries[-1] = (entries[-1][0], f"{entries[-1][1]} {line.strip()}")
            continue
        first, _, description = re.split(r"(\s{2,})", line, maxsplit=1)
        entries.append(([name.strip() for name in first.split(",")], description))
    missing, checked = [], 0
    for names, description in entries:
        homes = [name for name in names if name.endswith("/")]
        for name in names:
            checked += 1
            if not glob(name.rstrip("/"), root_dir=ROOT):
                missing.append(name)
        for name in re.findall(_FILE_NAME, description):
            checked += 1
            if not any(glob(f"{home}{name}", root_dir=ROOT) for home in [*homes, ""]):
                missing.append(f"{name} ({names[0]})")
    assert checked > 40
    assert missing == [], missing


# A file (a name with an extension) or a path (with a slash) in a description of the map.
_FILE_NAME = (
    r"(?<![\w./-])(?:[a-z_.][\w*.-]*/[\w*./-]*\w"
    r"|[\w*-]+(?:\.[\w*-]+)*\.(?:py|json|sh|md|proto|txt|in)\b)"
)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_path_the_prose_names_exists(page: Path) -> None:
    """A path into the repository named in a page's text (``tests/deploy/test_deploy.py``,
    ``canceller/kinds/``), outside its example commands, is a path that exists."""
    tops = "|".join(
        path.name for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith(".")
    )
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    named = set(re.findall(rf"(?<![\w./-])((?:{tops})/[\w./*-]*[\w*])", text))
    assert [name for name in sorted(named) if not glob(name, root_dir=ROOT)] == []


def test_the_flags_are_deploy_sh_help_itself() -> None:
    """docs/deployment.md embeds `bash deploy.sh --help` whole, so the flags are documented
    once: change the help, then paste its output between the markers."""
    text = (DOCS / "deployment.md").read_text(encoding="utf-8")
    embedded = text[text.index(HELP_BEGIN) + len(HELP_BEGIN) : text.index(HELP_END)]
    block = re.fullmatch(r"\s*```text\n(.*)```\s*", embedded, re.S)
    assert block is not None, "the help is one ```text block between the markers"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    run = subprocess.run(
        ["bash", "deploy.sh", "--help"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert block.group(1) == run.stdout


def test_no_page_copies_a_flag_table() -> None:
    for page in PAGES:
        rows = re.findall(r"^\| `--[a-z]", page.read_text(encoding="utf-8"), re.M)
        assert rows == [], f"{page.name}: flags belong to deploy.sh --help"


def test_the_settings_table_is_settings_py() -> None:
    """The table's names are what canceller/settings.py reads (and PUBSUB_EMULATOR_HOST, which
    the Pub/Sub client reads), and every numeric or boolean default is the code's."""
    from canceller.org_apis import ORG_APIS
    from canceller.webhook import WEBHOOK_VARIABLE

    source = (ROOT / "canceller" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'\benv(?:\.get\(|\[|,)\s*"([A-Z][A-Z0-9_]+)"', source))
    read |= {api.emulator_variable for api in ORG_APIS} | {WEBHOOK_VARIABLE}
    rows = re.findall(r"^\| (`[A-Z].*?) \| (.*?) \| .* \|$", _table(), re.M)
    documented = {name: default for names, default in rows for name in _names(names)}
    assert set(documented) == read | {"PUBSUB_EMULATOR_HOST"}
    numbers = re.findall(r'_number\(\s*env,\s*"([A-Z_]+)",\s*([\d_.]+),', source)
    booleans = re.findall(r'_boolean\(env, "([A-Z_]+)", (True|False)\)', source)
    assert len(numbers) > 12 and len(booleans) == 2
    for name, default in numbers:
        shown = re.match(r"`([\d,.]+)`", documented[name])
        assert shown is not None, name
        assert float(shown.group(1).replace(",", "")) == float(default), name
    for name, default in booleans:
        assert documented[name] == f"`{default.lower()}`", name


def _table() -> str:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    return text[text.index("| Setting |") :]


def _names(cell: str) -> list[str]:
    return re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)


def test_readme_names_the_test_command_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = set(re.findall(r"^bash (\S+)", ci, re.M))
    assert commands == {"dev/test.sh"}
    blocks = "\n".join(re.findall(r"^```sh\n(.*?)^```", README.read_text(), re.M | re.S))
    for command in commands:
        assert re.search(rf"^{re.escape(command)}\b", blocks, re.M), command


def test_readme_stays_a_front_door() -> None:
    assert len(README.read_bytes()) <= README_MAX_BYTES


def test_the_sources_cited_are_reachable() -> None:
    """Docstrings, comments and data cite public pages or files in the repository, never
    notes kept outside it."""
    outside = ("shared/" + "reference", "google-apis" + ".md", "/wo" + "rk/")
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    cited = []
    for name in files:
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted in the work tree
        cited += [f"{name}: {word}" for word in outside if word in text]
    assert cited == [], cited
