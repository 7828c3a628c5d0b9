"""Why a poll failed, and whether trying again soon can help.

Transient failures are retried within the poll (tenacity, see ``pollers.retry``); permanent ones end
the poll at once, mark the feed unhealthy and push its next poll back. Neither stops the service,
and a feed that works again is healthy again on its next poll.
"""

from __future__ import annotations

import email.utils
import enum
import math
from datetime import datetime, timezone


class FailureKind(enum.Enum):
    """Every way a poll can fail. Each member carries whether it is transient and why."""

    def __init__(self, slug: str, transient: bool, reason: str) -> None:
        self.slug = slug
        self.transient = transient
        self.reason = reason

    # Transient: the same request may well succeed in a few seconds.
    TIMEOUT = ("timeout", True, "connect or read timed out, or the whole request outlasted its deadline (a "
               "server sending slowly); servers stall under load and recover")
    CONNECTION = ("connection", True, "connection refused/reset or DNS failure; usually a restart or blip")
    SERVER_ERROR = ("server-error", True, "HTTP 5xx: the origin or its CDN is failing, not our request")
    RATE_LIMITED = ("rate-limited", True, "HTTP 429: the server asks us to slow down (Retry-After says when)")
    PUBLISH_FAILED = ("publish-failed", True,
                      "Pub/Sub did not confirm the publish; items stay unseen so the next poll resends them")
    STOPPED = ("stopped", True, "the poller was shutting down in the middle of the request; nothing is "
               "recorded for the feed, which is polled again on the next start")

    # Permanent: repeating the request unchanged gets the same answer.
    NOT_FOUND = ("not-found", False, "HTTP 404: the feed URL is wrong or the feed moved")
    GONE = ("gone", False, "HTTP 410: the publisher removed the feed for good")
    CLIENT_ERROR = ("client-error", False, "HTTP 4xx other than 404/410/429: the request itself is refused")
    TOO_MANY_REDIRECTS = ("too-many-redirects", False, "redirect chain longer than the limit, or a loop")
    ADDRESS_REFUSED = ("address-refused", False,
                       "the feed, or a redirect, leads to a private, loopback, link-local or metadata address; "
                       "only a feed with allow_private: true may be on one, and only on its own host:port")
    TOO_LARGE = ("too-large", False, "body over the size limit; a feed that big is an error or an attack")
    UNSUPPORTED_ENCODING = ("unsupported-encoding", False,
                            "Content-Encoding we did not ask for and cannot decode safely")
    BAD_RESPONSE = ("bad-response", False, "the HTTP response is malformed (e.g. corrupt gzip)")
    ENTITY_DECLARATION = ("entity-declaration", False,
                          "the XML declares entities that could expand without bound (billion laughs, "
                          "quadratic blowup); refused before parsing")
    NOT_A_FEED = ("not-a-feed", False, "the body is not recognisably a feed (HTML page, garbage, wrong URL)")
    UNPARSABLE = ("unparsable", False, "the feed parser fails on the document and no entry of it could be "
                  "read on its own either (the parser's error is recorded)")
    PARSE_LIMIT = ("parse-limit", False, "parsing the feed took longer or more memory than allowed (deeply "
                   "nested or enormous documents); the same body would again")
    INTERNAL = ("internal", False, "an unexpected error in the poller itself (logged with its traceback); "
                "only this feed backs off, the service keeps running")

    def __str__(self) -> str:
        return self.slug


class PollError(Exception):
    """One failed attempt (or poll), classified."""

    def __init__(self, kind: FailureKind, detail: str, *, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(f"{kind.slug}: {detail}")
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        self.status = status

    @property
    def transient(self) -> bool:
        return self.kind.transient


def classify_status(status: int) -> FailureKind | None:
    """The failure an HTTP status means, or None for success (2xx) and 304."""
    if 200 <= status < 300 or status == 304:
        return None
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status == 404:
        return FailureKind.NOT_FOUND
    if status == 410:
        return FailureKind.GONE
    if status >= 500:
        return FailureKind.SERVER_ERROR
    # 1xx/3xx that reach us (a redirect without Location) and other 4xx: the request is wrong.
    return FailureKind.CLIENT_ERROR


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/invalid.

    A date in the past means "now" (0.0).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())
