"""Tell the people: one chat message for each trigger message that stopped something,
failed to, or acted on a budget rung. main.py calls ``notify`` once the results are
confirmed published; the money line totals the stops' ``burn`` and ``savedUpTo``
(canceller/pricing.py).

Why: a result on the results topic tells a FinOps query what happened, but nobody is
told unless they look. An engineer whose job was stopped at 2 a.m. should read, where
the team already talks, what stopped it and why, with a link to what was stopped, and
what still needs a person.

When a message is sent is decided on the results of one trigger message alone
(``should_notify``):

- a result ``CANCELLED``: something was stopped;
- a result ``STILL_RUNNING``, ``ERROR``, ``PERMISSION_DENIED`` or ``UNIMPLEMENTED``: a
  stop failed or is not confirmed, and a person may have to finish it;
- a sweep's summary saying selected work was neither stopped nor handed on;
- a result carrying a budget ``rung``: the budget notification itself reached a rung of
  BUDGET_LADDER, so a report rung (a dry run) and a rung that found nothing running are
  told too: a budget past a threshold is news. Only the notification's own results carry
  the rung; its fan-out children and continuations are told by the rules above.

Nothing else is told: ``ALREADY_DONE``, ``NOT_FOUND``, ``COMPLETED_DESPITE_CANCEL``,
``DRY_RUN`` outside a rung, ``REJECTED`` and summaries alone need nobody. ``REJECTED`` is
what malformed or refused input gets, so whoever can publish to the trigger topic cannot
post into the team's chat with it. One message per trigger message, never per target:
at most ``MAX_NAMED`` targets are named in each list, the rest counted. Pub/Sub delivers
at least once, so a redelivered trigger message may be told twice.

The payload is ``{"text": ...}``, which Google Chat's and Slack's incoming webhooks both
document (Chat: https://developers.google.com/workspace/chat/quickstart/webhooks, a POST
of ``{"text": ...}`` with ``Content-Type: application/json; charset=UTF-8``; Slack:
https://api.slack.com/messaging/webhooks). Only their common formatting is used:
``*bold*``, ``_italic_``, ```code``` and ``<URL|label>`` links
(https://developers.google.com/workspace/chat/format-messages;
https://docs.slack.dev/messaging/formatting-message-text/). Chat's ``cardsV2`` is not
used: one payload then suits both services, and nothing only one of them knows rides
along. Slack parses ``&``, ``<`` and ``>`` as control characters (same page), Chat
``<users/all>`` as a mention: text from outside (a budget's name, a request's reason, a
policy name, Dataproc's error messages) has ``<`` and ``>`` replaced, so it cannot
mention ``<!channel>`` or ``<users/all>`` or forge a link (an ``&`` alone opens nothing).

Limits: a Chat message is at most 32,000 bytes
(https://developers.google.com/chat/reference/rest/v1/spaces.messages/create);
Slack truncates ``text`` past 40,000 characters
(https://api.slack.com/changelog/2018-04-truncating-really-long-messages). Lists are
summarised, so a message is a few thousand characters; ``MAX_TEXT_BYTES`` clips what is
left at a line. Chat allows 60 writes a minute per space, incoming webhooks included
(https://developers.google.com/workspace/chat/limits), Slack about one message a second
(https://api.slack.com/docs/rate-limits): one message per trigger message keeps well
inside both; past them the service answers 429, counted as a failure.

Delivery is best effort and never harmful (``deliver``): one POST with a short timeout,
no redirect followed, no retry; a failure is one log line (``notification: FAILED``, for
a log-based metric to count) and a ``Delivery`` returned, never an exception, so it can
neither redeliver the trigger message nor hold its results back. The webhook URL carries
its secret (Chat's ``key`` and ``token``, Slack's path), so it is never logged, echoed in
an error or shown by ``repr``; the service's name stands for it.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests
from requests.utils import get_environ_proxies

from canceller.burn import Money
from canceller.kinds import KINDS
from canceller.logs import log
from canceller.names import InvalidName, ResourceName, parse_name
from canceller.pricing import money
from canceller.results import Outcome, Result
from canceller.webhook import (
    CONNECT_TIMEOUT_SECONDS,
    NOTIFY_SECONDS,
    READ_TIMEOUT_SECONDS,
    Webhook,
)

MAX_NAMED = 10  # targets named in each list; the rest are counted ("and N more")
MAX_TEXT_BYTES = 16_000  # under Chat's 32,000 bytes and Slack's 40,000 characters
_MAX_BODY_BYTES = 1024  # of a failed answer, read for the log line (redacted, clipped)
_DETAIL_CHARS = 200
# POSTs given up and still running (deliver), shared by the instance's threads.
_ABANDONED: list[threading.Thread] = []
_ABANDONED_LOCK = threading.Lock()
# < and > in outside text become single angle quotation marks (U+2039, U+203A): they read
# the same, and neither service takes them for the start or end of a mention or a link.
_NO_MARKUP = str.maketrans({"<": "\u2039", ">": "\u203a"})
_NAME_CHARS = 100

STOPPED = (Outcome.CANCELLED,)
# A stop that failed or is not confirmed: a person may have to finish it.
NEEDS_A_PERSON = (
    Outcome.STILL_RUNNING,
    Outcome.ERROR,
    Outcome.PERMISSION_DENIED,
    Outcome.UNIMPLEMENTED,
)
_WHAT_TO_DO = {
    Outcome.STILL_RUNNING: (
        "the stop was accepted but had not taken effect when last read; it may still stop. "
        "Check it in the console and, if it still runs, stop it by hand"
    ),
    Outcome.ERROR: (
        "not stopped: Dataproc refused the stop, the trigger was too old to act on, or the "
        "function failed (the detail says which). Check it and stop it by hand if it still runs"
    ),
    Outcome.PERMISSION_DENIED: (
        "not stopped: the function's service account may not stop it. Grant it the "
        "function's role in that project (deploy.sh) or stop it by hand"
    ),
    Outcome.UNIMPLEMENTED: (
        "not stopped: Dataproc says it cannot be cancelled. Stop it by hand (a cluster: delete it)"
    ),
}
_BY_HAND = (
    "By hand: gcloud dataproc jobs kill, batches cancel, sessions terminate, clusters stop "
    "or operations cancel, with --region (sessions: --location) and --project"
)
_RUNG_WORDS = {
    "report": "a dry run: nothing is stopped, the rungs above would stop what is listed",
    "work": "stops running work",
    "clusters": "stops running work, then clusters",
}

# Console pages (https://console.cloud.google.com/dataproc/...), as public code that
# links to them spells them: jobs, clusters and batches as Apache Airflow's Google
# provider does (providers/google/src/airflow/providers/google/cloud/links/dataproc.py:
# DATAPROC_JOB_LINK, DATAPROC_CLUSTER_LINK, DATAPROC_BATCH_LINK), interactive sessions as
# Google's own Dataproc Spark Connect client prints them
# (GoogleCloudDataproc/dataproc-spark-connect-python,
# google/cloud/dataproc_spark_connect/session.py). No page for one operation was found:
# an operation links to its batch, or to its cluster, when it names one.
CONSOLE = "https://console.cloud.google.com"
_CONSOLE_PAGES = {
    "job": "/dataproc/jobs/{id}?region={region}&project={project}",
    "cluster": "/dataproc/clusters/{id}/monitoring?region={region}&project={project}",
    "batch": "/dataproc/batches/{region}/{id}/monitoring?project={project}",
    "session": "/dataproc/interactive/{region}/{id}?project={project}",
}


def console_url(name: ResourceName) -> str | None:
    """The Google Cloud console's page for one piece of work; None for an operation,
    which has no page of its own."""
    page = _CONSOLE_PAGES.get(name.kind)
    if page is None:
        return None
    return CONSOLE + page.format(
        id=quote(name.resource_id, safe=""),
        region=quote(name.location, safe=""),
        project=quote(name.project, safe=":"),  # a domain-scoped project keeps its colon
    )


# --- the money, from canceller/burn.py ------------------------------------------------


def _money_line(totals: Money) -> str:
    """The stops' burn and savedUpTo, totalled over those that could be priced."""
    if not totals.priced:
        why = _plain(totals.unknown, _DETAIL_CHARS)
        return f"Burn stopped: not known ({why}). Upper-bound estimates at list price"
    line = (
        f"Burn stopped: ${totals.burn_usd_per_hour:,.2f} an hour; saved up to "
        f"${totals.saved_up_to_usd:,.2f}"
    )
    if totals.priced < totals.stopped:
        line += (
            f" ({totals.priced} of {totals.stopped} stops priced; "
            f"{_plain(totals.unknown, _DETAIL_CHARS)})"
        )
    return line + ". Upper-bound estimates at list price"


