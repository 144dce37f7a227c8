"""Where a notification goes: NOTIFY_WEBHOOK_URL, an incoming webhook of Google Chat or
Slack, checked before anything is posted. The URL is the webhook's secret (Chat's key
and token, Slack's path): it is never echoed, logged or shown by ``repr``, and a value
that is not a documented webhook is refused, since the message it would carry names
projects and work. canceller/settings.py reads it; canceller/notify.py posts to it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

WEBHOOK_VARIABLE = "NOTIFY_WEBHOOK_URL"
# One POST, after the results are published: at most this long to connect and to answer
# (requests' timeouts), so a slow service holds the function a bounded time.
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 5.0
NOTIFY_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS


class InvalidWebhook(ValueError):
    """NOTIFY_WEBHOOK_URL is not an incoming webhook we post to; says why without the value."""


@dataclass(frozen=True)
class Webhook:
    """An incoming webhook to post to. ``url`` carries the secret (Chat's key and token,
    Slack's path), so it is left out of ``repr``: a log line or a traceback that shows a
    Webhook shows only its service."""

    service: str  # "Google Chat", "Slack", or "loopback" (tests)
    url: str = field(repr=False)


# Google Chat: https://chat.googleapis.com/v1/spaces/SPACE_ID/messages?key=KEY&token=TOKEN
# (https://developers.google.com/workspace/chat/quickstart/webhooks; threadKey and
# messageReplyOption may be added for threads). Slack:
# https://hooks.slack.com/services/T…/B…/… (https://api.slack.com/messaging/webhooks).
_CHAT = re.compile(
    r"https://chat\.googleapis\.com(?::443)?/v1/spaces/[A-Za-z0-9_-]{1,128}/messages"
    r"\?(?P<query>[A-Za-z0-9_.~%=&-]{1,4096})"
)
_CHAT_QUERY_KEYS = frozenset({"key", "token", "threadKey", "messageReplyOption"})
_SLACK = re.compile(
    r"https://hooks\.slack\.com(?::443)?/services/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}"
    r"/[A-Za-z0-9_-]{1,128}"
)
# A receiver on this machine, for tests: plain http, so never anywhere else.
_LOOPBACK = re.compile(
    r"http://(?P<host>localhost|\[::1\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}):(?P<port>[0-9]{1,5})"
    r"(?:/[A-Za-z0-9_.~%/=&?-]{0,2048})?"
)


def parse_webhook_url(value: str) -> Webhook | None:
    """Only https to the hosts the services document for incoming webhooks, in their
    documented form, with no user part, no port but 443 and no fragment: the message
    names projects and work, and the URL its own secret, so neither may go anywhere else.
    Plain http is for a receiver on this machine's loopback only (tests), as
    canceller/settings.py allows only an emulator on loopback. The value is never echoed
    in the error: it would put the secret in the deployment's logs. Surrounding white
    space (a secret file's last newline) is ignored."""
    text = value.strip()
    if not text:
        return None
    if _SLACK.fullmatch(text):
        return Webhook("Slack", text)
    chat = _CHAT.fullmatch(text)
    if chat is not None and _chat_query_ok(chat["query"]):
        return Webhook("Google Chat", text)
    loopback = _LOOPBACK.fullmatch(text)
    if (
        loopback is not None
        and 1 <= int(loopback["port"]) <= 65535
        and is_loopback(loopback["host"])
    ):
        return Webhook("loopback", text)
    raise InvalidWebhook(
        f"{WEBHOOK_VARIABLE} is not accepted ({_why_not(text)}; the value is not shown, a "
        "webhook URL carries its secret): expected a Google Chat incoming webhook, "
        "https://chat.googleapis.com/v1/spaces/SPACE/messages?key=KEY&token=TOKEN, or a Slack "
        "one, https://hooks.slack.com/services/T…/B…/…, as the service gives it, with no user "
        "part, no port but 443 and no fragment; plain http only to this machine's loopback "
        "(127.0.0.0/8, localhost or [::1], with a port), for tests"
    )


def _chat_query_ok(query: str) -> bool:
    try:
        fields = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return False
    return (
        set(fields) <= _CHAT_QUERY_KEYS
        and all(len(fields.get(key, [])) == 1 and fields[key][0] for key in ("key", "token"))
        and all(len(values) == 1 for values in fields.values())
    )


def _why_not(text: str) -> str:
    """What is wrong, in words that echo none of the value."""
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "it is not a URL"
    if any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in text):
        return "it has spaces, control characters or backslashes"
    if parts.username is not None or parts.password is not None:
        return "it has a user part"
    if parts.fragment or "#" in text:
        return "it has a fragment"
    if parts.scheme == "http" and not is_loopback(host if ":" not in host else f"[{host}]"):
        return "plain http is only for this machine's loopback"
    if parts.scheme not in ("https", "http"):
        return "it is not https"
    if host not in ("chat.googleapis.com", "hooks.slack.com") and parts.scheme == "https":
        return "its host is neither chat.googleapis.com nor hooks.slack.com"
    if port not in (None, 443) and parts.scheme == "https":
        return "it names a port other than 443"
    return "its path or query is not a webhook's"


def is_loopback(host: str) -> bool:
    """A host on this machine's loopback: plain HTTP may go there (emulators, test
    receivers) and nowhere else."""
    if host in ("localhost", "[::1]"):
        return True
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False
