"""Structured log lines: the trace field that groups one request's lines in Logs Explorer,
and what a result line carries."""

from __future__ import annotations

import io
import json

from canceller.logs import log, trace_request

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def line_after(traceparent: str | None, cloud: str | None, project: str | None) -> dict[str, str]:
    trace_request(traceparent, cloud, project)
    stream = io.StringIO()
    log("INFO", "hello", stream=stream, messageId="m-1")
    return json.loads(stream.getvalue())


def test_w3c_traceparent_becomes_cloud_loggings_trace_and_span() -> None:
    record = line_after(f"00-{TRACE}-00f067aa0ba902b7-01", None, "my-project")
    assert record["logging.googleapis.com/trace"] == f"projects/my-project/traces/{TRACE}"
    assert record["logging.googleapis.com/spanId"] == "00f067aa0ba902b7"
    assert (record["message"], record["messageId"]) == ("hello", "m-1")


def test_cloud_trace_context_header_and_its_decimal_span() -> None:
    record = line_after(None, f"{TRACE}/17;o=1", "my-project")
    assert record["logging.googleapis.com/trace"] == f"projects/my-project/traces/{TRACE}"
    assert record["logging.googleapis.com/spanId"] == "0000000000000011"
    assert "logging.googleapis.com/spanId" not in line_after(None, TRACE, "my-project")


def test_malformed_or_missing_headers_add_nothing() -> None:
    for parent, cloud in (
        (None, None),
        ("00-short-00f067aa0ba902b7-01", None),
        (None, 'x"}{injected'),
        (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),
    ):
        record = line_after(parent, cloud, "my-project")
        assert not any(key.startswith("logging.googleapis.com/") for key in record), parent
    assert "logging.googleapis.com/trace" not in line_after(
        f"00-{TRACE}-00f067aa0ba902b7-01", None, None
    )
