"""The name grammar: what is accepted, and a large table of hostile names that must not be."""

from __future__ import annotations

import pytest

from canceller.names import (
    InvalidName,
    ResourceName,
    kind_named_by,
    parse_name,
    parse_scope,
    truncate_for_report,
)

GOOD = "projects/my-project/regions/us-central1/operations/0c1d-ab_C9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD, ResourceName("operation", "my-project", "us-central1", "0c1d-ab_C9")),
        (f"  {GOOD}\n", ResourceName("operation", "my-project", "us-central1", "0c1d-ab_C9")),
        (
            "projects/abcdef/regions/global/operations/x",
            ResourceName("operation", "abcdef", "global", "x"),
        ),
        (
            "projects/example.com:my-project/regions/europe-west1/operations/1",
            ResourceName("operation", "example.com:my-project", "europe-west1", "1"),
        ),
        (
            "projects/p23456789012345678901234567890/regions/northamerica-northeast2/operations/z",
            ResourceName(
                "operation", "p23456789012345678901234567890", "northamerica-northeast2", "z"
            ),
        ),
        (
            f"projects/my-project/regions/me-central2/operations/{'a' * 128}",
            ResourceName("operation", "my-project", "me-central2", "a" * 128),
        ),
        (f"https://dataproc.googleapis.com/v1/{GOOD}", parse_name("operation", GOOD)),
        (f"https://dataproc.googleapis.com/v1/{GOOD}:cancel", parse_name("operation", GOOD)),
        (f"https://us-central1-dataproc.googleapis.com/v1/{GOOD}", parse_name("operation", GOOD)),
        (
            f"https://us-central1-dataproc.googleapis.com/v1/{GOOD}:cancel",
            parse_name("operation", GOOD),
        ),
    ],
)
def test_accepts_names_and_urls(text: str, expected: ResourceName) -> None:
    assert parse_name("operation", text) == expected
    assert parse_name("operation", expected.name) == expected


