"""Strict JSON: one document with one meaning, or ``InvalidJson`` with a sentence for people.

``json.loads`` is neither total nor unambiguous, and a kill switch needs both:

- it raises ``RecursionError`` for deep nesting, and a ``ValueError`` that is not a
  ``JSONDecodeError`` for an integer longer than Python's int-string digit limit, so a
  small message could crash the handler and be redelivered instead of answered;
- it keeps the last of two equal keys: ``{"operation": A, "operation": B}`` means B;
- it accepts ``NaN``, ``Infinity`` and ``1e999`` (infinity), which mean nothing in any
  field, and ``"\\ud800"``, a string that cannot be encoded as UTF-8 when echoed back.

``loads`` refuses each of these; for every other text it returns what ``json.loads``
returns. The limits are far above what our documents need (a Monitoring incident, the
deepest, nests 4 levels; no field needs a 20-digit integer) and low enough that
nothing below them can hurt the standard decoder.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any, NoReturn

MAX_DEPTH = 32  # arrays and objects, counted from 1 at the top
MAX_INTEGER_DIGITS = 30  # a longer integer literal is refused, not converted

# A string (a run to the end if unterminated), or one bracket. Counting brackets outside
# strings bounds the depth the decoder can reach: it reads the same strings the same
# way, and stops at its first error or at the end of the first value.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")  # the decoder joins valid pairs: any left is lone
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
_SHOWN_CHARS = 64


class InvalidJson(ValueError):
    """The text is not one strict JSON document; ``str()`` says why, for people."""


def loads(text: str) -> Any:
    """The document ``text`` holds; raises ``InvalidJson`` and nothing else."""
    if not isinstance(text, str):
        raise InvalidJson(f"expected JSON text, got {type(text).__name__}")
    _check_depth(text)
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as error:
        raise InvalidJson(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    _check_values(document, ())
    return document


def is_unicode(text: str) -> bool:
    """False if ``text`` holds a lone surrogate: a Python string may, UTF-8 (and so
    Pub/Sub, which carries what we echo) may not."""
    return _SURROGATE.search(text) is None


def _check_depth(text: str) -> None:
    depth = 0
    for token in _TOKEN.finditer(text):
        bracket = text[token.start()]
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidJson(f"JSON nested deeper than {MAX_DEPTH} levels")
        elif bracket in "]}":
            depth -= 1


class _Duplicate:
    """Stands in for an object with a repeated key until ``_check_values`` finds where
    it is (the decoder's hook is not told)."""

    def __init__(self, key: str, count: int) -> None:
        self.key = key
        self.count = count


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Duplicate:
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    key, count = next(
        (key, count) for key, count in Counter(key for key, _ in pairs).items() if count > 1
    )
    return _Duplicate(key, count)


def _integer(literal: str) -> int:
    digits = len(literal.removeprefix("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise InvalidJson(
            f"an integer of {digits} digits: at most {MAX_INTEGER_DIGITS} are allowed"
        )
    return int(literal)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise InvalidJson(f"the number {_shown(literal)} is out of range: numbers must be finite")
    return value


def _constant(name: str) -> NoReturn:
    raise InvalidJson(f"{name} is not a JSON number: numbers must be finite")


def _check_values(value: Any, path: tuple[str | int, ...]) -> None:
    """Depth-first in document order, so the first problem in the text is the one told."""
    if isinstance(value, str):
        _check_text(value, path, "the string", "at")
    elif isinstance(value, _Duplicate):
        times = "twice" if value.count == 2 else f"{value.count} times"
        raise InvalidJson(
            f"key `{_shown(value.key)}` appears {times} {_where(path, 'in')}: "
            "an ambiguous document is refused"
        )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, path, "a key", "in")
            _check_values(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(item, (*path, index))


def _check_text(text: str, path: tuple[str | int, ...], what: str, preposition: str) -> None:
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        raise InvalidJson(
            f"{what} {_where(path, preposition)} holds a lone surrogate "
            f"\\u{ord(surrogate.group()):04x}, which is not Unicode text"
        )


def _where(path: tuple[str | int, ...], preposition: str) -> str:
    if not path:
        return "at the top level"
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _PLAIN_KEY.fullmatch(step):
            parts.append(f".{step}" if parts else step)
        else:
            parts.append(f"[{json.dumps(step[:_SHOWN_CHARS])}]")
    return f"{preposition} `{_truncated(''.join(parts))}`"


def _shown(text: str) -> str:
    """Short, with JSON escapes for anything unprintable, so the sentence is safe to echo."""
    return _truncated(json.dumps(text)[1:-1])


def _truncated(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
