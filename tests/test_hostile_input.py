"""Hostile input, property-based: 10,000 generated payloads against the real decoder,
the real name parsers and the real dispatch, talking to a real (in-process) Dataproc
emulator over HTTP.

Counts, all derandomized: the same examples every run of the same suite (Hypothesis
also draws on constants it finds in the loaded modules, so a subset may differ):
    3,000  operation names (any object) through ``parse_operation_name``
    1,000  batch names through ``parse_batch_name``
    4,000  Pub/Sub CloudEvents through ``decode_trigger`` and ``handle_trigger``
    2,000  Pub/Sub CloudEvents whose results must be publishable
   ------
   10,000

What must hold:
- nothing raises: ``decode_trigger`` and ``handle_trigger`` never do (the latter
  reports transient failures in ``retry_reasons``; only ``main.cancel_operation`` turns
  them into the retry signal, after publishing), and a healthy emulator causes none;
- every accepted name matches the strict grammar written out below from the README
  and Google's naming rules, parses back to itself, and came from the message;
- every request goes to the configured endpoint, for a path built from such a name
  (or one Dataproc itself answered with), in an allowed project. The observer is a
  requests ``HTTPAdapter`` mounted on the function's own session: it records each URL,
  then sends the request for real;
- every result is one Pub/Sub and the results topic's schemas accept, or the message
  would be redelivered forever instead of answered.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cloudevents.http import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter

from canceller.dispatch import Handled, handle_trigger
from canceller.names import InvalidName, parse_batch_name, parse_operation_name
from canceller.runtime import Runtime
from canceller.trigger import Trigger, decode_trigger
from dataproc_emulator import DataprocEmulator
from tests.support.result_contract import assert_valid_result


def examples(count: int) -> settings:
    """``count`` examples, the same ones every run, however long each takes."""
    return settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- The strict grammar, written out independently of canceller.names --------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # a DNS label
_PROJECT_ID = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"  # 6-30; letter first; no hyphen last
STRICT_PROJECT = rf"(?:{_LABEL}(?:\.{_LABEL})+:)?{_PROJECT_ID}"  # example.com:my-proj
STRICT_REGION = r"global|[a-z]{2,}(?:-[a-z]+)+[0-9]{1,2}"  # us-central1, me-west1
STRICT_OPERATION = re.compile(
    rf"projects/{STRICT_PROJECT}/regions/(?:{STRICT_REGION})/operations/[A-Za-z0-9_-]{{1,128}}",
    re.ASCII,
)
# Dataproc batch IDs: "4-63 characters; valid characters are /[a-z][0-9]-/".
STRICT_BATCH = re.compile(
    rf"projects/{STRICT_PROJECT}/locations/(?:{STRICT_REGION})/batches/[a-z0-9-]{{4,63}}",
    re.ASCII,
)
STRICT_SCOPE = re.compile(rf"projects/{STRICT_PROJECT}/regions/(?:{STRICT_REGION})", re.ASCII)
STRICT_URL = re.compile(
    rf"https://(?:(?P<host>{STRICT_REGION})-)?dataproc\.googleapis\.com/v1/(?P<name>.+?)"
    r"(?::cancel)?",
    re.ASCII,
)
MAX_NAME_CHARS = 512  # README: longer input is refused before any matching

# -- The world the dispatch runs in -------------------------------------------------

ALLOWED = ("hostile-proj", "example.com:legacy-proj")
REGION = "us-central1"
SWEEP_SCOPE = f"projects/hostile-proj/regions/{REGION}"
RUNNING = f"{SWEEP_SCOPE}/operations/running-op"  # ignores cancels: GET, POST, GET
DONE = f"{SWEEP_SCOPE}/operations/done-op"
BATCH = f"projects/hostile-proj/locations/{REGION}/batches/batch-one"
BATCH_OPERATION = f"{SWEEP_SCOPE}/operations/batch-one-op"

# Pub/Sub's limits for a published message (https://cloud.google.com/pubsub/quotas).
ATTRIBUTE_KEY_BYTES, ATTRIBUTE_VALUE_BYTES, ATTRIBUTES_PER_MESSAGE = 256, 1024, 100
MESSAGE_BYTES = 10_000_000


class RecordingAdapter(HTTPAdapter):
    """Observes the transport: records every URL the session sends, then sends it."""

    def __init__(self) -> None:
        super().__init__(pool_connections=2, pool_maxsize=16, max_retries=0)
        self.urls: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.urls.append(str(request.url))
        return super().send(request, **kwargs)


@dataclass
class World:
    runtime: Runtime
    adapter: RecordingAdapter
    emulator: DataprocEmulator


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with DataprocEmulator("127.0.0.1") as emulator:
        emulator.state.seed_operations(
            [
                {"name": RUNNING, "onCancel": "ignore"},
                {"name": DONE, "done": True},
            ]
        )
        emulator.state.seed_batch({"name": BATCH, "operation": {"name": BATCH_OPERATION}})
        runtime = Runtime(
            {
                "DATAPROC_EMULATOR_HOST": emulator.base_url.removeprefix("http://"),
                "RESULTS_TOPIC": "projects/hostile-proj/topics/results",
                "ALLOWED_PROJECTS": ",".join(ALLOWED),
                "SWEEP_SCOPES": SWEEP_SCOPE,
                "VERIFY_TIMEOUT_SECONDS": "0",  # one check after a cancel: quick
                "RETRY_DEADLINE_SECONDS": "10",  # a busy machine must not look transient
                "REQUEST_TIMEOUT_SECONDS": "10",
            }
        )
        adapter = RecordingAdapter()
        session = runtime.dataproc()._session  # the function's own: observed, not replaced
        for prefix in ("", "http://", "https://"):  # "" catches any other scheme too
            session.mount(prefix, adapter)
        yield World(runtime, adapter, emulator)
        adapter.close()


# -- Strategies ---------------------------------------------------------------------

LOOKALIKES = ["\u0440", "\uff50", "\u2024", "\u2215", "\u200b", "\u00a0", "\ufeff", "\u0131"]
CONTROLS = ["\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\u2028", "\x85"]
SEGMENT_TRICKS = ["..", ".", "", "%2e%2e", "%2F", "a/b", "a?x=1", "a#f", "a\\b", "a b", "a;b"]


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """``one_of`` with weights (``one_of`` itself counts a repeated branch once)."""
    slots = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(slots))).flatmap(lambda index: slots[index])


projects = st.one_of(
    st.sampled_from([*ALLOWED, "other-project", "a", "Hostile-proj", "hostile-proj-", "9abcdef"]),
    st.from_regex(_PROJECT_ID, fullmatch=True),
    st.text(max_size=40),
)
regions = st.one_of(
    st.sampled_from(
        [REGION, "global", "europe-west4", "us-central", "US-central1", "us-central1 "]
    ),
    st.from_regex(STRICT_REGION, fullmatch=True),
    st.text(max_size=20),
)
op_ids = st.one_of(
    st.sampled_from(["running-op", "done-op", "missing-op", *SEGMENT_TRICKS, "x" * 129]),
    st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True),
    st.text(max_size=140),
)
batch_ids = st.one_of(
    st.sampled_from(["batch-one", "missing-batch", "abc", "-abc", "ABCD", *SEGMENT_TRICKS]),
    st.from_regex(r"[a-z0-9-]{1,70}", fullmatch=True),
    st.text(max_size=70),
)
# Half the names are built from valid parts (so that enough of them reach the network),
# half from any parts; the mutations below then break many of either kind.
valid_projects = weighted(
    (2, st.sampled_from(ALLOWED)),
    (1, st.just("other-project")),
    (1, st.from_regex(_PROJECT_ID, fullmatch=True)),
)
valid_regions = st.sampled_from([REGION, "global"]) | st.from_regex(STRICT_REGION, fullmatch=True)
OPERATION_TEXT, BATCH_TEXT = (
    "projects/{}/regions/{}/operations/{}",
    "projects/{}/locations/{}/batches/{}",
)
operation_texts = st.one_of(
    st.builds(OPERATION_TEXT.format, valid_projects, valid_regions, op_ids),
    st.builds(OPERATION_TEXT.format, projects, regions, op_ids),
)
batch_texts = st.one_of(
    st.builds(BATCH_TEXT.format, valid_projects, valid_regions, batch_ids),
    st.builds(BATCH_TEXT.format, projects, regions, batch_ids),
)
URL_FORMS = [
    "https://dataproc.googleapis.com/v1/{}",
    "https://dataproc.googleapis.com/v1/{}:cancel",
    "https://us-central1-dataproc.googleapis.com/v1/{}",
    "https://europe-west4-dataproc.googleapis.com/v1/{}",
    "http://dataproc.googleapis.com/v1/{}",
    "https://dataproc.googleapis.com:443/v1/{}",
    "https://dataproc.googleapis.com.evil.example/v1/{}",
    "https://dataproc.googleapis.com@evil.example/v1/{}",
    "https://evil.example/v1/{}",
    "https://evil.example#https://dataproc.googleapis.com/v1/{}",
    "https://dataproc.googleapis.com/v1/{}?alt=json",
    "https://dataproc.googleapis.com/v2/{}",
    "//dataproc.googleapis.com/v1/{}",
    "https://dataproc.googleapis.com/v1/../v1/{}",
    "HTTPS://DATAPROC.GOOGLEAPIS.COM/v1/{}",
    " \t{}\r\n",
    "{}/",
    "{}/extra",
    "{}:cancel:cancel",
    "{}?x=1",
    "{}#frag",
]


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A name-like text, then, half the time, one hostile edit: a wrapper, a swapped-in
    look-alike or control character, or a percent-encoded character."""
    text = draw(base)
    edit = draw(st.integers(0, 7))  # 0 and 5-7: unchanged
    if edit == 1:
        text = draw(st.sampled_from(URL_FORMS)).format(text)
    elif edit in (2, 3) and text:
        at = draw(st.integers(0, len(text) - 1))
        pool = LOOKALIKES if edit == 2 else CONTROLS
        text = text[:at] + draw(st.sampled_from(pool)) + text[at + 1 :]
    elif edit == 4 and text:
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + f"%{ord(text[at]) % 256:02X}" + text[at + 1 :]
    return text


