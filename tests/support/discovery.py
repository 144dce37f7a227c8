"""Requests held against Google's discovery document for Dataproc v1 (``dataproc.v1.json``).

The document is the copy google-api-python-client ships
(``googleapiclient/discovery_cache/documents/dataproc.v1.json``), as are those of the
organisation APIs the emulator also serves (``DOCUMENTS``), all read by ``document``
through ``googleapiclient.__file__`` and never downloaded. ``Discovery.check`` takes one HTTP
request and answers which method of the document it is and what about it the document
does not allow:

- **method**: the HTTP method and the path match a method's ``flatPath``
  (``v1/projects/{projectsId}/regions/{regionsId}/operations/{operationsId}:cancel``),
  each ``{var}`` standing for one path segment without ``/`` or ``:`` (no Dataproc ID
  has a colon, so ``NAME:cancel`` is only ever the custom method, never a GET of
  ``NAME``). A path parameter with a ``pattern`` is then held to it through the method's
  ``path`` form, where ``{+name}`` spans several segments
  (``^projects/[^/]+/regions/[^/]+/operations$`` for ``operations.list``).
- **query**: every parameter is one the method declares with location ``query`` or a
  system parameter of the document's top-level ``parameters`` (``alt``, ``fields``,
  ``key``, ``prettyPrint``, ``quotaUser``, ``$.xgafv``, ...), within its ``enum`` and
  type. Google's system-parameters page says a system parameter ``foo`` may also be
  sent as ``$foo``, so ``$alt`` is ``alt``; its value is a format of ``alt``'s enum
  followed by ``;``-separated options, of which ``enum-encoding=int`` (enums as numbers,
  what google-api-core's REST transports send as ``$alt=json;enum-encoding=int``) is the
  one known; anything else is refused.
- **body**: empty exactly when the method has no ``request``; otherwise a JSON object
  whose every field, recursively (``$ref`` followed into ``schemas``; a map's keys
  through ``additionalProperties``), is a declared property of its schema, with a
  JSON type that schema allows.

``Discovery.answer_problems`` holds an *answer* to a schema, more strictly, as Google's
servers write proto3 JSON: every field declared; 64-bit integers as strings of digits;
``google-datetime`` in RFC 3339 UTC with 0, 3, 6 or 9 decimals and a Z; ``google-duration``
as seconds with 0, 3, 6 or 9 decimals and an s; 32-bit integers as numbers; an enum's
value one of its names (or a number, when the request asked for numeric enums); and a
``google.protobuf.Any`` (an object with ``@type``) held to the schema its type names.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

Json = dict[str, Any]

# The discovery documents of the other APIs the Dataproc emulator serves (the ones the
# function calls to fan a budget out), by the API's name in a request log entry.
DOCUMENTS = {
    "billingbudgets": "billingbudgets.v1",
    "cloudbilling": "cloudbilling.v1",
    "cloudresourcemanager": "cloudresourcemanager.v3",
    "cloudasset": "cloudasset.v1",
}
# The options the alt system parameter may carry after its format: "json;enum-encoding=int".
ALT_OPTIONS = frozenset({"enum-encoding=int"})
_VARIABLE = re.compile(r"\{(\+?)([^}]+)\}")
_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)
_UINT64 = range(2**64)
# proto3 JSON as Google's servers write it (Timestamp and Duration: 0, 3, 6 or 9 decimals).
_DECIMALS = r"(?:\.[0-9]{3}|\.[0-9]{6}|\.[0-9]{9})?"
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" + _DECIMALS + "Z")
_DURATION = re.compile(r"-?[0-9]+" + _DECIMALS + "s")
_ANY_TYPE = "type.googleapis.com/"


@cache
def document(name: str) -> Json:
    """The discovery document ``name`` (``dataproc.v1``, ``cloudasset.v1``, ...) as the
    installed google-api-python-client ships it."""
    try:
        package = importlib.import_module("googleapiclient")
    except ImportError:
        raise RuntimeError(
            "google-api-python-client is not installed: the discovery documents "
            "(googleapiclient/discovery_cache/documents/) come with it; "
            "add google-api-python-client to requirements-dev.in and compile the pins"
        ) from None
    path = Path(str(package.__file__)).parent / "discovery_cache" / "documents" / f"{name}.json"
    loaded: Json = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True)
class Method:
    """One method of the document, its templates compiled."""

    id: str  # e.g. dataproc.projects.regions.jobs.cancel
    http_method: str
    flat: re.Pattern[str]  # the flatPath, one segment per variable
    path: re.Pattern[str]  # the path, {+name} spanning segments
    path_names: tuple[str, ...]  # the variables of ``path``, in order
    literal: int  # characters of the flatPath that are not variables (specificity)
    parameters: Mapping[str, Json]
    request: str | None  # the request schema's name; None: the method takes no body
    response: str | None = None  # the response schema's name


@dataclass(frozen=True)
class Verdict:
    """What the document says of one request: the method it is (None: no method), and
    each way the request departs from it."""

    request: str  # the request, for messages
    method: str | None
    problems: tuple[str, ...]

    @property
    def conforms(self) -> bool:
        return self.method is not None and not self.problems

    def __str__(self) -> str:
        said = "; ".join(self.problems) or "conforms"
        return f"{self.request} -> {self.method or 'no method'}: {said}"


class Discovery:
    """The methods, system parameters and schemas of one discovery document."""

    def __init__(self, document: Json) -> None:
        root = "/" + str(document.get("servicePath", ""))
        self.name = f"{document['name']}.{document['version']} (revision {document['revision']})"
        self.system: Mapping[str, Json] = document["parameters"]
        self.schemas: Mapping[str, Json] = document["schemas"]
        self.methods = tuple(_compile(raw, root) for raw in _methods(document))

    @classmethod
    def installed(cls) -> Discovery:
        return _installed()

    def find(self, http_method: str, path: str) -> Method | None:
        """The method the request is: the most literal flatPath that matches, if any."""
        found = [m for m in self.methods if m.http_method == http_method and m.flat.fullmatch(path)]
        return max(found, key=lambda method: method.literal, default=None)

    def check(self, http_method: str, path: str, query: Mapping[str, str], body: str) -> Verdict:
        shown = f"{http_method} {path}" + (f"?{_query_text(query)}" if query else "")
        shown += f" body={body!r}" if body else ""
        method = self.find(http_method, path)
        if method is None:
            verbs = sorted({m.id for m in self.methods if m.flat.fullmatch(path)})
            also = f" (the path is that of {', '.join(verbs)} with another HTTP method)"
            problem = f"no method of {self.name} is {http_method} {path}"
            return Verdict(shown, None, (problem + (also if verbs else ""),))
        problems = [
            *self._path_problems(method, path),
            *self._query_problems(method, query),
            *self._body_problems(method, body),
        ]
        return Verdict(shown, method.id, tuple(problems))

    def check_logged(self, request: Mapping[str, Any]) -> Verdict:
        """One entry of the emulator's request log (``EmulatorAdmin.requests()``)."""
        return self.check(request["method"], request["path"], request["query"], request["body"])

    def answer_problems(
        self, value: Any, schema: str, where: str = "", *, numeric_enums: bool = False
    ) -> list[str]:
        """Every way an answer ``value`` departs from the schema named ``schema``, held
        as Google's servers write proto3 JSON (see the module's docstring)."""
        problems: list[str] = []
        self._answer(value, {"$ref": schema}, where or schema, numeric_enums, problems)
        return problems

    def _answer(
        self, value: Any, schema: Json, where: str, numeric: bool, problems: list[str]
    ) -> None:
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        kind = schema.get("type", "any")
        if kind == "object":
            if not isinstance(value, dict):
                problems.append(f"{where} must be a JSON object, not {value!r:.80}")
                return
            properties: Mapping[str, Json] = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra.get("type") == "any" and "@type" in value:
                self._any(value, where, numeric, problems)
                return
            for key, item in value.items():
                if key in properties:
                    self._answer(item, properties[key], f"{where}.{key}", numeric, problems)
                elif isinstance(extra, dict):
                    self._answer(item, extra, f"{where}[{key!r}]", numeric, problems)
                else:
                    problems.append(f"{where}.{key} is not a field of {schema.get('id', where)}")
        elif kind == "array":
            if not isinstance(value, list):
                problems.append(f"{where} must be a JSON array, not {value!r:.80}")
                return
            for index, item in enumerate(value):
                self._answer(item, schema.get("items", {}), f"{where}[{index}]", numeric, problems)
        elif "enum" in schema:
            number = isinstance(value, int) and not isinstance(value, bool)
            if not (value in schema["enum"] or (numeric and number)):
                problems.append(f"{where}={value!r:.80} is not one of {schema['enum']}")
        elif (problem := _scalar_problem(value, kind, schema.get("format"))) is not None:
            problems.append(f"{where}={value!r:.80}: {problem}")

    def _any(self, value: Json, where: str, numeric: bool, problems: list[str]) -> None:
        """A google.protobuf.Any: held to the schema its ``@type`` names."""
        type_url = value["@type"]
        name = type_url.rsplit(".", 1)[-1] if isinstance(type_url, str) else ""
        fields = {key: item for key, item in value.items() if key != "@type"}
        if type_url == _ANY_TYPE + "google.protobuf.Empty":
            if fields:
                problems.append(f"{where}: an Empty with fields {sorted(fields)}")
        elif not isinstance(type_url, str) or not type_url.startswith(_ANY_TYPE):
            problems.append(f"{where}.@type={type_url!r:.80} is not a type URL")
        elif name not in self.schemas:
            problems.append(f"{where}.@type={type_url!r}: the document has no schema {name}")
        else:
            self._answer(fields, {"$ref": name}, f"{where}<{name}>", numeric, problems)

    # ---- path ------------------------------------------------------------------------

    def _path_problems(self, method: Method, path: str) -> Iterator[str]:
        match = method.path.fullmatch(path)
        if match is None:
            yield f"{path} fits the flatPath of {method.id} but not its path"
            return
        for name, value in zip(method.path_names, match.groups(), strict=True):
            pattern = method.parameters.get(name, {}).get("pattern")
            if pattern is not None and re.search(pattern, value) is None:
                yield f"path parameter {name}={value!r} does not match {pattern}"

    # ---- query -----------------------------------------------------------------------

    def _query_problems(self, method: Method, query: Mapping[str, str]) -> Iterator[str]:
        for key, value in query.items():
            declared = method.parameters.get(key)
            if declared is not None and declared.get("location") == "query":
                yield from _value_problems(key, value, declared)
                continue
            system = self._system_parameter(key)
            if system is None:
                yield (
                    f"query parameter {key!r} is neither a query parameter of {method.id} "
                    f"({', '.join(_query_names(method)) or 'none'}) nor a system parameter"
                )
            elif key.lstrip("$") == "alt":
                yield from _alt_problems(key, value, system)
            else:
                yield from _value_problems(key, value, system)

    def _system_parameter(self, key: str) -> Json | None:
        """``key`` as the document names it, or ``$key`` for its system parameter ``key``."""
        if key in self.system:
            return self.system[key]
        return self.system.get(key[1:]) if key.startswith("$") else None

    # ---- body ------------------------------------------------------------------------

    def _body_problems(self, method: Method, body: str) -> Iterator[str]:
        if method.request is None:
            if body:
                yield f"{method.id} takes no request body, but {body[:200]!r} was sent"
            return
        if not body:
            yield f"{method.id} takes a {method.request} body, but none was sent"
            return
        try:
            value = json.loads(body)
        except ValueError:
            yield f"the body of {method.id} is not JSON: {body[:200]!r}"
            return
        if not isinstance(value, dict):
            yield f"the body of {method.id} is not a JSON object: {body[:200]!r}"
            return
        yield from self._value_problems(value, {"$ref": method.request}, method.request)

    def _value_problems(self, value: Any, schema: Json, where: str) -> Iterator[str]:
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        kind = schema.get("type", "any")
        if kind == "object":
            if not isinstance(value, dict):
                yield f"{where} must be a JSON object, not {value!r:.80}"
                return
            properties: Mapping[str, Json] = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if key in properties:
                    yield from self._value_problems(item, properties[key], f"{where}.{key}")
                elif isinstance(extra, dict):
                    yield from self._value_problems(item, extra, f"{where}[{key!r}]")
                else:
                    known = ", ".join(properties) or "no fields"
                    yield f"{where}.{key} is not a field of {schema.get('id', where)} ({known})"
        elif kind == "array":
            if not isinstance(value, list):
                yield f"{where} must be a JSON array, not {value!r:.80}"
                return
            for index, item in enumerate(value):
                yield from self._value_problems(item, schema.get("items", {}), f"{where}[{index}]")
        elif not _json_type_fits(value, kind, schema.get("format")):
            yield f"{where} must be a {kind}, not {value!r:.80}"


