"""The feed poller service: fetch RSS/Atom feeds, publish each new entry as a raw item.

Public API::

    feeds = load_feeds("feeds.yaml")
    with StateStore("var/pollers.sqlite") as state, Poller(feeds, state, PubSubPublisher(topic)) as p:
        report = p.poll_once()          # or p.run_forever(stop_event)

Feeds with ``fetch_full_text: true`` also get each new entry's article page (``pollers.pages``).
"""

from .config import DEFAULT_INTERVAL, FeedConfig, FeedsFileError, load_feeds, parse_feeds
from .errors import FailureKind, PollError, classify_status, parse_retry_after
from .fetch import DEFAULT_USER_AGENT, FetchResult, HttpSettings, Validators, fetch_once
from .items import (
    FeedItems,
    GuidFinding,
    OutgoingItem,
    build_feed_items,
    build_items,
    entry_fields,
    guids_not_identifying,
    item_key,
    rfc3339,
    with_page_html,
)
from .netpolicy import (
    AddressPolicy,
    AddressRefused,
    PageRefused,
    PageSkip,
    guarded,
    guarded_transport,
    is_public_address,
    url_endpoint,
)
from .pages import HostPacer, PageFetcher, PageOutcome, PageReport, PageSettings, decode_html
from .parsing import ParsedFeed, parse_feed
from .poller import FeedResult, PollCounters, Poller, PollerSettings, PollReport
from .publish import Publisher, PublishError, PubSubPublisher, batches
from .retry import BackoffPolicy, RetryPolicy, call_with_retries
from .schedule import HostScheduler
from .robots import RobotsCache, RobotsRules
from .state import FeedHealth, FeedState, StateError, StateStore
from .xmlguard import check_entities

__all__ = [
    "DEFAULT_INTERVAL", "DEFAULT_USER_AGENT", "AddressPolicy", "AddressRefused", "BackoffPolicy", "HostScheduler",
    "guarded", "guarded_transport", "url_endpoint", "HostPacer", "PageFetcher",
    "PageOutcome", "PageRefused", "PageReport", "PageSettings", "PageSkip", "RobotsCache", "RobotsRules",
    "decode_html", "is_public_address", "with_page_html", "FailureKind", "FeedConfig", "FeedHealth",
    "FeedResult", "FeedState", "FeedsFileError", "FetchResult", "HttpSettings", "OutgoingItem",
    "ParsedFeed", "PollCounters", "PollError", "PollReport", "Poller", "PollerSettings", "PubSubPublisher",
    "PublishError", "Publisher", "RetryPolicy", "StateError", "StateStore", "Validators", "batches",
    "FeedItems", "GuidFinding", "build_feed_items", "build_items", "guids_not_identifying",
    "call_with_retries", "check_entities", "classify_status", "entry_fields", "fetch_once", "item_key",
    "load_feeds", "parse_feed", "parse_feeds", "parse_retry_after", "rfc3339",
]
