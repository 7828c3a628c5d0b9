"""The poller service: fetch feeds concurrently, publish new entries, remember what was sent."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import tenacity

from .config import FeedConfig
from .errors import FailureKind, PollError
from .fetch import FetchResult, HttpSettings, Validators, fetch_once, headers_for_parser
from .items import MAX_MESSAGE_BYTES, OutgoingItem, build_feed_items, with_page_html_within
from .netpolicy import AddressPolicy, url_endpoint
from .pages import PageFetcher, PageOutcome, PageReport, PageSettings
from .parsing import ParseLimits, ParserPool
from .publish import PublishError, Publisher
from .retry import BackoffPolicy, RetryPolicy, call_with_retries, next_interval
from .schedule import HostScheduler
from .state import FeedHealth, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollerSettings:
    http: HttpSettings = HttpSettings()
    retry: RetryPolicy = RetryPolicy()
    backoff: BackoffPolicy = BackoffPolicy()
    max_workers: int = 16
    # Polite to each origin (and its rate limiter) while many hosts proceed in parallel; also the
    # most workers one host can hold (see pollers.schedule).
    per_host: int = 4
    # Parsers run in their own processes (pollers.parsing.ParserPool): more at once than cores
    # only add switching, while fetches (network waits) still overlap freely.
    max_parsers: int = 2
    # One parse may take this long and this much address space; beyond, only that feed fails.
    parse_budget: float = 20.0
    parse_memory_mb: int = 1024
    # A message over this is sent as a broken entry for dead_letter (an article page over it is
    # left out instead): well under Pub/Sub's 10 MB.
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # New entries published per poll of one feed, newest first; the rest go at the next poll, which
    # comes after at most backlog_interval seconds (a first poll of a 20,000-entry archive feed is
    # then 40 polls of 500, not one burst).
    max_entries_per_poll: int = 500
    backlog_interval: float = 30.0
    interval_jitter: float = 0.1
    publish_attempts: int = 3
    publish_initial_wait: float = 0.5
    # Article pages of feeds with fetch_full_text (rate limit, robots.txt, size and time limits).
    pages: PageSettings = PageSettings()
    # Where every request may connect (feeds, pages, redirects): public addresses, plus what is
    # allowed here and, per feed, by allow_private in the feeds file (pollers.netpolicy).
    addresses: AddressPolicy = AddressPolicy()

    def allowing_server(self, url: str) -> PollerSettings:
        """These settings, with requests also allowed to url's host:port, and only it: the local
        server of feed and page files that ``--serve`` starts on 127.0.0.1."""
        return replace(self, addresses=self.addresses.allowing_endpoint(url_endpoint(url)))


@dataclass(frozen=True)
class FeedResult:
    feed_id: str
    outcome: str  # 'published' | 'not_modified' | 'failed'
    status: int | None = None
    entries: int = 0
    published: int = 0
    already_seen: int = 0
    error_kind: FailureKind | None = None
    error: str | None = None
    bozo_reason: str | None = None
    next_poll_at: float = 0.0
    seconds: float = 0.0
    pages: PageReport | None = None  # for feeds with fetch_full_text that had items to publish
    guid_problem: str | None = None  # guids that did not identify entries (see build_feed_items)
    deferred: int = 0  # new entries left for the next poll (over max_entries_per_poll)
    broken: int = 0  # entries published as broken messages, for dead_letter (see pollers.items)

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


@dataclass(frozen=True)
class PollReport:
    results: tuple[FeedResult, ...]

    @property
    def polled(self) -> int:
        return len(self.results)

    @property
    def not_modified(self) -> int:
        return sum(r.outcome == "not_modified" for r in self.results)

    @property
    def published(self) -> int:
        return sum(r.published for r in self.results)

    @property
    def errors(self) -> dict[str, str]:
        return {r.feed_id: r.error or "" for r in self.results if not r.ok}

    def result(self, feed_id: str) -> FeedResult:
        for r in self.results:
            if r.feed_id == feed_id:
                return r
        raise KeyError(feed_id)


@dataclass
class PollCounters:
    """Running totals for live progress; read with ``snapshot()`` from any thread."""

    polls: int = 0
    not_modified: int = 0
    published: int = 0
    failed: int = 0
    in_flight: int = 0
    pages_fetched: int = 0
    pages_failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"polls": self.polls, "not_modified": self.not_modified, "published": self.published,
                    "failed": self.failed, "in_flight": self.in_flight, "pages_fetched": self.pages_fetched,
                    "pages_failed": self.pages_failed}

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def cancelled(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def finished(self, r: FeedResult) -> None:
        with self._lock:
            self.in_flight -= 1
            self.polls += 1
            self.not_modified += r.outcome == "not_modified"
            self.published += r.published
            self.failed += not r.ok
            if r.pages is not None:
                self.pages_fetched += r.pages.fetched
                self.pages_failed += r.pages.failed


class Poller:
    """Polls feeds and publishes their new entries as raw items.

    ``poll_once`` polls the chosen feeds now; ``run_forever`` polls each feed when its next poll
    time comes (kept in the state store, so a restart resumes the schedule).
    """

    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        state: StateStore,
        publisher: Publisher,
        settings: PollerSettings | None = None,
        *,
        on_result: Callable[[FeedResult], None] | None = None,
    ) -> None:
        self.feeds = {f.id: f for f in feeds}
        if len(self.feeds) != len(feeds):
            raise ValueError("feed ids must be unique")
        self.state = state
        self.publisher = publisher
        self.settings = settings or PollerSettings()
        self.counters = PollCounters()
        self._on_result = on_result
        self._client = self.settings.http.client()
        self._scheduler: HostScheduler[FeedResult] = HostScheduler(self.settings.max_workers, self.settings.per_host)
        self._parser = ParserPool(ParseLimits(budget=self.settings.parse_budget,
                                              memory_mb=self.settings.parse_memory_mb,
                                              processes=self.settings.max_parsers))
        self._stopping = threading.Event()
        base = self.settings.addresses
        # A feed's allow_private is the operator's word for its own host:port, for its requests only.
        self._policies = {f.id: base.allowing_endpoint(f.endpoint) if f.allow_private else base
                          for f in feeds}
        self._pages = (PageFetcher(self.settings.pages, addresses=base)
                       if any(f.fetch_full_text for f in feeds) else None)

    # -- public -------------------------------------------------------------------------------

    def poll_once(self, feed_ids: Iterable[str] | None = None) -> PollReport:
        """Poll the given feeds (all by default) now, concurrently; wait for all of them."""
        ids = list(self.feeds) if feed_ids is None else list(feed_ids)
        unknown = [i for i in ids if i not in self.feeds]
        if unknown:
            raise ValueError(f"unknown feed id(s) {unknown}; known: {sorted(self.feeds)}")
        futures = self._submit_many([self.feeds[i] for i in ids])
        return PollReport(tuple(self._outcome(feed_id, f) for feed_id, f in zip(ids, futures)))

    def _outcome(self, feed_id: str, fut: Future[FeedResult]) -> FeedResult:
        try:
            return fut.result()
        except CancelledError:  # closed before its turn came
            return FeedResult(feed_id, "failed", error_kind=FailureKind.STOPPED,
                              error=f"{FailureKind.STOPPED.slug}: the poller stopped before polling it")

    def run_forever(self, stop_event: threading.Event) -> None:
        """Poll every feed on its schedule until ``stop_event`` is set; then let in-flight polls
        finish (their publishes confirm or stay unseen) and return."""
        due = {f.id: self._resume_at(f) for f in self.feeds.values()}
        in_flight: dict[str, Future[FeedResult]] = {}
        try:
            while not stop_event.is_set():
                for feed_id, fut in list(in_flight.items()):
                    if fut.done():
                        del in_flight[feed_id]
                        due[feed_id] = self._outcome(feed_id, fut).next_poll_at
                now = time.time()
                ready = [fid for fid, when in due.items() if fid not in in_flight and when <= now]
                for feed_id, fut in zip(ready, self._submit_many([self.feeds[fid] for fid in ready])):
                    in_flight[feed_id] = fut
                idle = [when for fid, when in due.items() if fid not in in_flight]
                # Wake at the next due time, and at least every 0.2 s to collect finished polls.
                wait = min([0.2] + [max(0.0, w - time.time()) for w in idle])
                stop_event.wait(wait)
        finally:
            # Fetches in progress give up at once; what was fetched is still published.
            self._stopping.set()
            for feed_id, fut in in_flight.items():
                self._outcome(feed_id, fut)
            self._stopping.clear()

    def _resume_at(self, feed: FeedConfig) -> float:
        """When to poll a feed after a restart: as the state says, but a healthy feed no later than
        one (possibly shortened) interval from now."""
        st = self.state.load(feed.id, feed.url)
        if st.consecutive_failures == 0:
            return min(st.next_poll_at, time.time() + feed.interval)
        return st.next_poll_at

    def health(self) -> list[FeedHealth]:
        return self.state.health(self.feeds)

    def stop(self) -> None:
        """Interrupt the fetches in progress (each gives up within a fraction of a second, recording
        nothing for its feed) and retry nothing more; polls that have their feed still publish it."""
        self._stopping.set()

    def close(self) -> None:
        self._stopping.set()
        self._scheduler.close()
        self._client.close()
        self._parser.close()
        if self._pages is not None:
            self._pages.close()

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one feed -----------------------------------------------------------------------------

    def _submit_many(self, feeds: Sequence[FeedConfig]) -> list[Future[FeedResult]]:
        for _ in feeds:
            self.counters.started()
        futures = self._scheduler.submit_many(
            [(f.host, lambda f=f: self._poll_feed_safely(f)) for f in feeds])
        for fut in futures:
            fut.add_done_callback(self._dropped)
        return futures

    def _dropped(self, fut: Future[FeedResult]) -> None:
        if fut.cancelled():
            self.counters.cancelled()

    def _poll_feed_safely(self, feed: FeedConfig) -> FeedResult:
        started = time.monotonic()
        try:
            result = self._poll_feed(feed)
        except Exception as exc:  # a bug must cost one feed one poll, never the service
            log.exception("feed %s: unexpected error while polling", feed.id)
            error = PollError(FailureKind.INTERNAL, f"{type(exc).__name__}: {exc}")
            try:
                result = self._failed(feed, error)
            except Exception:  # the state file itself is failing: report, retry later
                log.exception("feed %s: could not record the failure", feed.id)
                result = FeedResult(feed.id, "failed", error_kind=FailureKind.INTERNAL, error=str(error),
                                    next_poll_at=time.time() + self.settings.backoff.delay(feed.interval, 1))
        result = _with_seconds(result, time.monotonic() - started)
        self.counters.finished(result)
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception:  # a display callback must not break polling
                log.exception("progress callback failed")
        return result

    def _fetch(self, feed: FeedConfig, validators: Validators) -> FetchResult:
        # The scheduler runs this poll only while its host has a slot: no waiting here.
        def attempt() -> FetchResult:
            return fetch_once(self._client, feed.url, validators, self.settings.http,
                              policy=self._policies[feed.id], stop=self._stopping)
        return call_with_retries(attempt, self.settings.retry, self._stopping)

    def _poll_feed(self, feed: FeedConfig) -> FeedResult:
        st = self.state.load(feed.id, feed.url)
        try:
            fetched = self._fetch(feed, st.validators)
        except PollError as exc:
            if exc.kind is FailureKind.STOPPED:  # not the feed's failure: record nothing
                return FeedResult(feed.id, "failed", error_kind=exc.kind, error=str(exc),
                                  next_poll_at=st.next_poll_at)
            return self._failed(feed, exc, st.consecutive_failures)
        fetched_at = datetime.now(timezone.utc)
        if fetched.not_modified:
            nxt = time.time() + next_interval(feed.interval, self.settings.interval_jitter)
            self.state.record_not_modified(feed.id, feed.url, validators=fetched.validators, next_poll_at=nxt)
            return FeedResult(feed.id, "not_modified", status=304, next_poll_at=nxt)
        assert fetched.body is not None
        try:
            # Not interrupted by a stop: what was fetched is parsed and published (within the budget).
            parsed = self._parser.parse(fetched.body, headers_for_parser(fetched.headers, fetched.url))
            built = build_feed_items(feed, parsed.entries, fetched_at=fetched_at,
                                     http={"etag": fetched.validators.etag,
                                           "last_modified": fetched.validators.last_modified,
                                           "status": fetched.status},
                                     channel_link=parsed.link, broken_entries=parsed.broken,
                                     max_message_bytes=self.settings.max_message_bytes)
        except PollError as exc:
            if exc.kind is FailureKind.STOPPED:
                return FeedResult(feed.id, "failed", error_kind=exc.kind, error=str(exc),
                                  next_poll_at=st.next_poll_at)
            return self._failed(feed, exc, st.consecutive_failures)
        items, guid_problem = built.items, built.guid_problem
        if parsed.bozo_reason:
            log.info("feed %s: used despite a malformed document (%s)", feed.id, parsed.bozo_reason)
        if guid_problem:
            log.info("feed %s: %s", feed.id, guid_problem)
        todo = self.state.unseen(feed.id, [(i.item_key, i.content_hash) for i in items])
        unseen = [i for i in items if i.item_key in todo]
        pending = newest_first(unseen, self.settings.max_entries_per_poll)
        deferred = len(unseen) - len(pending)
        for b in (i for i in pending if i.broken):
            log.warning("feed %s: an entry goes out as a broken message for dead_letter: %s", feed.id, b.broken)
        pages = None
        if feed.fetch_full_text and pending and self._pages is not None:
            pending, pages = self._attach_pages(feed, pending)
        delivered, publish_error = self._publish(pending)
        error = None
        if publish_error is not None:
            failures = st.consecutive_failures + 1
            nxt = time.time() + self.settings.backoff.delay(min(feed.interval, 60.0), failures - 1)
            error = (FailureKind.PUBLISH_FAILED.slug,
                     f"{len(pending) - len(delivered)} of {len(pending)} items not confirmed: {publish_error}")
        elif deferred:
            # The rest of a long feed: soon, and fetched in full (the validators are not kept).
            nxt = time.time() + next_interval(min(feed.interval, self.settings.backlog_interval),
                                              self.settings.interval_jitter)
            log.info("feed %s: %d more new entries than the %d taken per poll; the next poll takes them",
                     feed.id, deferred, self.settings.max_entries_per_poll)
        else:
            nxt = time.time() + next_interval(feed.interval, self.settings.interval_jitter)
        self.state.record_success(
            feed.id, feed.url,
            delivered=[(i.item_key, i.content_hash) for i in delivered],
            present=[i.item_key for i in items],
            # Keeping the old validators after a failed publish, or with entries left for the next
            # poll, makes the next poll fetch in full.
            validators=fetched.validators if error is None and not deferred else None,
            status=fetched.status, bozo_reason=parsed.bozo_reason, next_poll_at=nxt, error=error,
            guid_problem=guid_problem)
        common = dict(status=fetched.status, entries=len(items), published=len(delivered),
                      already_seen=len(items) - len(unseen), bozo_reason=parsed.bozo_reason, next_poll_at=nxt,
                      pages=pages, guid_problem=guid_problem, deferred=deferred,
                      broken=sum(1 for i in delivered if i.broken))
        if error is not None:
            return FeedResult(feed.id, "failed", error_kind=FailureKind.PUBLISH_FAILED,
                              error=f"{error[0]}: {error[1]}", **common)
        return FeedResult(feed.id, "published", **common)

    def _attach_pages(self, feed: FeedConfig, items: list[OutgoingItem]) -> tuple[list[OutgoingItem], PageReport]:
        """The items with their article pages; an item whose page failed goes out without it."""
        assert self._pages is not None
        outcomes = self._pages.fetch_many([i.link for i in items], stop=self._stopping,
                                          policy=self._policies[feed.id])
        out: list[OutgoingItem] = []
        for n, (item, outcome) in enumerate(zip(items, outcomes)):
            with_page = (with_page_html_within(item, outcome.html, self.settings.max_message_bytes)
                         if outcome.html is not None else None)
            if outcome.html is not None and with_page is None:
                outcomes[n] = PageOutcome(None, FailureKind.TOO_LARGE.slug,
                                          f"with the page the message is over {self.settings.max_message_bytes} bytes")
            out.append(with_page or item)
        report = PageReport.of(outcomes)
        if report.failed:
            log.info("feed %s: %d of %d pages not fetched (%s); those items go out without page_html",
                     feed.id, report.failed, len(items), ", ".join(f"{r} ×{n}" for r, n in report.failures))
        return out, report

    def _failed(self, feed: FeedConfig, exc: PollError, previous_failures: int | None = None) -> FeedResult:
        failures = (self.state.failures(feed.id) if previous_failures is None else previous_failures) + 1
        nxt = time.time() + self.settings.backoff.delay(feed.interval, failures - 1, exc.retry_after)
        self.state.record_failure(feed.id, feed.url, kind=exc.kind.slug, message=str(exc),
                                  status=exc.status, next_poll_at=nxt)
        log.warning("feed %s: poll failed (%s); next poll in %.0f s", feed.id, exc, nxt - time.time())
        return FeedResult(feed.id, "failed", status=exc.status, error_kind=exc.kind, error=str(exc),
                          next_poll_at=nxt)

    def _publish(self, items: list[OutgoingItem]) -> tuple[list[OutgoingItem], str | None]:
        """Publish and wait for Pub/Sub's confirmation; retry what was not confirmed.

        Returns the confirmed items and, if some never were, the last error.
        """
        delivered: list[OutgoingItem] = []
        remaining = items

        def attempt() -> None:
            nonlocal remaining
            try:
                self.publisher.publish([(i.data, i.attributes) for i in remaining])
            except PublishError as exc:
                delivered.extend(remaining[:exc.confirmed])
                remaining = remaining[exc.confirmed:]
                raise
            except Exception as exc:  # any other failure: nothing confirmed, all stay unseen
                raise PublishError(0, exc) from exc
            delivered.extend(remaining)
            remaining = []

        if not items:
            return delivered, None
        try:
            tenacity.Retrying(
                retry=tenacity.retry_if_exception_type(PublishError),
                stop=tenacity.stop_any(tenacity.stop_after_attempt(self.settings.publish_attempts),
                                       lambda _s: self._stopping.is_set()),
                wait=tenacity.wait_exponential_jitter(initial=self.settings.publish_initial_wait,
                                                      max=30.0, jitter=self.settings.publish_initial_wait),
                sleep=self._stopping.wait,
                reraise=True,
            )(attempt)
        except PublishError as exc:
            return delivered, str(exc)
        return delivered, None


def newest_first(items: list[OutgoingItem], limit: int) -> list[OutgoingItem]:
    """At most ``limit`` of the items, the newest ones (undated ones after the dated, in feed
    order), in their original order."""
    if len(items) <= limit:
        return items
    ranked = sorted(range(len(items)), key=lambda n: (items[n].at is None, -(items[n].at or 0.0), n))
    keep = set(ranked[:limit])
    return [item for n, item in enumerate(items) if n in keep]


def _with_seconds(r: FeedResult, seconds: float) -> FeedResult:
    return replace(r, seconds=seconds)