# --- when, and what -----------------------------------------------------------------


def should_notify(results: Sequence[Result]) -> bool:
    """Whether one trigger message's results are worth a person's attention (the rules
    are in the module's docstring)."""
    return any(
        result.outcome in STOPPED
        or result.outcome in NEEDS_A_PERSON
        or result.provenance.rung is not None
        or _left_unstopped(result)
        for result in results
    )


def build_text(results: Sequence[Result]) -> str | None:
    """The message for one trigger message's results, or None when there is nothing a
    person needs (``should_notify``)."""
    if not results or not should_notify(results):
        return None
    work = [r for r in results if r.outcome is not Outcome.SWEEP_SUMMARY]
    stopped = [r for r in work if r.outcome in STOPPED]
    failed = [r for r in work if r.outcome in NEEDS_A_PERSON]
    would = [r for r in work if r.outcome is Outcome.DRY_RUN]
    summaries = [r for r in results if r.outcome is Outcome.SWEEP_SUMMARY]
    unfinished = [r for r in summaries if _left_unstopped(r)]

    children = sum(_int(_fan_out(r).get("children")) for r in summaries)
    lines = [_headline(stopped, failed, would, unfinished, children), _trigger_line(results)]
    if stopped:
        lines += _named("Stopped", stopped, with_detail=False)
    if failed:
        lines += _named("Needs a person", failed, with_detail=True)
        lines += [
            f"`{outcome.value}`: {_WHAT_TO_DO[outcome]}."
            for outcome in NEEDS_A_PERSON
            if any(r.outcome is outcome for r in failed)
        ]
        lines.append(_BY_HAND + ".")
    if would:
        lines += _named("Would be stopped (dry run)", would, with_detail=False)
    lines += [_summary_line(summary) for summary in summaries]
    counts = Counter(r.outcome for r in work)
    if counts:
        shown = ", ".join(f"{counts[o]} {o.value}" for o in Outcome if counts[o])
        lines.append(f"Outcomes: {shown}.")
    if (totals := money(results)) is not None:
        lines.append(_money_line(totals) + ".")
    lines.append(_where_the_rest_is(results))
    return _clip("\n".join(lines))


