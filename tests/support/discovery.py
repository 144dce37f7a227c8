"""Requests held against Google's discovery document for Dataproc v1 (``dataproc.v1.json``).

The document is the copy google-api-python-client ships
(``googleapiclient/discovery_cache/documents/dataproc.v1.json``), found through
``googleapiclient.__file__`` and never downloaded. ``Discovery.check`` takes one HTTP
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

DOCUMENT = Path("discovery_cache", "documents", "dataproc.v1.json")
# The options the alt system parameter may carry after its format: "json;enum-encoding=int".
ALT_OPTIONS = frozenset({"enum-encoding=int"})
_VARIABLE = re.compile(r"\{(\+?)([^}]+)\}")
_INT32 = range(-(2**31), 2**31)


def document_path() -> Path:
    """Where the installed google-api-python-client keeps dataproc.v1.json."""
    try:
        package = importlib.import_module("googleapiclient")
    except ImportError:
        raise RuntimeError(
            "google-api-python-client is not installed: the Dataproc discovery document "
            "(googleapiclient/discovery_cache/documents/dataproc.v1.json) comes with it; "
            "add google-api-python-client to requirements-dev.in and compile the pins"
        ) from None
    return Path(str(package.__file__)).parent / DOCUMENT


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
    return Discovery(json.loads(document_path().read_text(encoding="utf-8")))


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


def _query_text(query: Mapping[str, str]) -> str:
    return "&".join(f"{key}={value}" for key, value in query.items())
