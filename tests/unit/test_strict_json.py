"""The strict JSON reader: each kind of text it refuses, with its sentence; everything
else read exactly as ``json.loads`` reads it; and nothing but ``InvalidJson`` raised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canceller.strict_json import MAX_DEPTH, MAX_INTEGER_DIGITS, InvalidJson, is_unicode, loads

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "schemas" / "examples").glob("*.json"))


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def refusal(text: object) -> str:
    with pytest.raises(InvalidJson) as refused:
        loads(text)  # type: ignore[arg-type]
    return str(refused.value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_documented_example_reads_as_json_loads_reads_it(path: Path) -> None:
    text = path.read_text()
    assert loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (
            "{not json",
            "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)",
        ),
        ("", "not valid JSON: Expecting value (line 1, column 1)"),
        ('{"a": 1} {"a": 2}', "not valid JSON: Extra data (line 1, column 10)"),
        (
            "\ufeff{}",
            "not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) (line 1, column 1)",
        ),
        (
            '{"operation": "a", "operation": "b"}',
            "key `operation` appears twice at the top level: an ambiguous document is refused",
        ),
        (
            '{"sweep": {"max": 1, "max": 2, "max": 3}}',
            "key `max` appears 3 times in `sweep`: an ambiguous document is refused",
        ),
        (
            '{"operations": [{}, {"x y": {"k": 1, "k": 1}}]}',
            'key `k` appears twice in `operations[1]["x y"]`: an ambiguous document is refused',
        ),
        (
            '{"operation": "a", "\\u006fperation": "b"}',  # equal once unescaped
            "key `operation` appears twice at the top level: an ambiguous document is refused",
        ),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "JSON nested deeper than 32 levels"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "JSON nested deeper than 32 levels"),
        ("[" * 100_000, "JSON nested deeper than 32 levels"),
        ('{"max": ' + "9" * 5000 + "}", "an integer of 5000 digits: at most 30 are allowed"),
        ("-" + "1" * (MAX_INTEGER_DIGITS + 1), "an integer of 31 digits: at most 30 are allowed"),
        ('{"olderThan": NaN}', "NaN is not a JSON number: numbers must be finite"),
        ("[Infinity]", "Infinity is not a JSON number: numbers must be finite"),
        ("[-Infinity]", "-Infinity is not a JSON number: numbers must be finite"),
        ("1e999", "the number 1e999 is out of range: numbers must be finite"),
        ("-1E+999", "the number -1E+999 is out of range: numbers must be finite"),
        ("1" * 400 + ".0", "the number " + "1" * 63 + "… is out of range: numbers must be finite"),
        (
            '"\\ud800"',
            "the string at the top level holds a lone surrogate \\ud800, which is not Unicode text",
        ),
        (
            '{"reason": "ok \\udc00"}',
            "the string at `reason` holds a lone surrogate \\udc00, which is not Unicode text",
        ),
        (
            '{"sweep": {"scopes": ["a", "\\ude00\\ud83d"]}}',  # a pair in the wrong order
            "the string at `sweep.scopes[1]` holds a lone surrogate \\ude00, "
            "which is not Unicode text",
        ),
        (
            '{"a": {"\\udbff": 1}}',
            "a key in `a` holds a lone surrogate \\udbff, which is not Unicode text",
        ),
        (
            '["\ud800"]',
            "the string at `[0]` holds a lone surrogate \\ud800, which is not Unicode text",
        ),  # a raw one, not an escape
    ],
)
def test_refusals_say_what_is_wrong(text: str, sentence: str) -> None:
    assert refusal(text) == sentence


@pytest.mark.parametrize("value", [b"{}", None, 7, ["{}"]])
def test_only_text_is_read(value: object) -> None:
    assert refusal(value) == f"expected JSON text, got {type(value).__name__}"


def test_the_depth_limit_is_exact_and_counts_only_structure() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) == _nested(MAX_DEPTH)
    mixed = '{"a": [' * 16 + "]}" * 16  # 32 levels, alternating
    assert loads(mixed) == json.loads(mixed)
    inside = json.dumps(["[" * 100 + "{" * 100])  # brackets in a string are text
    assert loads(inside) == json.loads(inside)
    quoted = '["\\"' + "[" * 100 + '", 1]'  # after an escaped quote: still in the string
    assert loads(quoted) == json.loads(quoted)
    closed = '["\\\\", ' + "[" * 40 + "]" * 40 + "]"  # an escaped backslash ends it
    assert refusal(closed) == "JSON nested deeper than 32 levels"


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_numbers_inside_the_limits_are_read() -> None:
    biggest = "9" * MAX_INTEGER_DIGITS
    assert loads(f"[{biggest}, -{biggest}]") == [int(biggest), -int(biggest)]
    assert loads("[1e308, -1.7e308, 1e-999, 0.5]") == [1e308, -1.7e308, 0.0, 0.5]
    assert loads("0." + "1" * 5000) == pytest.approx(0.1111111111111111)  # long but finite


def test_valid_surrogate_pairs_and_non_ascii_text_are_read() -> None:
    assert loads('["\\ud83d\\ude00", "caf\\u00e9", "日本"]') == ["\U0001f600", "café", "日本"]


def test_is_unicode() -> None:
    assert is_unicode("café \U0001f600")
    assert not is_unicode("a\ud800")
    assert not is_unicode("\udfff")


# -- Properties ---------------------------------------------------------------------

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
bounded_ints = st.integers(-(10**MAX_INTEGER_DIGITS) + 1, 10**MAX_INTEGER_DIGITS - 1)
json_values = st.recursive(
    st.none() | st.booleans() | bounded_ints | finite_floats | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)  # dictionaries have unique keys; st.text() draws no surrogates; depth stays far below 32


@pytest.mark.long  # 1,000 generated documents, about 14 s on 2 cores; .ci/run runs it
@examples(1000)
@given(value=json_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 0, 2]))
def test_within_the_limits_strict_equals_json_loads(
    value: Any, ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    strict = loads(text)
    assert strict == json.loads(text)
    assert _same_types(strict, value)


def _same_types(a: Any, b: Any) -> bool:
    """``==`` says 1 == 1.0 == True; the reader must not change a number's type either."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same_types, a, b))
    return type(a) is type(b) and a == b


@st.composite
def damaged_json(draw: st.DrawFn) -> str:
    """Valid JSON with a few characters swapped for JSON's own syntax, escapes, huge or
    non-finite numbers, brackets: texts near the edge of what parses."""
    text = draw(st.builds(json.dumps, json_values))
    pieces = [
        "[",
        "]",
        "{",
        "}",
        '"',
        "\\",
        "\\u",
        "\\ud800",
        ",",
        ":",
        "1e999",
        "NaN",
        "9" * 40,
        "-",
        "[" * 40,
        "\x00",
        "\ufeff",
        "e",
        ".",
    ]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(pieces) | st.text(max_size=3)) + text[at:]
    return text


@examples(1000)
@given(text=st.one_of(damaged_json(), st.text(max_size=200)))
def test_any_text_is_read_or_refused_with_a_sentence_and_never_means_more(text: str) -> None:
    """Total: only InvalidJson. Never more lenient than json.loads: whatever the strict
    reader accepts, the standard one reads the same way."""
    try:
        document = loads(text)
    except InvalidJson as refused:
        assert str(refused) and is_unicode(str(refused))
        return
    assert _same_types(document, json.loads(text))