def payload(text: str) -> dict[str, Any]:
    """The body both services' incoming webhooks document: ``{"text": ...}``."""
    return {"text": text}


def _headline(
    stopped: list[Result],
    failed: list[Result],
    would: list[Result],
    unfinished: list[Result],
    children: int,
) -> str:
    parts = []
    if stopped:
        parts.append(f"stopped {len(stopped)}")
    not_stopped = sum(r.outcome is not Outcome.STILL_RUNNING for r in failed)
    if not_stopped:
        parts.append(f"{not_stopped} not stopped")
    if still := sum(r.outcome is Outcome.STILL_RUNNING for r in failed):
        parts.append(f"{still} still stopping")
    if would:
        parts.append(f"{len(would)} would be stopped (dry run)")
    if unfinished:
        parts.append("some selected work neither stopped nor handed on")
    if children:
        parts.append(f"handed to {children} project sweep(s), each told separately")
    if not parts:
        parts.append("nothing running to stop")
    return f"*Dataproc canceller: {', '.join(parts)}*"


def _trigger_line(results: Sequence[Result]) -> str:
    info = results[0].trigger
    budget = _first(r.provenance.budget for r in results)
    rung = _first(r.provenance.rung for r in results)
    incident = _first(r.provenance.incident for r in results)
    sweep = _first(r.provenance.sweep for r in results)
    parts = []
    if budget is not None:
        parts.append(_budget_words(budget, rung))
    elif incident is not None:
        parts.append(
            f"alert incident {_plain(incident.get('incidentId'), _NAME_CHARS)} of policy "
            f"“{_plain(incident.get('policyName'), _NAME_CHARS)}” "
            f"({_plain(incident.get('state'), 20)}, on "
            f"{_plain(incident.get('resourceType'), _NAME_CHARS)})"
        )
    elif info.kind == "sweep":
        parts.append("a sweep")
    elif info.kind in KINDS:
        parts.append(f"a request naming {KINDS[info.kind].plural}")
    else:
        parts.append("a request")
    if sweep is not None and sweep.get("id"):
        part = f", part {_plain(sweep['part'], _NAME_CHARS)}" if sweep.get("part") else ""
        parts.append(f"sweep {_plain(sweep['id'], _NAME_CHARS)}{part}")
    if info.reason:
        parts.append(f"reason “{_plain(info.reason, _DETAIL_CHARS)}”")
    if info.request_id:
        parts.append(f"request {_plain(info.request_id, _NAME_CHARS)}")
    parts.append(f"message {_plain(info.message_id, _NAME_CHARS)}")
    if any(r.dry_run for r in results):
        parts.append("_dry run: nothing was stopped_")
    return "Trigger: " + " · ".join(parts)