HOSTILE = [
    # structure
    "",
    "   ",
    "projects/my-project/regions/us-central1/operations",
    "projects/my-project/regions/us-central1/operations/",
    "projects/my-project/regions/us-central1/operations/a/b",
    "projects/my-project/regions/us-central1/operations/a/",
    "/projects/my-project/regions/us-central1/operations/a",
    "projects/my-project/locations/us-central1/operations/a",
    "projects/my-project/regions/us-central1/clusters/a",
    "projects/my-project/regions/us-central1/operations/a:cancel",
    "projects//regions/us-central1/operations/a",
    "Projects/my-project/regions/us-central1/operations/a",
    "projects/my-project/regions/us-central1/operations/a b",
    "my-project/us-central1/a",
    # path traversal
    "projects/my-project/regions/us-central1/operations/../../clusters/x",
    "projects/my-project/regions/us-central1/operations/..",
    "projects/my-project/regions/us-central1/operations/.",
    "projects/my-project/regions/../regions/us-central1/operations/a",
    "projects/my-project/./regions/us-central1/operations/a",
    "projects/my-project/regions/us-central1/operations/a/../b",
    "projects/my-project/regions/us-central1/operations/a\\..\\b",
    # percent-encoding, queries, fragments
    "projects/my-project/regions/us-central1/operations/a%2F..%2Fb",
    "projects/my-project/regions/us-central1/operations/%61",
    "projects%2Fmy-project%2Fregions%2Fus-central1%2Foperations%2Fa",
    "projects/my-project/regions/us-central1/operations/a?alt=json",
    "projects/my-project/regions/us-central1/operations/a#frag",
    "projects/my-project/regions/us-central1/operations/a;x=1",
    "projects/my-project/regions/us-central1/operations/a&b",
    # control characters
    "projects/my-project/regions/us-central1/operations/a\x00",
    "projects/my-project/regions/us-central1/operations/a\nb",
    "projects/my-project/regions/us-central1/operations/a\rb",
    "projects/my-project/regions/us-central1/operations/a\tb",
    "projects/my-project/regions/us-central1/operations/\x1b[31ma",
    "projects/my-project/regions/us-central1\x00/operations/a",
    # unicode look-alikes and invisible characters
    "projects/my-pr\u043eject/regions/us-central1/operations/a",  # Cyrillic o
    "projects/my-project/regions/us-\u0441entral1/operations/a",  # Cyrillic s
    "projects/my-project/regions/us-central1/operations/\u0430",  # Cyrillic a
    "projects/my-project/regions/us-central1/operations/a\u200b",  # zero width space
    "projects/my-project/regions/us-central1/operations/a\u202e",  # right-to-left override
    "projects/my-project/regions/us-central1/operations/\uff41",  # fullwidth a
    "projects\uff0fmy-project/regions/us-central1/operations/a",  # fullwidth solidus
    "projects/my-project/regions/us-central1/operations/a\u0301",  # combining accent
    "projects/my-project/regions/us-central\uff11/operations/a",  # fullwidth digit
    "projects/my-project/regions/us-central1/operations/\u0663",  # Arabic-Indic digit
    # project ID rules
    "projects/MY-PROJECT/regions/us-central1/operations/a",
    "projects/my-project-/regions/us-central1/operations/a",
    "projects/1my-project/regions/us-central1/operations/a",
    "projects/short/regions/us-central1/operations/a",
    "projects/p234567890123456789012345678901/regions/us-central1/operations/a",
    "projects/my_project/regions/us-central1/operations/a",
    "projects/my.project/regions/us-central1/operations/a",
    "projects/:my-project/regions/us-central1/operations/a",
    "projects/example.com:/regions/us-central1/operations/a",
    "projects/Example.com:my-project/regions/us-central1/operations/a",
    "projects/-/regions/us-central1/operations/a",
    "projects/*/regions/us-central1/operations/a",
    # region rules
    "projects/my-project/regions/US-CENTRAL1/operations/a",
    "projects/my-project/regions/uscentral1/operations/a",
    "projects/my-project/regions/us-central/operations/a",
    "projects/my-project/regions/us-central123/operations/a",
    "projects/my-project/regions/-/operations/a",
    "projects/my-project/regions/*/operations/a",
    "projects/my-project/regions/Global/operations/a",
    "projects/my-project/regions/us-central1-a/operations/a",
    # operation ID rules
    f"projects/my-project/regions/us-central1/operations/{'a' * 129}",
    "projects/my-project/regions/us-central1/operations/a.b",
    "projects/my-project/regions/us-central1/operations/a:b",
    "projects/my-project/regions/us-central1/operations/a'b",
    'projects/my-project/regions/us-central1/operations/a"b',
    "projects/my-project/regions/us-central1/operations/a*",
    "projects/my-project/regions/us-central1/operations/a+b",
    "projects/my-project/regions/us-central1/operations/a@b",
    # URLs that are not Dataproc's
    f"http://dataproc.googleapis.com/v1/{GOOD}",
    f"https://evil.example.com/v1/{GOOD}",
    f"https://dataproc.googleapis.com.evil.example/v1/{GOOD}",
    f"https://evil.example/dataproc.googleapis.com/v1/{GOOD}",
    f"https://dataproc.googleapis.com@evil.example/v1/{GOOD}",
    f"https://user@dataproc.googleapis.com/v1/{GOOD}",
    f"https://dataproc.googleapis.com:8443/v1/{GOOD}",
    f"https://dataproc.googleapis.com/v1beta2/{GOOD}",
    f"https://dataproc.googleapis.com/v1/{GOOD}?alt=json",
    f"https://dataproc.googleapis.com/v1/{GOOD}#x",
    f"https://dataproc.googleapis.com/v1/{GOOD}:delete",
    f"https://dataproc.googleapis.com/v1/{GOOD}/",
    f"https://dataproc.googleapis.com//v1/{GOOD}",
    f"https://DATAPROC.googleapis.com/v1/{GOOD}",
    f"https://europe-west1-dataproc.googleapis.com/v1/{GOOD}",
    f"https://dataproc.googleapis.com/v1/{GOOD.replace('/', '%2F')}",
    "https://dataproc.googleapis.com/v1/projects/my-project/regions/us-central1/operations/../x",
    f"ftp://dataproc.googleapis.com/v1/{GOOD}",
    f"//dataproc.googleapis.com/v1/{GOOD}",
    # size
    f"projects/my-project/regions/us-central1/operations/{'a' * 100_000}",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_rejects_hostile_names(text: str) -> None:
    with pytest.raises(InvalidName):
        parse_name("operation", text)


@pytest.mark.parametrize("value", [None, 1, 1.5, ["x"], {"name": GOOD}, b"projects/x"])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidName, match="as a string"):
        parse_name("operation", value)


