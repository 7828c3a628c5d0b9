"""``newswire check``: is a feeds file usable, and (``--fetch``) does every feed answer with a feed?

Fetching here is one plain GET per feed with the pollers' own HTTP client and limits, and the
pollers' parser; nothing is published and no state is written, so a check can run beside a live
``newswire run`` on the same file.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pollers.config import FeedConfig
from pollers.errors import PollError
from pollers.fetch import HttpSettings, Validators, fetch_once, headers_for_parser
from pollers.netpolicy import AddressPolicy
from pollers.poller import PollerSettings
from pollers.parsing import parse_feed


@dataclass(frozen=True)
class FetchCheck:
    feed_id: str
    url: str
    ok: bool
    status: int | None = None
    entries: int = 0
    error_kind: str | None = None
    error: str | None = None
    bozo_reason: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _check_one(client, feed: FeedConfig, settings: HttpSettings, policy: AddressPolicy) -> FetchCheck:
    import time  # noqa: PLC0415

    started = time.monotonic()
    try:
        fetched = fetch_once(client, feed.url, Validators(), settings, policy=policy)
        parsed = parse_feed(fetched.body or b"", headers_for_parser(fetched.headers, fetched.url))
    except PollError as exc:
        return FetchCheck(feed.id, feed.url, False, status=exc.status, error_kind=exc.kind.slug,
                          error=str(exc), seconds=time.monotonic() - started)
    return FetchCheck(feed.id, feed.url, True, status=fetched.status, entries=len(parsed.entries),
                      bozo_reason=parsed.bozo_reason, seconds=time.monotonic() - started)


def fetch_feeds(feeds: list[FeedConfig], settings: HttpSettings | None = None,
                workers: int = 8, serve_url: str | None = None) -> list[FetchCheck]:
    """Fetch and parse every feed once, concurrently; the results in the feeds' order.

    The address policy is the pollers': public addresses only, a feed's own host:port where the
    feeds file allows it private, and the ``--serve`` server's exactly."""
    settings = settings or HttpSettings()
    base = PollerSettings().allowing_server(serve_url).addresses if serve_url else PollerSettings().addresses
    policies = {f.id: base.allowing_endpoint(f.endpoint) if f.allow_private else base for f in feeds}
    with settings.client() as client, ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda f: _check_one(client, f, settings, policies[f.id]), feeds))