def _budget_words(budget: Mapping[str, Any], rung: Mapping[str, Any] | None) -> str:
    name = _plain(budget.get("displayName") or budget.get("budgetId"), _NAME_CHARS)
    cost, amount = _number(budget.get("costAmount")), _number(budget.get("budgetAmount"))
    currency = _plain(budget.get("currencyCode"), 8)
    ratio = _number(rung.get("ratio")) if rung else None
    if ratio is None and cost is not None and amount:
        ratio = cost / amount
    words = [f"budget “{name}”"]
    if ratio is not None:
        words.append(f"at {ratio:.0%}")
    if cost is not None and amount is not None:
        words.append(f"({cost:,.2f} of {amount:,.2f}{' ' + currency if currency else ''})")
    if rung:
        threshold = _number(rung.get("threshold"))
        action = str(rung.get("action", ""))
        words.append(f"reached its {threshold:.0%} rung," if threshold is not None else "reached")
        words.append(
            _plain(action, 20) + (f": {_RUNG_WORDS[action]}" if action in _RUNG_WORDS else "")
        )
    return " ".join(words)


def _named(title: str, results: list[Result], *, with_detail: bool) -> list[str]:
    lines = [f"*{title} ({len(results)}):*"]
    for result in results[:MAX_NAMED]:
        line = f"• {_item(result)}"
        if with_detail:
            line += f": {result.outcome.value}, {_plain(result.detail, _DETAIL_CHARS)}"
        lines.append(line)
    if len(results) > MAX_NAMED:
        lines.append(f"• and {len(results) - MAX_NAMED} more")
    return lines


def _item(result: Result) -> str:
    """One target: its kind, its ID linked to the console, its project and region."""
    name = result.name
    if name is None:  # a sweep's own failure, a refused project, input of no kind
        what = "" if result.kind == "unknown" else f"{result.kind} "
        itself = "the sweep itself" if result.provenance.sweep is not None else "the message itself"
        return what + (_plain(result.target, _NAME_CHARS) if result.target else itself)
    where = f" · {name.project} · {name.location}"
    url = console_url(name)
    if url is not None:
        return f"{name.kind} <{url}|{name.resource_id}>{where}"
    owner = _operation_owner(result, name)
    if owner is not None and (owner_url := console_url(owner)) is not None:
        return (
            f"operation {name.resource_id} (its {owner.kind} <{owner_url}|{owner.resource_id}>)"
            f"{where}"
        )
    return f"{name.kind} {name.resource_id}{where}"


def _operation_owner(result: Result, name: ResourceName) -> ResourceName | None:
    """The batch an operation runs (the metadata's ``batch``), or the cluster it works
    on (``clusterName``), held to their grammar like any name; None if it names neither."""
    state = result.state or {}
    batch = state.get("batch")
    try:
        if isinstance(batch, str) and batch:
            return parse_name("batch", batch)
        cluster = state.get("clusterName")
        if isinstance(cluster, str) and cluster:
            return parse_name(
                "cluster", f"projects/{name.project}/regions/{name.location}/clusters/{cluster}"
            )
    except InvalidName:
        return None
    return None


def _fan_out(summary: Result) -> dict[str, Any]:
    sweep = summary.provenance.sweep
    fan_out = sweep.get("fanOut") if sweep is not None else None
    return fan_out if isinstance(fan_out, dict) else {}


