"""Strict parsing of Dataproc resource names, so nothing but a well-formed name reaches the network.

A kill switch must never cancel what it was not asked to. So a name is accepted only
if every segment matches the exact grammar Google documents, checked on the raw text:
no decoding, no normalising, no second chance for percent-encoding, look-alike
characters, extra segments or query strings.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Project IDs: 6-30 lowercase letters, digits or hyphens, starting with a letter and not
# ending with a hyphen; legacy domain-scoped projects carry a "domain.tld:" prefix.
# https://cloud.google.com/resource-manager/docs/creating-managing-projects
_DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PROJECT = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+:)?[a-z][a-z0-9-]{{4,28}}[a-z0-9]"
# Compute regions (us-central1, northamerica-northeast2, me-central2, ...) or "global".
_REGION = r"global|[a-z]{2,}(?:-[a-z]+)+[0-9]{1,2}"
# The ID grammar of each kind is part of its description (canceller.kinds): each kind
# registers its rule here when it is defined, so this module knows every kind without
# naming one (see ``register``).
SERVERLESS_ID = r"[a-z0-9][a-z0-9-]{2,61}[a-z0-9]"


@dataclass(frozen=True)
class NameRule:
    """How one kind's names are spelled: ``projects/P/{place}/R/{collection}/{id}``,
    and the verbs its URLs may end in (``:cancel``)."""

    place: str  # "regions" or "locations"
    collection: str
    id_pattern: str
    verbs: tuple[str, ...]

    @property
    def grammar(self) -> re.Pattern[str]:
        return _grammar(self)


KIND_PATHS: dict[str, NameRule] = {}  # kind -> its rule, in registration order


def register(kind: str, rule: NameRule) -> None:
    """Called once per kind by ``canceller.kinds``; a second rule for a kind, or a second
    kind in a collection, is a defect of the registry."""
    if kind in KIND_PATHS or any(r.collection == rule.collection for r in KIND_PATHS.values()):
        raise ValueError(f"kind {kind} ({rule.collection}) is registered twice")
    KIND_PATHS[kind] = rule


@functools.cache
def _grammar(rule: NameRule) -> re.Pattern[str]:
    return re.compile(
        rf"projects/(?P<project>{_PROJECT})/{rule.place}/(?P<region>{_REGION})/"
        rf"{rule.collection}/(?P<id>{rule.id_pattern})"
    )


SCOPE_NAME = re.compile(rf"projects/(?P<project>{_PROJECT})/regions/(?P<region>{_REGION})")
PROJECT_ID = re.compile(_PROJECT)
# Wider sweep scopes (canceller.fan_out): a project (every region where it has work), a
# folder or an organisation, by number.
# A project by number too: a budget names its projects so (canceller.organisation).
WIDE_SCOPE = re.compile(
    rf"projects/(?:{_PROJECT}|[0-9]{{1,20}})|(?:folders|organizations)/[0-9]{{1,20}}"
)

# The only URL forms accepted: Google's global or regional Dataproc host, API version v1,
# optionally ending in one of the kind's stop verbs (":cancel", ":terminate", ":stop").
# The name inside is then held to the same grammar.
_URL = re.compile(
    r"https://(?:(?P<host_region>[a-z]{2,}(?:-[a-z]+)+[0-9]{1,2})-)?dataproc\.googleapis\.com"
    r"/v1/(?P<name>[^?#%\s]+?)(?::(?P<verb>[a-z]+))?"
)

MAX_INPUT_CHARS = 512
# Server-made UUIDs as incidents and sweeps name them (cluster_uuid, job_uuid).
UUID = re.compile(r"[0-9a-fA-F-]{1,64}")


class InvalidName(ValueError):
    """The text is not a name we accept; the message says why, in words a user can act on."""


@dataclass(frozen=True, order=True)
class ResourceName:
    """A validated name of one piece of Dataproc work. ``location`` is the region for the
    regions-based kinds (operations, jobs) and the location for the others."""

    kind: str
    project: str
    location: str
    resource_id: str

    @property
    def name(self) -> str:
        rule = KIND_PATHS[self.kind]
        return (
            f"projects/{self.project}/{rule.place}/{self.location}/{rule.collection}/"
            f"{self.resource_id}"
        )

    @property
    def scope(self) -> ScopeName:
        return ScopeName(self.project, self.location)


@dataclass(frozen=True, order=True)
class ScopeName:
    """A place to list work in: projects/P/regions/R (also the location of batches and
    sessions, whose locations are regions)."""

    project: str
    region: str

    @property
    def name(self) -> str:
        return f"projects/{self.project}/regions/{self.region}"


def parse_name(kind: str, text: object) -> ResourceName:
    """Accept a bare name of ``kind`` or a Dataproc URL to one."""
    rule = KIND_PATHS[kind]
    article = "an" if kind[0] in "aeiou" else "a"
    expected = (
        f"{article} {kind} name projects/P/{rule.place}/{rule.place[0].upper()}/"
        f"{rule.collection}/ID"
    )
    match = _match_reference(text, rule.grammar, expected, verbs=rule.verbs)
    return ResourceName(kind, match["project"], match["region"], match["id"])


def kind_named_by(text: str) -> str:
    """Which kind a plain-text or URL body claims to name, by its collection segment, so
    the right grammar judges it (and a REJECTED result says what it claimed to be)."""
    for kind, rule in KIND_PATHS.items():
        if f"/{rule.collection}/" in text:
            return kind
    return "operation"


def parse_scope(text: object) -> ScopeName:
    match = _match_reference(text, SCOPE_NAME, "a scope projects/P/regions/R", allow_url=False)
    return ScopeName(match["project"], match["region"])


def is_wide_scope(text: str) -> bool:
    """A sweep scope above one project and region: found through Cloud Asset."""
    return WIDE_SCOPE.fullmatch(text) is not None


def truncate_for_report(text: object, limit: int = MAX_INPUT_CHARS) -> str:
    """Hostile input is echoed back in REJECTED results; keep it short and printable."""
    value = text if isinstance(text, str) else repr(text)
    value = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in value[: limit * 2])
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _match_reference(
    text: object,
    grammar: re.Pattern[str],
    expected: str,
    *,
    allow_url: bool = True,
    verbs: tuple[str, ...] = (),
) -> re.Match[str]:
    if not isinstance(text, str):
        raise InvalidName(f"expected {expected} as a string, got {type(text).__name__}")
    value = text.strip(" \t\r\n")
    if not value:
        raise InvalidName(f"expected {expected}, got an empty string")
    if len(value) > MAX_INPUT_CHARS:
        raise InvalidName(f"expected {expected}, got {len(value)} characters")
    if not value.isascii():
        raise InvalidName(f"expected {expected}: non-ASCII characters are not allowed")
    host_region = None
    if allow_url and value.startswith(("https://", "http://")):
        url = _URL.fullmatch(value)
        if url is None or (url["verb"] is not None and url["verb"] not in verbs):
            ending = " or NAME:" + "/:".join(verbs) if verbs else ""
            raise InvalidName(
                f"a URL must be https://dataproc.googleapis.com/v1/NAME{ending} or the same on "
                "a regional https://REGION-dataproc.googleapis.com, with no query, port or encoding"
            )
        host_region, value = url["host_region"], url["name"]
    match = grammar.fullmatch(value)
    if match is None:
        raise InvalidName(f"expected {expected}; {_why_not(value)}")
    if host_region is not None and host_region != match["region"]:
        raise InvalidName(
            f"the URL's host is for region {host_region} but the name is in {match['region']}"
        )
    return match


def _why_not(value: str) -> str:
    """Name the first thing wrong, because 'invalid name' alone helps nobody fix a message."""
    if any(ch in value for ch in "%?#\\"):
        return "percent-encoding, queries, fragments and backslashes are not allowed"
    if any(not ch.isprintable() or ch.isspace() for ch in value):
        return "control characters and spaces are not allowed"
    if "//" in value or "/./" in value or "/../" in value or value.endswith(("/.", "/..")):
        return "empty, '.' and '..' path segments are not allowed"
    return "a segment does not match Dataproc's naming rules (project ID, region, ID)"


# Every kind registers its rule as canceller.kinds is imported; importing it here (last,
# once this module is complete) means no caller can meet a registry still empty.
import canceller.kinds  # noqa: E402, F401