@cache
def _installed() -> Discovery:
    return Discovery(document("dataproc.v1"))


def _methods(node: Json) -> Iterator[Json]:
    yield from node.get("methods", {}).values()
    for resource in node.get("resources", {}).values():
        yield from _methods(resource)


def _compile(raw: Json, root: str) -> Method:
    flat: str = raw.get("flatPath") or raw["path"]
    path, names = _template(root + str(raw["path"]), multi_segment=True)
    request = raw.get("request")
    return Method(
        id=raw["id"],
        http_method=raw["httpMethod"],
        flat=_template(root + flat, multi_segment=False)[0],
        path=path,
        path_names=names,
        literal=len(_VARIABLE.sub("", flat)),
        parameters=raw.get("parameters", {}),
        request=request["$ref"] if request else None,
        response=raw["response"]["$ref"] if raw.get("response") else None,
    )


def _template(text: str, *, multi_segment: bool) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A URI template as a regular expression: ``{var}`` one segment (no ``/`` or ``:``),
    ``{+var}`` any run of segments where ``multi_segment`` (the ``path`` form)."""
    parts: list[str] = []
    names: list[str] = []
    end = 0
    for match in _VARIABLE.finditer(text):
        parts.append(re.escape(text[end : match.start()]))
        parts.append("(.+?)" if match[1] and multi_segment else "([^/:]+)")
        names.append(match[2])
        end = match.end()
    parts.append(re.escape(text[end:]))
    return re.compile("".join(parts)), tuple(names)


def _query_names(method: Method) -> list[str]:
    return sorted(k for k, p in method.parameters.items() if p.get("location") == "query")


def _value_problems(key: str, value: str, parameter: Json) -> Iterator[str]:
    enum = parameter.get("enum")
    if enum is not None and value not in enum:
        yield f"query parameter {key}={value!r} is not one of {enum}"
    kind = parameter.get("type")
    if kind == "integer":
        try:
            number = int(value)
        except ValueError:
            yield f"query parameter {key}={value!r} is not an integer"
            return
        if parameter.get("format") == "int32" and number not in _INT32:
            yield f"query parameter {key}={value!r} is not an int32"
    elif kind == "boolean" and value not in ("true", "false"):
        yield f"query parameter {key}={value!r} is not true or false"


def _alt_problems(key: str, value: str, parameter: Json) -> Iterator[str]:
    """``alt`` (or ``$alt``): a format of its enum, then options such as
    ``enum-encoding=int`` separated by ``;``."""
    form, *options = value.split(";")
    yield from _value_problems(key, form, parameter)
    for option in options:
        if option not in ALT_OPTIONS:
            yield f"query parameter {key}={value!r} has the unknown option {option!r}"


def _json_type_fits(value: Any, kind: str, form: str | None) -> bool:
    """proto3 JSON as Google's parsers read it: 64-bit integers are strings in the
    document, and numbers are taken for them too, as strings are for other integers."""
    if kind == "string":
        return isinstance(value, str) or (
            form in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool)
        )
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value) is not None
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return True  # "any"


def _scalar_problem(value: Any, kind: str, form: str | None) -> str | None:
    """Why ``value`` is not an answer's ``kind`` of ``form``, or None when it is."""
    if kind == "string":
        if not isinstance(value, str):
            return f"not a string ({form or 'string'})"
        if form in ("int64", "uint64"):
            ok = re.fullmatch(r"-?[0-9]+", value) and int(value) in (
                _INT64 if form == "int64" else _UINT64
            )
            return None if ok else f"not an {form} written as a string of digits"
        if form == "google-datetime" and not _DATETIME.fullmatch(value):
            return "not an RFC 3339 UTC timestamp with 0, 3, 6 or 9 decimals"
        if form == "google-duration" and not _DURATION.fullmatch(value):
            return "not a duration in seconds with 0, 3, 6 or 9 decimals"
        return None
    if kind == "integer":
        number = isinstance(value, int) and not isinstance(value, bool)
        if not number or (form == "int32" and value not in _INT32):
            return f"not an {form or 'integer'} written as a number"
        return None
    if kind == "number":
        fits = isinstance(value, int | float) and not isinstance(value, bool)
        return None if fits else "not a number"
    if kind == "boolean":
        return None if isinstance(value, bool) else "not true or false"
    return None  # "any"


def _query_text(query: Mapping[str, str]) -> str:
    return "&".join(f"{key}={value}" for key, value in query.items())