HUGE = ["x" * 70_000, "\U0001f4a5" * 5000]  # over 64 KiB, and 20 KB of 4-byte characters
# Just over the limits that matter downstream: 512 characters (names, echoed input),
# 1024 bytes (a Pub/Sub attribute value), in one- and multi-byte characters.
BOUNDARY = ["a" * 513, "projects/" + "a" * 600, "a" * 1025, "\u00e9" * 513, "\U0001f4a5" * 257]
long_texts = st.sampled_from(BOUNDARY + HUGE)
names = weighted(
    (3, mutated(operation_texts)),
    (2, mutated(batch_texts)),
    (1, long_texts),
    (1, st.text(max_size=60)),
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(names, max_size=2),
    st.dictionaries(st.text(max_size=5), names, max_size=2),
)
any_names = weighted((4, names), (1, junk))
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars | names,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid three times in four, any JSON otherwise: one wrong field refuses a whole
    message, so garbage everywhere would leave the deeper layers untested."""
    return weighted((3, valid), (1, json_values))


sweeps = st.fixed_dictionaries(
    {},
    optional={
        "scopes": mostly(
            st.lists(
                st.one_of(
                    st.just(SWEEP_SCOPE),
                    mutated(st.builds(lambda p, r: f"projects/{p}/regions/{r}", projects, regions)),
                ),
                max_size=3,
            )
        ),
        "olderThan": mostly(st.sampled_from(["6h", "0s", "1d", "-1h", "6 h", "99999999999d"])),
        "filter": mostly(
            st.sampled_from(
                ["labels.team = etl", 'status.state = "RUNNING"', "clusterName = x OR 1=1", ""]
            )
        ),
        "operationTypes": mostly(st.lists(st.sampled_from(["BATCH", "CREATE", "x"]), max_size=2)),
        "max": mostly(st.integers(-2, 200)),
        "dryRun": mostly(st.booleans()),
    },
)
label_values = weighted(
    (2, st.sampled_from([*ALLOWED, REGION, "batch-one", "c-1"])), (1, names), (2, long_texts)
)
LABELS = ["project_id", "location", "region", "batch_id", "cluster_name", "cluster_uuid"]
labels = st.fixed_dictionaries(  # project_id always: its absence is json_values' job
    {"project_id": label_values}, optional={label: label_values for label in LABELS[1:]}
)
resources = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["cloud_dataproc_batch", "cloud_dataproc_cluster", "gce_instance"])
        | st.text(max_size=10),
        "labels": mostly(labels),
    }
)
incidents = st.fixed_dictionaries(
    {
        "incident": st.fixed_dictionaries(
            {
                "state": mostly(st.sampled_from(["open", "open", "OPEN", "closed"])),
                "resource": mostly(resources),
            },
            optional={"incident_id": json_values, "policy_name": json_values},
        )
    }
)
# Mostly the shape the decoder expects, so that hostile values get past the envelope
# and reach the name parsers and the network; then every other shape too.
op_names = weighted((3, mutated(operation_texts)), (1, any_names))
batch_names = weighted((3, mutated(batch_texts)), (1, any_names))
work = st.one_of(
    st.tuples(st.sampled_from(["operation", "name"]), op_names),
    st.tuples(st.just("operations"), mostly(st.lists(op_names, min_size=1, max_size=6))),
    st.tuples(st.just("batch"), batch_names),
    st.tuples(st.just("batches"), mostly(st.lists(batch_names, min_size=1, max_size=6))),
    st.tuples(st.just("sweep"), mostly(sweeps)),
)
short_texts = st.text(max_size=20)
options = st.fixed_dictionaries(  # mostly valid, or they would refuse the whole message
    {},
    optional={
        "reason": weighted((6, short_texts), (1, long_texts), (1, json_values)),
        "requestId": weighted((6, short_texts), (1, long_texts), (1, json_values)),
        "dryRun": mostly(st.booleans()),
    },
)
well_formed = st.builds(lambda pair, extra: {pair[0]: pair[1], **extra}, work, options)
any_documents = st.one_of(
    st.dictionaries(
        st.sampled_from(["operation", "sweep", "reason", "dryrun", "Operation", "operation "])
        | st.text(max_size=8),
        st.one_of(any_names, st.lists(any_names, max_size=6), sweeps, json_values),
        max_size=3,
    ),
    json_values,
)
BUDGET_KEYS = ["billingAccountId", "budgetId", "schemaVersion"]
budget_attributes = st.fixed_dictionaries({key: st.text(max_size=8) for key in BUDGET_KEYS})
budgets = st.fixed_dictionaries(
    {"costAmount": st.floats() | json_values, "budgetAmount": st.floats() | json_values},
    optional={"alertThresholdExceeded": st.floats() | json_values, "budgetDisplayName": names},
)
attribute_maps = st.dictionaries(
    st.sampled_from(["operation", *BUDGET_KEYS]) | st.text(max_size=10), names, max_size=4
)
# What a message is, weighted so that most get past the envelope and reach the name
# parsers and the network, while every layer still sees garbage of its own.
MESSAGE_KINDS = ["work"] * 10 + ["text"] * 4 + ["incident"] * 4 + ["budget", "junk", "bytes"]


class Hostile:
    """One generated delivery, and every string it carried (keys included), against
    which accepted names are checked. Shown in failure reports by a short summary."""

    def __init__(self, summary: str, event: CloudEvent, texts: tuple[str, ...]) -> None:
        self.summary = summary
        self.event = event
        self.texts = texts

    def __repr__(self) -> str:
        return self.summary


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@st.composite
def pubsub_events(draw: st.DrawFn) -> Hostile:
    """A push delivery as functions-framework hands it over, with hostile content at
    every level: the body (JSON, a bare name, any text, any bytes), its encoding (base64
    or not, or not even a string), the attributes, and the envelope itself."""
    kind = draw(st.sampled_from([*MESSAGE_KINDS, "envelope"]))
    attributes: object = {}
    document: object = None
    raw = b""
    if kind == "text":
        text = draw(names)
        if draw(st.booleans()):  # the name in the body
            raw = text.encode("utf-8", "surrogatepass")
        else:  # or in the 'operation' attribute, with an empty body
            attributes = {"operation": text}
    elif kind == "bytes":
        raw = draw(st.binary(max_size=200))
    elif kind != "envelope":
        strategy = {"work": well_formed, "incident": incidents, "budget": budgets}
        document = draw(strategy.get(kind, any_documents))
        raw = json.dumps(document).encode()
        if kind == "budget":
            attributes = draw(budget_attributes)
    extra = draw(st.sampled_from(["none"] * 6 + ["map", "map", "junk"]))
    if extra == "map" and isinstance(attributes, dict):
        attributes = {**draw(attribute_maps), **attributes}
    elif extra == "junk":
        attributes = draw(json_values)
    encoding = draw(st.sampled_from(["base64"] * 9 + ["raw", "other"]))
    data: object
    if encoding == "base64":
        data = base64.b64encode(raw).decode()
    elif encoding == "raw":
        data = raw.decode("utf-8", "replace")
    else:
        data = draw(json_values)
    message = {"data": data, "attributes": attributes, "messageId": draw(st.text(max_size=12))}
    if draw(st.booleans()):
        message["publishTime"] = draw(st.sampled_from(["2001-01-01T00:00:00Z", "soon", ""]))
    envelope: object = {"message": message, "subscription": "projects/p/subscriptions/s"}
    if kind == "envelope":
        envelope = draw(st.one_of(json_values, st.binary(max_size=50), st.just({"message": data})))
    return _delivery(kind, envelope, raw, document, attributes)


def _delivery(
    kind: str, envelope: object, raw: bytes, document: object, attributes: object
) -> Hostile:
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/hostile-proj/topics/t",
            "id": "e-1",
        },
        envelope,
    )
    body = raw.decode("utf-8", "replace")
    summary = f"<{kind} message: body {body[:300]!r}, attributes {str(attributes)[:200]}>"
    return Hostile(summary, event, tuple(_strings([document, attributes, body])))


def json_message(document: object) -> Hostile:
    """A well-formed delivery of one JSON document, for explicit examples."""
    raw = json.dumps(document).encode()
    message = {"data": base64.b64encode(raw).decode(), "attributes": {}, "messageId": "x-1"}
    return _delivery("json", {"message": message}, raw, document, {})


# -- Properties ---------------------------------------------------------------------


def _check_safe_name(name: str, grammar: re.Pattern[str]) -> None:
    """A name that may become a URL path: the grammar, and no way to change the URL's
    shape (segments, query, fragment, host)."""
    assert grammar.fullmatch(name), name
    segments = name.split("/")
    assert len(segments) == 6 and all(s not in ("", ".", "..") for s in segments), name
    url = urlsplit(f"https://endpoint.invalid/v1/{name}")
    assert (url.netloc, url.path, url.query, url.fragment) == (
        "endpoint.invalid",
        f"/v1/{name}",
        "",
        "",
    )


@examples(3000)
@given(text=any_names)
def test_operation_name_parser(text: object) -> None:
    try:
        parsed = parse_operation_name(text)
    except InvalidName:
        parsed = None
    stripped = text.strip(" \t\r\n") if isinstance(text, str) else None
    is_url = stripped is not None and stripped.startswith(("https://", "http://"))
    if stripped is not None and not is_url:  # a bare name: accepted iff strictly valid
        valid = len(stripped) <= MAX_NAME_CHARS and STRICT_OPERATION.fullmatch(stripped)
        assert (parsed is not None) == bool(valid), (text, parsed)
    if parsed is None:
        return
    _check_safe_name(parsed.name, STRICT_OPERATION)
    assert parse_operation_name(parsed.name) == parsed  # re-serialises to itself
    assert stripped is not None and parsed.name in stripped  # nothing invented
    if is_url:  # only Google's hosts, the region's own, for the very same name
        url = STRICT_URL.fullmatch(stripped)
        assert url is not None, text
        assert url["name"] == parsed.name and url["host"] in (None, parsed.region), text


@examples(1000)
@given(text=any_names)
def test_batch_name_parser(text: object) -> None:
    try:
        parsed = parse_batch_name(text)
    except InvalidName:
        return
    _check_safe_name(parsed.name, STRICT_BATCH)
    assert parse_batch_name(parsed.name) == parsed
    assert isinstance(text, str) and parsed.name in text


def _dispatch(world: World, hostile: Hostile) -> tuple[Trigger, Handled]:
    world.adapter.urls.clear()
    trigger = decode_trigger(hostile.event)
    handled = handle_trigger(trigger, world.runtime.settings(), world.runtime.dataproc)
    assert handled.retry_reasons == []  # a healthy Dataproc: nothing is transient
    return trigger, handled


def test_hostile_messages_reach_only_valid_names_on_the_endpoint(world: World) -> None:
    """4,000 messages; then the emulator's own log is checked too, and the run must
    have reached every kind of call, or the properties above held vacuously."""
    reached: Counter[str] = Counter()
    world.emulator.state.clear_requests()

    @examples(4000)
    @given(hostile=pubsub_events())
    def one_message(hostile: Hostile) -> None:
        trigger, _ = _dispatch(world, hostile)
        _check_accepted_names(trigger, hostile)
        reached.update(_check_requests(world, trigger, hostile))

    one_message()
    logged = world.emulator.state.requests()
    for request in logged:  # what arrived, as the server saw it
        path = request["path"].removeprefix("/v1/")
        name = path.removesuffix("/operations").removesuffix(":cancel")
        assert any(g.fullmatch(name) for g in (STRICT_OPERATION, STRICT_BATCH, STRICT_SCOPE))
    print(f"\nhostile messages reached Dataproc with: {dict(reached)}")
    assert sum(reached.values()) == len(logged)
    assert min(reached[kind] for kind in ("get", "cancel", "batch", "list")) >= 10, reached


def _check_accepted_names(trigger: Trigger, hostile: Hostile) -> None:
    """Every name the decoder accepted is strictly valid and came from the message."""
    for parsed in trigger.operations:
        _check_safe_name(parsed.name, STRICT_OPERATION)
        assert any(parsed.name in text for text in hostile.texts), parsed
    for batch in trigger.batches:
        _check_safe_name(batch.name, STRICT_BATCH)
        if trigger.incident is None:
            assert any(batch.name in text for text in hostile.texts), batch
        else:  # an incident's batch is assembled from its labels
            assert {batch.project, batch.location, batch.batch_id} <= set(hostile.texts)


def _check_requests(world: World, trigger: Trigger, hostile: Hostile) -> Counter[str]:
    """Every request of this message went to the endpoint, for a name the message
    carried (or Dataproc answered with: a batch's operation, what a sweep of an allowed
    scope lists), in an allowed project. Returns the kinds of call made."""
    named = {n.name for n in trigger.operations} | {b.name for b in trigger.batches}
    answered = {RUNNING, DONE, BATCH_OPERATION}
    kinds: Counter[str] = Counter()
    for url in world.adapter.urls:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == world.emulator.base_url, url
        assert parts.username is None and parts.fragment == "", url
        path = parts.path.removeprefix("/v1/")
        if path.endswith("/operations"):  # a sweep's listing
            scope = path.removesuffix("/operations")
            assert STRICT_SCOPE.fullmatch(scope), url
            assert scope.split("/")[1] in ALLOWED, url
            assert scope == SWEEP_SCOPE or any(scope in text for text in hostile.texts), url
            kinds["list"] += 1
            continue
        name = path.removesuffix(":cancel")
        assert parts.query == "", url
        assert name in named | answered, url
        grammar = STRICT_BATCH if "/batches/" in name else STRICT_OPERATION
        _check_safe_name(name, grammar)
        assert name.split("/")[1] in ALLOWED, url
        kinds[
            "cancel" if path.endswith(":cancel") else "batch" if grammar is STRICT_BATCH else "get"
        ] += 1
    return kinds


@examples(2000)
@given(hostile=pubsub_events())
def test_hostile_message_results_are_publishable(world: World, hostile: Hostile) -> None:
    """Whatever came in, what goes out must be accepted by Pub/Sub and by the results
    topic's schema: a result Pub/Sub refuses makes the function ask for redelivery of
    the same message forever instead of answering it."""
    _check_publishable(world, hostile)


def test_incident_with_an_oversized_label_is_publishable(world: World) -> None:
    """Found by the property above (whether its generator meets it again depends on the
    constants Hypothesis finds in the loaded modules): an open incident on a resource
    the function cannot act on, whose project_id label is over 1024 bytes."""
    labels = {"project_id": "a" * 1025}
    incident = {"state": "open", "resource": {"type": "gce_instance", "labels": labels}}
    _check_publishable(world, json_message({"incident": incident}))


def _check_publishable(world: World, hostile: Hostile) -> None:
    _, handled = _dispatch(world, hostile)
    for result in handled.results:
        body = result.to_message()
        assert_valid_result(body)
        assert len(json.dumps(body).encode()) <= MESSAGE_BYTES
        attributes = result.attributes()
        assert len(attributes) <= ATTRIBUTES_PER_MESSAGE
        too_long = [
            f"attribute {key[:20]!r}: key {len(key.encode())} bytes, value {len(value.encode())}"
            for key, value in attributes.items()
            if len(key.encode()) > ATTRIBUTE_KEY_BYTES
            or len(value.encode()) > ATTRIBUTE_VALUE_BYTES
        ]
        assert not too_long, f"{result.outcome}: {too_long}: Pub/Sub refuses the message"
