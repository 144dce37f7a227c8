"""Structured log lines: the trace field that groups one request's lines in Logs Explorer,
and what a result line carries."""

from __future__ import annotations

import io
import json

import pytest

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


def test_a_sweep_summary_line_carries_the_counts_the_dashboard_charts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from canceller.clock import utc_now
    from canceller.logs import log_result
    from canceller.results import Outcome, Provenance, Result
    from canceller.trigger_info import TriggerInfo

    trace_request(None, None, None)
    info = TriggerInfo("m-7", "2026-12-01T00:00:00Z", "//test", kind="sweep")
    summary = {"id": "sweep-m-7", "found": 40, "selected": 12, "acted": 10, "remaining": 2}
    log_result(
        Result(
            Outcome.SWEEP_SUMMARY, "", "d", info, utc_now(), provenance=Provenance(sweep=summary)
        )
    )
    log_result(Result(Outcome.REJECTED, "x", "d", info, utc_now()))
    summary_line, rejected_line = (
        json.loads(line) for line in capsys.readouterr().out.splitlines()
    )
    assert (
        summary_line["sweepFound"],
        summary_line["sweepSelected"],
        summary_line["sweepActed"],
    ) == (
        40,
        12,
        10,
    )
    assert "sweepFound" not in rejected_line


def test_a_fan_out_summary_line_carries_no_counts_and_does_not_fail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A fan-out's own summary has no listing counts (its children's summaries do): its
    log line, written after the results are published, must not raise (that would ask for
    a redelivery of a message whose results and children are already out)."""
    from canceller.clock import utc_now
    from canceller.logs import log_result
    from canceller.results import Outcome, Provenance, Result
    from canceller.trigger_info import TriggerInfo

    trace_request(None, None, None)
    info = TriggerInfo("m-8", "2026-12-01T00:00:00Z", "//test", kind="budget")
    summary = {"id": "sweep-m-8", "fanOut": {"children": 3}}
    log_result(
        Result(
            Outcome.SWEEP_SUMMARY, "", "d", info, utc_now(), provenance=Provenance(sweep=summary)
        )
    )
    (line,) = (json.loads(text) for text in capsys.readouterr().out.splitlines())
    assert line["outcome"] == "SWEEP_SUMMARY" and "sweepFound" not in line