def test_rejection_says_why() -> None:
    with pytest.raises(InvalidName, match="percent-encoding"):
        parse_name("operation", f"{GOOD}%2F")
    with pytest.raises(InvalidName, match="non-ASCII"):
        parse_name("operation", GOOD.replace("o", "\u043e"))
    with pytest.raises(InvalidName, match=r"'\.\.' path segments"):
        parse_name("operation", "projects/my-project/regions/us-central1/operations/../x")
    with pytest.raises(InvalidName, match="region europe-west1"):
        parse_name("operation", f"https://europe-west1-dataproc.googleapis.com/v1/{GOOD}")


def test_batches_and_scopes() -> None:
    batch = parse_name("batch", "projects/my-project/locations/us-central1/batches/etl-2024-01")
    assert (batch.project, batch.location, batch.resource_id) == (
        "my-project",
        "us-central1",
        "etl-2024-01",
    )
    url = f"https://dataproc.googleapis.com/v1/{batch.name}"
    assert parse_name("batch", url) == batch
    with pytest.raises(InvalidName):
        parse_name("batch", "projects/my-project/locations/us-central1/batches/UPPER")
    with pytest.raises(InvalidName):
        parse_name("batch", "projects/my-project/regions/us-central1/batches/abcd")
    scope = parse_scope("projects/my-project/regions/us-east1")
    assert scope.name == "projects/my-project/regions/us-east1"
    with pytest.raises(InvalidName):
        parse_scope("https://dataproc.googleapis.com/v1/projects/my-project/regions/us-east1")


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (
            "job",
            [
                "projects/my-project/regions/us-central1/jobs/Spark_job-7",
                "projects/my-project/regions/global/jobs/" + "j" * 100,
                "https://us-central1-dataproc.googleapis.com/v1/projects/my-project/regions/"
                "us-central1/jobs/j1:cancel",
            ],
            [
                "projects/my-project/regions/us-central1/jobs/" + "j" * 101,
                "projects/my-project/locations/us-central1/jobs/j1",
                "projects/my-project/regions/us-central1/jobs/j.1",
                "projects/my-project/regions/us-central1/jobs/j1/extra",
                "projects/my-project/regions/us-central1/jobs/",
            ],
        ),
        (
            "session",
            [
                "projects/my-project/locations/us-central1/sessions/notebook-1",
                "projects/my-project/locations/us-central1/sessions/" + "s" * 63,
                "https://dataproc.googleapis.com/v1/projects/my-project/locations/us-central1/"
                "sessions/abcd:terminate",
            ],
            [
                "projects/my-project/locations/us-central1/sessions/abc",
                "projects/my-project/locations/us-central1/sessions/" + "s" * 64,
                "projects/my-project/locations/us-central1/sessions/Notebook",
                "projects/my-project/locations/us-central1/sessions/under_score",
                "projects/my-project/regions/us-central1/sessions/notebook-1",
                "projects/my-project/locations/us-central1/sessions/-abcd",
            ],
        ),
    ],
)
def test_job_and_session_grammar(kind: str, good: list[str], bad: list[str]) -> None:
    for text in good:
        name = parse_name(kind, text)
        assert name.kind == kind
        assert parse_name(kind, name.name) == name
        assert kind_named_by(text) == kind
    for text in bad:
        with pytest.raises(InvalidName):
            parse_name(kind, text)


def test_a_name_of_one_kind_is_not_accepted_as_another() -> None:
    job = "projects/my-project/regions/us-central1/jobs/abcd"
    for kind in ("operation", "batch", "session"):
        with pytest.raises(InvalidName, match=f"expected an? {kind} name"):
            parse_name(kind, job)


def test_truncate_for_report_is_short_and_printable() -> None:
    text = truncate_for_report("a\x00b" + "x" * 2000)
    assert len(text) == 512
    assert text.startswith("a\\x00b")
    assert text.isprintable()
    assert truncate_for_report({"k": 1}) == "{'k': 1}"
