"""The notifier (canceller/notify.py): the one chat message a trigger message's results
make, when they make one; the webhook URL it accepts; and its delivery to a real HTTP
receiver on loopback, where every failure is logged without the URL and none is raised.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from canceller import notify
from canceller.burn import Burn, Horizon, Saving, saved_up_to
from canceller.clock import utc_now
from canceller.kinds import KINDS
from canceller.names import ResourceName, parse_name
from canceller.notify import (
    MAX_NAMED,
    build_text,
    console_url,
    deliver,
    payload,
    should_notify,
)
from canceller.prices import shipped_table
from canceller.results import Outcome, Provenance, Result
from canceller.settings import load_settings
from canceller.trigger_info import TriggerInfo
from canceller.webhook import InvalidWebhook, Webhook, parse_webhook_url
from local_stack.chat_receiver import Receiver, chat_receiver
from local_stack.loopback_server import Answer, Received

P, R = "acme-data-prod", "us-central1"
JOB = f"projects/{P}/regions/{R}/jobs/etl-nightly-load"
CLUSTER = f"projects/{P}/regions/{R}/clusters/ml-training"
BATCH = f"projects/{P}/locations/{R}/batches/runaway-backfill"
SESSION = f"projects/{P}/locations/{R}/sessions/notebook-7"
OPERATION = f"projects/{P}/regions/{R}/operations/36d4de7a"

BUDGET = {
    "billingAccountId": "01D4EE-079462-DFD6EC",
    "budgetId": "de72f49d-779b-4945-a127-4d6ce8def0bb",
    "displayName": "dataproc-monthly",
    "costAmount": 1250.4,
    "budgetAmount": 1000.0,
    "currencyCode": "USD",
    "alertThresholdExceeded": 1.0,
}
CLUSTERS_RUNG = {"threshold": 1.2, "action": "clusters", "ratio": 1.2504}
INCIDENT = {
    "incidentId": "0.ncx7a1b2c3d4",
    "policyName": "dataproc-runtime-over-6h",
    "state": "open",
    "resourceType": "cloud_dataproc_batch",
}


def info(kind: str, message_id: str = "118", **kw: Any) -> TriggerInfo:
    chain = ("sweep-" if kind in ("sweep", "budget", "incident") else "names-") + message_id
    return TriggerInfo(message_id, "2026-12-03T13:36:29Z", "//test", kind=kind, chain=chain, **kw)


def result(
    outcome: Outcome,
    target: str,
    trigger: TriggerInfo,
    detail: str = "",
    extra: dict[str, Any] | None = None,
    **kw: Any,
) -> Result:
    kind = next(k for k in KINDS if f"/{KINDS[k].plural}/" in target)
    name = parse_name(kind, target)
    return Result(
        outcome,
        target,
        detail,
        trigger,
        utc_now(),
        kind=kind,
        name=name,
        provenance=Provenance(**(extra or {})),
        **kw,
    )


def summary(trigger: TriggerInfo, extra: dict[str, Any] | None = None, **sweep: Any) -> Result:
    fields = {"id": trigger.chain, "found": 0, "selected": 0, "exempt": 0, "acted": 0}
    fields |= {"remaining": 0, "handedOn": False, "listingComplete": True, "generation": 0}
    fields |= sweep
    return Result(
        Outcome.SWEEP_SUMMARY,
        "",
        "swept",
        trigger,
        utc_now(),
        provenance=Provenance(**{**(extra or {}), "sweep": fields}),
    )


def job_url(job: str) -> str:
    return f"https://console.cloud.google.com/dataproc/jobs/{job}?region={R}&project={P}"


# --- the message ---------------------------------------------------------------------


def test_a_budget_rung_message_says_the_budget_the_rung_what_stopped_and_what_failed() -> None:
    trigger = info("budget")
    extra = {"budget": BUDGET, "rung": CLUSTERS_RUNG, "sweep": {"id": "sweep-118"}}
    results = [
        result(Outcome.CANCELLED, JOB, trigger, "cancelled: the job is CANCELLED", extra),
        result(Outcome.CANCELLED, CLUSTER, trigger, "stopped: the cluster is STOPPED", extra),
        result(
            Outcome.ERROR,
            f"projects/{P}/regions/{R}/jobs/pyspark-long-bootstrap",
            trigger,
            "Dataproc answered 400 FAILED_PRECONDITION while cancelling; still SETUP_DONE",
            extra,
        ),
        result(Outcome.ALREADY_DONE, f"projects/{P}/regions/{R}/jobs/done-1", trigger, "", extra),
        summary(trigger, extra, found=5, selected=4, acted=4, exempt=1),
    ]
    text = build_text(results)
    assert text is not None
    lines = text.splitlines()
    assert lines[0] == "*Dataproc canceller: stopped 2, 1 not stopped*"
    assert lines[1] == (
        "Trigger: budget “dataproc-monthly” at 125% (1,250.40 of 1,000.00 USD) reached its "
        "120% rung, clusters: stops running work, then clusters · sweep sweep-118 · message 118"
    )
    assert "*Stopped (2):*" in lines
    assert f"• job <{job_url('etl-nightly-load')}|etl-nightly-load> · {P} · {R}" in lines
    cluster_page = (
        "https://console.cloud.google.com/dataproc/clusters/ml-training/monitoring"
        f"?region={R}&project={P}"
    )
    assert f"• cluster <{cluster_page}|ml-training> · {P} · {R}" in lines
    assert "*Needs a person (1):*" in lines
    assert (
        f"• job <{job_url('pyspark-long-bootstrap')}|pyspark-long-bootstrap> · {P} · {R}: "
        "ERROR, Dataproc answered 400 FAILED_PRECONDITION while cancelling; still SETUP_DONE"
    ) in lines
    assert any(line.startswith("`ERROR`: not stopped:") for line in lines)
    assert any(line.startswith("By hand: gcloud dataproc jobs kill") for line in lines)
    assert "Sweep sweep-118: found 5, selected 4, acted on 4; 1 exempt, left alone." in lines
    assert "Outcomes: 2 CANCELLED, 1 ALREADY_DONE, 1 ERROR." in lines
    assert lines[-1] == (
        "_Every result is on the results topic: trigger.chain sweep-118, trigger message 118._"
    )
    assert "Burn" not in text  # no totals handed in: no money said


def test_a_report_rung_is_told_even_as_a_dry_run_and_with_nothing_found() -> None:
    trigger = info("budget", "3")
    rung = {"threshold": 0.4, "action": "report", "ratio": 0.42015}
    budget = {**BUDGET, "costAmount": 420.15, "alertThresholdExceeded": 0.4}
    extra = {"budget": budget, "rung": rung, "sweep": {"id": "sweep-3"}}
    would = result(Outcome.DRY_RUN, CLUSTER, trigger, "dry run", extra, dry_run=True)
    text = build_text([would, summary(trigger, extra, found=1, selected=1, acted=1)])
    assert text is not None
    assert text.startswith("*Dataproc canceller: 1 would be stopped (dry run)*\n")
    assert "reached its 40% rung, report: a dry run" in text
    assert "_dry run: nothing was stopped_" in text
    assert "*Would be stopped (dry run) (1):*" in text
    # The rung alone is news: a budget past a threshold, even with nothing running.
    empty = build_text([summary(trigger, extra)])
    assert empty is not None and empty.startswith("*Dataproc canceller: nothing running to stop*")


def test_an_incident_message_names_the_incident_and_its_policy() -> None:
    trigger = info("incident", "5")
    extra = {"incident": INCIDENT}
    text = build_text([result(Outcome.CANCELLED, BATCH, trigger, "cancelled", extra)])
    assert text is not None
    assert text.splitlines()[1] == (
        "Trigger: alert incident 0.ncx7a1b2c3d4 of policy “dataproc-runtime-over-6h” (open, on "
        "cloud_dataproc_batch) · message 5"
    )
    batch_page = (
        f"https://console.cloud.google.com/dataproc/batches/{R}/runaway-backfill/monitoring"
        f"?project={P}"
    )
    assert f"• batch <{batch_page}|runaway-backfill> · {P} · {R}" in text.splitlines()


def test_a_sweep_message_names_its_sweep_part_and_continuation() -> None:
    trigger = info("sweep", "157")
    extra = {"sweep": {"id": "sweep-142", "part": f"projects/{P}"}}
    results = [
        result(Outcome.CANCELLED, SESSION, trigger, "terminated", extra),
        summary(
            trigger,
            {},
            id="sweep-142",
            part=f"projects/{P}",
            generation=1,
            found=10,
            selected=8,
            acted=6,
            remaining=2,
            handedOn=True,
        ),
    ]
    text = build_text(results)
    assert text is not None
    lines = text.splitlines()
    assert lines[1] == f"Trigger: a sweep · sweep sweep-142, part projects/{P} · message 157"
    session_page = (
        f"https://console.cloud.google.com/dataproc/interactive/{R}/notebook-7?project={P}"
    )
    assert f"• session <{session_page}|notebook-7> · {P} · {R}" in lines
    assert (
        f"Sweep sweep-142 (part projects/{P}), continuation 1: found 10, selected 8, acted on "
        "6; the rest goes on in a continuation message, told separately."
    ) in lines


def test_a_named_request_says_its_reason_and_links_an_operation_to_its_batch() -> None:
    trigger = info("operation", "21", reason="stop the ad-hoc jobs", request_id="20261127")
    batch_op = result(
        Outcome.CANCELLED,
        OPERATION,
        trigger,
        "cancelled",
        state={"done": True, "batch": BATCH},
        operation=OPERATION,
    )
    lone_op = result(Outcome.STILL_RUNNING, f"projects/{P}/regions/{R}/operations/lone", trigger)
    text = build_text([batch_op, lone_op])
    assert text is not None
    lines = text.splitlines()
    assert lines[1] == (
        "Trigger: a request naming operations · reason “stop the ad-hoc jobs” · request "
        "20261127 · message 21"
    )
    batch_page = (
        f"https://console.cloud.google.com/dataproc/batches/{R}/runaway-backfill/monitoring"
        f"?project={P}"
    )
    assert f"• operation 36d4de7a (its batch <{batch_page}|runaway-backfill>) · {P} · {R}" in lines
    # No console page for a lone operation: named, not linked (and never a made-up link).
    assert any(line.startswith(f"• operation lone · {P} · {R}: STILL_RUNNING") for line in lines)
    assert lines[0] == "*Dataproc canceller: stopped 1, 1 still stopping*"


def test_long_lists_name_ten_and_count_the_rest() -> None:
    trigger = info("sweep", "30")
    stopped = [
        result(Outcome.CANCELLED, f"projects/{P}/regions/{R}/jobs/job-{n:02d}", trigger)
        for n in range(25)
    ]
    failed = [
        result(Outcome.PERMISSION_DENIED, f"projects/{P}/regions/{R}/jobs/denied-{n:02d}", trigger)
        for n in range(12)
    ]
    text = build_text([*stopped, *failed])
    assert text is not None
    lines = text.splitlines()
    assert MAX_NAMED == 10
    assert sum(line.startswith("• job <") and "job-" in line for line in lines) == 10
    assert sum(line.startswith("• job <") and "denied-" in line for line in lines) == 10
    assert "• and 15 more" in lines and "• and 2 more" in lines
    assert "job-09" in text and "job-10" not in text
    assert "Outcomes: 25 CANCELLED, 12 PERMISSION_DENIED." in lines
    assert any(line.startswith("`PERMISSION_DENIED`: not stopped:") for line in lines)


@pytest.mark.parametrize(
    "outcomes",
    [
        (Outcome.ALREADY_DONE,),
        (Outcome.NOT_FOUND, Outcome.ALREADY_DONE),
        (Outcome.REJECTED,),
        (Outcome.COMPLETED_DESPITE_CANCEL,),
        (Outcome.DRY_RUN,),  # a dry run asked for, outside a budget rung
    ],
)
def test_nothing_a_person_must_act_on_makes_no_message(outcomes: tuple[Outcome, ...]) -> None:
    trigger = info("jobs")
    results = [
        result(outcome, f"projects/{P}/regions/{R}/jobs/j-{n}", trigger)
        for n, outcome in enumerate(outcomes)
    ]
    assert not should_notify(results)
    assert build_text(results) is None


def test_an_empty_or_quiet_sweep_makes_no_message_but_work_left_unstopped_does() -> None:
    trigger = info("sweep", "31")
    assert build_text([]) is None
    assert build_text([summary(trigger, found=3)]) is None  # nothing selected, nothing to tell
    stranded = summary(trigger, found=9, selected=9, acted=4, remaining=5, handedOn=False)
    text = build_text([stranded])
    assert text is not None
    assert "some selected work neither stopped nor handed on" in text.splitlines()[0]
    assert "_Not all was stopped:_ swept" in text


def test_outside_text_can_mention_nobody_forge_no_link_and_break_no_line() -> None:
    trigger = info("budget", "66", reason="<!channel> look\nInjected: line <users/all>")
    hostile = {**BUDGET, "displayName": "<!here|x> ops"}
    extra = {"budget": hostile, "rung": CLUSTERS_RUNG}
    detail = "Dataproc said <https://evil.example/|click here> and @all"
    text = build_text([result(Outcome.ERROR, JOB, trigger, detail, extra)])
    assert text is not None
    for forbidden in ("<!channel>", "<!here", "<users/all>", "<https://evil", "\nInjected"):
        assert forbidden not in text
    left, right = "\u2039", "\u203a"  # single angle quotation marks, as notify puts them
    assert f"{left}!channel{right} look Injected: line {left}users/all{right}" in text
    assert f"{left}https://evil.example/|click here{right}" in text
    # Every < left is the start of one of our own console links.
    assert text.count("<") == text.count("<https://console.cloud.google.com/dataproc/")


def test_a_message_past_the_limit_is_clipped_at_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "MAX_TEXT_BYTES", 900)
    trigger = info("sweep", "40")
    results = [
        result(Outcome.ERROR, f"projects/{P}/regions/{R}/jobs/j-{n}", trigger, "é" * 300)
        for n in range(10)
    ]
    text = build_text(results)
    assert text is not None
    assert len(text.encode("utf-8")) <= 900
    assert text.endswith("\n… (clipped: the results topic has the rest)")
    assert text.startswith("*Dataproc canceller: 10 not stopped*\nTrigger: a sweep")


def test_money_is_the_stops_totals_and_never_made_up() -> None:
    trigger = info("incident", "5")
    unpriced = result(Outcome.CANCELLED, BATCH, trigger, "", {"incident": INCIDENT})
    assert "Burn" not in (build_text([unpriced]) or "")  # nothing priced is said as 0
    horizon = Horizon(3.2, "ttl", "the rest of its ttl")
    priced = result(Outcome.CANCELLED, BATCH, trigger, "", {"incident": INCIDENT})
    priced.burn = Burn(12.5, None, "us-central1 on-demand list prices (USD)")
    priced.saving = Saving(40.0, horizon)
    known = build_text([priced])
    assert known is not None
    assert (
        "Burn stopped: $12.50 an hour; saved up to $40.00. Upper-bound estimates at list price."
        in known.splitlines()
    )
    unpriced.burn = Burn(None, "the n2d family is not priced", "us-central1 on-demand")
    both = build_text([priced, unpriced])
    assert both is not None
    assert (
        "Burn stopped: $12.50 an hour; saved up to $40.00 (1 of 2 stops priced; 1 not priced, "
        "e.g. the n2d family is not priced). Upper-bound estimates at list price."
    ) in both.splitlines()
    dry = result(Outcome.DRY_RUN, BATCH, trigger, "", {"incident": INCIDENT})
    dry.burn = Burn(12.5, None, "us-central1")
    assert "Burn stopped" not in (build_text([dry]) or "")  # nothing stopped, no money said


def test_console_pages_of_every_kind() -> None:
    names = {kind: parse_name(kind, text) for kind, text in (
        ("job", JOB), ("cluster", CLUSTER), ("batch", BATCH), ("session", SESSION),
        ("operation", OPERATION),
    )}  # fmt: skip
    base = "https://console.cloud.google.com/dataproc"
    assert console_url(names["job"]) == f"{base}/jobs/etl-nightly-load?region={R}&project={P}"
    assert console_url(names["cluster"]) == (
        f"{base}/clusters/ml-training/monitoring?region={R}&project={P}"
    )
    assert (
        console_url(names["batch"]) == f"{base}/batches/{R}/runaway-backfill/monitoring?project={P}"
    )
    assert console_url(names["session"]) == f"{base}/interactive/{R}/notebook-7?project={P}"
    assert console_url(names["operation"]) is None
    scoped = ResourceName("job", "example.com:acme-data", R, "j1")
    assert console_url(scoped) == f"{base}/jobs/j1?region={R}&project=example.com:acme-data"


def test_the_payload_is_the_text_both_services_document() -> None:
    assert payload("hello") == {"text": "hello"}


# --- NOTIFY_WEBHOOK_URL ---------------------------------------------------------------

CHAT_URL = (
    "https://chat.googleapis.com/v1/spaces/AAAAabcd123/messages?key=AIzaSyKEY-x_1&token=TOK%3D"
)
SLACK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


@pytest.mark.parametrize(
    ("value", "service"),
    [
        (CHAT_URL, "Google Chat"),
        (CHAT_URL + "&threadKey=dataproc", "Google Chat"),
        (CHAT_URL.replace(".com/", ".com:443/"), "Google Chat"),
        (SLACK_URL, "Slack"),
        (SLACK_URL + "\n", "Slack"),  # a secret file's last newline
        ("http://127.0.0.1:8099/services/T/B/secret", "loopback"),
        ("http://localhost:8099", "loopback"),
        ("http://[::1]:8099/hook?token=x", "loopback"),
    ],
)
def test_the_documented_webhooks_and_a_loopback_receiver_are_accepted(
    value: str, service: str
) -> None:
    webhook = parse_webhook_url(value)
    assert webhook is not None
    assert (webhook.service, webhook.url) == (service, value.strip())


def notify_webhook(env: dict[str, str]) -> Webhook | None:
    base = {"RESULTS_TOPIC": "projects/ops/topics/results", "GOOGLE_CLOUD_PROJECT": "ops"}
    return load_settings({**base, **env}).notify_webhook


def test_unset_means_nobody_is_told() -> None:
    assert notify_webhook({}) is None
    assert notify_webhook({"NOTIFY_WEBHOOK_URL": "  "}) is None
    webhook = notify_webhook({"NOTIFY_WEBHOOK_URL": SLACK_URL})
    assert webhook is not None and webhook.service == "Slack"


def test_a_bad_webhook_is_not_a_settings_error_and_is_never_shown() -> None:
    """A kill switch must not stop stopping because its chat is misconfigured: the
    setting is refused on its own, with why, and never echoed."""
    bad = SLACK_URL.replace("https://hooks.slack.com", "https://evil.example")
    base = {"RESULTS_TOPIC": "projects/ops/topics/results", "GOOGLE_CLOUD_PROJECT": "ops"}
    settings = load_settings({**base, "NOTIFY_WEBHOOK_URL": bad})
    assert settings.notify_webhook is None
    assert settings.notify_webhook_problem.startswith("NOTIFY_WEBHOOK_URL is not accepted")
    assert bad not in settings.notify_webhook_problem
    assert "T000" not in settings.notify_webhook_problem


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (CHAT_URL.replace("https://", "http://"), "plain http is only for this machine's loopback"),
        ("http://10.0.0.7:8080/services/T/B/SECRETPART", "plain http is only for"),
        ("http://169.254.169.254:80/SECRETPART", "plain http is only for"),
        ("https://evil.example.com/services/T0/B0/SECRETPART", "its host is neither"),
        ("https://hooks.slack.com.evil.example/services/T0/B0/SECRETPART", "its host is neither"),
        ("https://user:SECRETPART@hooks.slack.com/services/T0/B0/X0", "it has a user part"),
        ("https://hooks.slack.com@evil.example/services/T0/B0/SECRETPART", "it has a user part"),
        ("https://hooks.slack.com:8443/services/T0/B0/SECRETPART", "a port other than 443"),
        ("https://hooks.slack.com/services/T0/B0/SECRETPART#frag", "it has a fragment"),
        ("https://hooks.slack.com/triggers/T0/SECRETPART", "its path or query"),
        ("HTTPS://HOOKS.SLACK.COM/services/T0/B0/SECRETPART", "its path or query"),
        ("https://chat.googleapis.com/v1/spaces/S/messages?key=SECRETPART", "its path or query"),
        (
            "https://chat.googleapis.com/v1/spaces/S/messages?key=K&token=SECRETPART&x=1",
            "its path or query",
        ),
        ("https://hooks.slack.com/services/T0/B0/SECRET PART", "spaces, control characters"),
        ("ftp://hooks.slack.com/services/T0/B0/SECRETPART", "it is not https"),
        ("hooks.slack.com/services/T0/B0/SECRETPART", "it is not https"),
    ],
)
def test_anything_else_is_refused_without_echoing_the_secret(value: str, why: str) -> None:
    with pytest.raises(InvalidWebhook) as refused:
        parse_webhook_url(value)
    message = str(refused.value)
    assert message.startswith("NOTIFY_WEBHOOK_URL is not accepted (")
    assert why in message
    assert "SECRET" not in message and "evil" not in message


def test_a_webhook_shows_its_service_never_its_url() -> None:
    webhook = parse_webhook_url(SLACK_URL)
    assert webhook is not None
    assert "XXXXXXXX" not in repr(webhook) and "XXXXXXXX" not in str(webhook)
    assert repr(webhook) == "Webhook(service='Slack')"


# --- delivery, to a real receiver on loopback ----------------------------------------

SECRET = "s3cr3tT0kenValue"


def receiver(answer: Answer) -> Any:
    return chat_receiver(answer)


def url_of(handle: Receiver, path: str = f"/services/T0/B0/{SECRET}?token={SECRET}x") -> str:
    return handle.url(path)


def webhook_of(url: str) -> Webhook:
    webhook = parse_webhook_url(url)
    assert webhook is not None
    return webhook


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def ok(_: Received) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/plain"}, b"ok"


def test_a_notification_reaches_the_receiver_as_documented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """How main.py will call it: after publishing, ``notify(handled.results, webhook)``."""
    trigger = info("incident", "5")
    results = [result(Outcome.CANCELLED, BATCH, trigger, "cancelled", {"incident": INCIDENT})]
    with receiver(ok) as hook:
        delivery = notify.notify(results, webhook_of(url_of(hook)))
    assert delivery is not None and (delivery.sent, delivery.status) == (True, 200)
    (got,) = hook.requests
    assert (got.method, got.path) == ("POST", f"/services/T0/B0/{SECRET}?token={SECRET}x")
    assert got.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert json.loads(got.body.decode("utf-8")) == {"text": build_text(results)}
    (line,) = log_lines(capsys)
    assert (line["severity"], line["notification"], line["notifyService"]) == (
        "INFO",
        "SENT",
        "loopback",
    )
    assert (line["messageId"], line["httpStatus"]) == ("5", 200)
    assert SECRET not in json.dumps(line)


def test_nothing_to_tell_or_nowhere_to_tell_it_posts_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    trigger = info("jobs", "9")
    quiet = [result(Outcome.ALREADY_DONE, JOB, trigger)]
    loud = [result(Outcome.CANCELLED, JOB, trigger)]
    with receiver(ok) as hook:
        assert notify.notify(quiet, webhook_of(url_of(hook))) is None
        assert notify.notify([], webhook_of(url_of(hook))) is None
        assert notify.notify(loud, None) is None
    assert hook.requests == []
    assert log_lines(capsys) == []


@pytest.mark.parametrize("status", [500, 429, 403, 404])
def test_a_refusal_is_logged_without_the_url_and_not_retried(
    status: int, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(got: Received) -> tuple[int, dict[str, str], bytes]:
        # A service echoing the request back: the log must still not show the secret.
        return status, {"Content-Type": "text/plain"}, f"no_service for {got.path}".encode()

    caplog.set_level("WARNING")
    with receiver(refuse) as hook:
        delivery = deliver("hello", webhook_of(url_of(hook)), message_id="m-1")
    assert len(hook.requests) == 1  # no retry
    assert (delivery.sent, delivery.status) == (False, status)
    assert delivery.failure.startswith(f"HTTP {status}: no_service for /")
    (line,) = log_lines(capsys)
    assert (line["severity"], line["notification"], line["httpStatus"]) == (
        "WARNING",
        "FAILED",
        status,
    )
    assert line["message"].endswith("; not retried")
    for text in (delivery.failure, json.dumps(line), caplog.text):
        assert SECRET not in text and "s3cr" not in text


def test_a_redirect_is_not_followed(capsys: pytest.CaptureFixture[str]) -> None:
    with receiver(ok) as elsewhere:

        def redirect(_: Received) -> tuple[int, dict[str, str], bytes]:
            return 307, {"Location": elsewhere.url("/stolen")}, b""

        with receiver(redirect) as hook:
            delivery = deliver("hello", webhook_of(url_of(hook)))
    assert (delivery.sent, delivery.status) == (False, 307)
    assert elsewhere.requests == []
    assert log_lines(capsys)[0]["notification"] == "FAILED"


def test_a_receiver_that_does_not_answer_in_time_is_given_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(notify, "READ_TIMEOUT_SECONDS", 0.3)

    def slow(_: Received) -> tuple[int, dict[str, str], bytes]:
        time.sleep(2.0)
        return 200, {}, b"ok"

    with receiver(slow) as hook:
        started = time.monotonic()
        delivery = deliver("hello", webhook_of(url_of(hook)))
        took = time.monotonic() - started
    assert took < 1.5
    assert not delivery.sent and delivery.status is None
    assert delivery.failure.startswith("no answer within")
    (line,) = log_lines(capsys)
    assert line["notification"] == "FAILED" and "httpStatus" not in line
    assert SECRET not in json.dumps(line)


def test_a_refused_connection_is_logged_without_the_url(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level("WARNING")
    delivery = deliver("hello", webhook_of(f"http://127.0.0.1:{port}/services/T0/B0/{SECRET}"))
    assert not delivery.sent
    assert delivery.failure == "could not connect (ConnectionError)"
    (line,) = log_lines(capsys)
    assert line["notification"] == "FAILED"
    for text in (json.dumps(line), caplog.text):
        assert SECRET not in text


def test_a_defect_in_building_the_message_is_logged_and_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object, **__: object) -> str:
        raise KeyError(SECRET)

    monkeypatch.setattr(notify, "build_text", broken)
    trigger = info("jobs", "12")
    with receiver(ok) as hook:
        delivery = notify.notify(
            [result(Outcome.CANCELLED, JOB, trigger)], webhook_of(url_of(hook))
        )
    assert delivery is not None and not delivery.sent
    assert delivery.failure == "internal error KeyError"
    assert hook.requests == []
    (line,) = log_lines(capsys)
    assert (line["severity"], line["notification"]) == ("ERROR", "FAILED")
    assert SECRET not in json.dumps(line)


# --- docs/chat.md's example ------------------------------------------------------------


def docs_example() -> str:
    """The message docs/chat.md shows, rendered as chat shows it (bold, italics, links by
    their labels), in Markdown: built here, so the page cannot drift from what is sent."""
    trigger = info("budget")
    extra = {"budget": BUDGET, "rung": CLUSTERS_RUNG, "sweep": {"id": "sweep-118"}}
    stopped_job = result(Outcome.CANCELLED, JOB, trigger, "cancelled: the job is CANCELLED", extra)
    session = result(Outcome.CANCELLED, SESSION, trigger, "terminated", extra)
    cluster = result(Outcome.CANCELLED, CLUSTER, trigger, "stopped: the cluster is STOPPED", extra)
    # What the engine gives them (canceller/pricing.py): a cluster of an n2-standard-4
    # master and 2 workers with nothing scheduled, the rest of the budget's month ahead; a
    # session at the documented minimum, 20.5 h of its 24 h ttl left; a job, its cluster's.
    table = shipped_table()
    groups = {"numInstances": 1, "machineTypeUri": "n2-standard-4"}
    config = {"masterConfig": groups, "workerConfig": {**groups, "numInstances": 2}}
    cluster.burn = KINDS["cluster"].burn({"config": config}, table)
    assert cluster.burn is not None and cluster.burn.usd_per_hour is not None
    month = Horizon(27.5 * 24, "budgetPeriod", "the rest of the budget period")
    cluster.saving = saved_up_to(cluster.burn.usd_per_hour, month)
    session.burn = Burn(12 * table.dcu_premium_hour.usd, None, table.label)
    session.saving = saved_up_to(session.burn.usd_per_hour, Horizon(20.5, "ttl", "its ttl"))
    stopped_job.burn = KINDS["job"].referenced_burn(cluster.burn, "")
    results = [
        stopped_job,
        session,
        cluster,
        result(
            Outcome.ERROR,
            f"projects/{P}/regions/{R}/jobs/pyspark-long-bootstrap",
            trigger,
            "Dataproc answered 400 FAILED_PRECONDITION while cancelling, refused for the whole "
            "verification window (6.0 s); the job is still SETUP_DONE",
            extra,
        ),
        result(
            Outcome.STILL_RUNNING,
            f"projects/{P}/regions/{R}/clusters/burst-etl",
            trigger,
            "the stop was accepted but the cluster was not done after 6.0 s of watching "
            "(15 checks; it is STOPPING); it may still stop",
            extra,
        ),
        result(Outcome.ALREADY_DONE, f"projects/{P}/regions/{R}/jobs/nightly-report", trigger),
        summary(trigger, extra, id="sweep-118", found=7, selected=6, acted=6, exempt=1),
    ]
    text = build_text(results)
    assert text is not None
    markdown = re.sub(r"<(https://[^|>]+)\|([^>]+)>", r"[\2](\1)", text)
    markdown = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"**\1**", markdown)
    markdown = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"*\1*", markdown)
    return "\n".join(f"> {line}\\" for line in markdown.splitlines()).rstrip("\\")


def test_the_docs_show_the_message_as_it_is_sent() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "chat.md").read_text(encoding="utf-8")
    assert docs_example() in page