def _summary_line(summary: Result) -> str:
    sweep = summary.provenance.sweep or {}
    label = f"Sweep {_plain(sweep.get('id', ''), _NAME_CHARS)}"
    if sweep.get("part"):
        label += f" (part {_plain(sweep['part'], _NAME_CHARS)})"
    if sweep.get("generation"):
        label += f", continuation {_int(sweep['generation'])}"
    fan_out = sweep.get("fanOut")
    if isinstance(fan_out, dict):
        words = (
            f"{label}: searched {len(fan_out.get('searched') or [])} scope(s), found "
            f"{_int(fan_out.get('assets'))} live resource(s) in {_int(fan_out.get('projects'))} "
            f"project(s); {_int(fan_out.get('refused'))} refused by the allowlist; "
            f"{_int(fan_out.get('children'))} child sweep(s), one a project, each told "
            "separately"
        )
        if fan_out.get("complete") is False:
            words += "; _the search was not complete_"
        return words + "."
    words = (
        f"{label}: found {_int(sweep.get('found'))}, selected {_int(sweep.get('selected'))}, "
        f"acted on {_int(sweep.get('acted'))}"
    )
    if sweep.get("exempt"):
        words += f"; {_int(sweep['exempt'])} exempt, left alone"
    if sweep.get("handedOn"):
        words += "; the rest goes on in a continuation message, told separately"
    if _left_unstopped(summary):
        words += f". _Not all was stopped:_ {_plain(summary.detail, _DETAIL_CHARS)}"
    return words + "."


def _left_unstopped(result: Result) -> bool:
    """A sweep summary saying selected work, or the rest of the listing, was neither
    stopped nor handed on."""
    if result.outcome is not Outcome.SWEEP_SUMMARY:
        return False
    sweep = result.provenance.sweep
    if sweep is None or "fanOut" in sweep or sweep.get("handedOn"):
        return False
    return bool(sweep.get("remaining")) or sweep.get("listingComplete") is False


def _where_the_rest_is(results: Sequence[Result]) -> str:
    info = results[0].trigger
    return (
        f"_Every result is on the results topic: trigger.chain {_plain(info.chain, 80)}, "
        f"trigger message {_plain(info.message_id, 80)}._"
    )


def _first(values: Iterable[Mapping[str, Any] | None]) -> Mapping[str, Any] | None:
    """The first result's that has one: the results of a message share theirs."""
    return next((value for value in values if value is not None), None)


def _plain(value: object, limit: int) -> str:
    """Outside text made safe to show: one line of printable characters, at most
    ``limit``, with ``<`` and ``>`` replaced so that it cannot mention everyone
    (``<!channel>``, ``<users/all>``) or forge a link."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text[: limit * 2])
    text = " ".join(text.split()).translate(_NO_MARKUP)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _clip(text: str) -> str:
    """At most MAX_TEXT_BYTES of UTF-8, cut at a line, saying it was."""
    if len(text.encode("utf-8")) <= MAX_TEXT_BYTES:
        return text
    note = "\n… (clipped: the results topic has the rest)"
    kept: list[str] = []
    size = len(note.encode("utf-8"))
    for line in text.split("\n"):
        size += len(line.encode("utf-8")) + 1
        if size > MAX_TEXT_BYTES:
            break
        kept.append(line)
    return "\n".join(kept) + note


# --- delivery -----------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What became of one notification: ``sent`` when the service answered 2xx;
    otherwise ``failure`` says why, without the URL."""

    sent: bool
    service: str
    status: int | None = None
    failure: str = ""


def notify(
    results: Sequence[Result], webhook: Webhook | None, problem: str = ""
) -> Delivery | None:
    """Tell the people about one trigger message's results, if there is something to
    tell and somewhere to tell it; None when nothing was posted for that reason. Called
    after the results are published; never raises."""
    if problem and results and should_notify(results):
        # NOTIFY_WEBHOOK_URL is set but not accepted: said on every message that needed
        # telling, and counted with the failures, until it is fixed.
        log(
            "ERROR",
            f"notification not sent: {problem}",
            notification="FAILED",
            notifyService="unknown",
            messageId=results[0].trigger.message_id,
        )
        return None
    if webhook is None or not results:
        return None
    message_id = results[0].trigger.message_id
    try:
        text = build_text(results)
    except Exception as defect:  # a defect of ours must not touch the results
        log(
            "ERROR",
            f"notification not built: internal error {type(defect).__name__}",
            notification="FAILED",
            notifyService=webhook.service,
            messageId=message_id,
        )
        return Delivery(False, webhook.service, failure=f"internal error {type(defect).__name__}")
    if text is None:
        return None
    return deliver(text, webhook, message_id=message_id)


def deliver(text: str, webhook: Webhook, *, message_id: str = "") -> Delivery:
    """One POST of ``{"text": text}``, given up after ``NOTIFY_SECONDS`` in all (requests'
    timeouts bound each connect and each read, not a name lookup or an answer that
    trickles in, so the POST runs in a thread of its own that is left behind, and may
    still arrive); no redirect followed (a redirect would take the message elsewhere), no
    retry (a second message could be a duplicate, and waiting would hold the function);
    proxies and CA bundle from the environment as for Dataproc (canceller/runtime.py), no
    .netrc. While a POST given up is still running, no new one starts (each is logged
    FAILED), so a service that trickles its answers cannot pile threads up on an
    instance. Logged either way, never raised."""
    answered: list[tuple[int | None, str]] = []
    with _ABANDONED_LOCK:
        _ABANDONED[:] = [thread for thread in _ABANDONED if thread.is_alive()]
        earlier = bool(_ABANDONED)
    if earlier:
        answered.append((None, "an earlier notification given up is still waiting for its answer"))
    else:
        worker = threading.Thread(
            target=lambda: answered.append(_post(text, webhook)), name="notify", daemon=True
        )
        worker.start()
        worker.join(NOTIFY_SECONDS)
        if not answered:
            with _ABANDONED_LOCK:
                _ABANDONED.append(worker)
    status, failure = (
        answered[0]
        if answered
        else (None, f"no answer within {NOTIFY_SECONDS:g} s in all (it may still arrive)")
    )
    sent = not failure
    fields: dict[str, Any] = {
        "notification": "SENT" if sent else "FAILED",  # what a log-based metric counts
        "notifyService": webhook.service,
        "messageId": message_id,
    }
    if status is not None:
        fields["httpStatus"] = status
    log(
        "INFO" if sent else "WARNING",
        f"notification sent to {webhook.service}"
        if sent
        else f"notification not delivered to {webhook.service}: {failure}; not retried",
        **fields,
    )
    return Delivery(sent, webhook.service, status, failure)


def _post(text: str, webhook: Webhook) -> tuple[int | None, str]:
    """The POST itself: the status, and why it failed ("" when it did not)."""
    status: int | None = None
    failure = ""
    try:
        with requests.Session() as session:
            session.proxies.update(get_environ_proxies(webhook.url))
            session.verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
            session.trust_env = False
            response = session.post(
                webhook.url,
                data=json.dumps(payload(text), ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=UTF-8"},
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
                allow_redirects=False,
                stream=True,
            )
            with response:
                status = response.status_code
                if not 200 <= status < 300:
                    body = next(response.iter_content(_MAX_BODY_BYTES), b"")
                    said = _redact(body.decode("utf-8", errors="replace"), webhook)
                    failure = f"HTTP {status}" + (f": {said}" if said else "")
    except requests.Timeout:
        failure = (
            f"no answer within {CONNECT_TIMEOUT_SECONDS:g} s to connect or "
            f"{READ_TIMEOUT_SECONDS:g} s to answer"
        )
    except requests.ConnectionError as error:
        failure = f"could not connect ({type(error).__name__})"
    except Exception as error:  # whatever it is, it must not reach the caller
        failure = f"{type(error).__name__}"  # never str(error): it can hold the URL
    return status, failure


def _redact(text: str, webhook: Webhook) -> str:
    """A service's error answer, for the log: one clipped line, with every part of the
    URL that could be its secret (path segments, query values) taken out, in case the
    answer echoes the request, and a secret's beginning cut off where the clip fell."""
    parts = urlsplit(webhook.url)
    found = [segment for segment in parts.path.split("/") if len(segment) >= 4]
    found += [v for values in parse_qs(parts.query).values() for v in values if len(v) >= 4]
    secrets = sorted({*found, *map(unquote, found)}, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    text = text[:_DETAIL_CHARS]
    for secret in secrets:
        for length in range(len(secret) - 1, 3, -1):
            if text.endswith(secret[:length]):
                text = text[:-length] + "[redacted]"
                break
    return _plain(text, _DETAIL_CHARS + len("[redacted]"))
