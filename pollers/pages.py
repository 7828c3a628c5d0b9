"""Article pages for feeds with ``fetch_full_text: true``: fetched politely, safely and in bounded time.

For each entry a poll is about to publish, the poller fetches the entry's link and puts the HTML in
the raw item's ``page_html``; the pipeline extracts the article text from it. A page that cannot be
fetched never fails the feed or holds back the item: the item goes out with ``page_html: null`` and
the reason is counted in the poll's result and logged.

Politeness and safety, per request:

- only http/https URLs, and only to addresses the poller's policy allows (public ones, plus what
  the feeds file allows for the feed), checked at every redirect hop and pinned for the connection
  (``pollers.netpolicy``);
- robots.txt of the link's site, read once per site and TTL (``pollers.robots``); its Crawl-delay,
  when longer than ours, is honoured up to ``max_crawl_delay``;
- at most one request at a time to a host, and ``min_interval`` seconds from the end of one to the
  start of the next (``HostPacer``); a 429/503 with Retry-After pushes the host's next request back;
- a size limit (``max_page_bytes``, also after decompression) and HTML content types only;
- a deadline per page (``page_deadline``, connection to last byte, however slowly the server sends)
  and a time budget per poll (``poll_budget``): pages not fetched in time go out without their page.

Connections are not kept alive: a page is one request to a site we may not see again for a while.
"""

from __future__ import annotations

import codecs
import http.cookiejar
import logging
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from .errors import FailureKind, PollError, classify_status, parse_retry_after
from .fetch import DEFAULT_USER_AGENT, read_bounded, transport_error
from .netpolicy import (
    AddressPolicy,
    DeadlineExceeded,
    Interrupted,
    PageRefused,
    PageSkip,
    Resolver,
    guarded,
    guarded_transport,
    system_resolver,
)
from .robots import RobotsCache

log = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class PageSettings:
    # Seconds from the end of one request to a host to the start of the next: one page a second is
    # the pace most crawler guidelines ask of a well-behaved bot.
    min_interval: float = 1.0
    # A robots.txt Crawl-delay longer than ours is honoured up to this; beyond it, the host's pages
    # would not fit a poll's budget anyway.
    max_crawl_delay: float = 30.0
    # Article pages are 50–300 KB; 2 MB leaves room for heavy ones and keeps a raw item well under
    # Pub/Sub's 10 MB message limit.
    max_page_bytes: int = 2 * 1024 * 1024
    max_robots_bytes: int = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
    robots_ttl: float = 3600.0
    robots_error_ttl: float = 300.0
    # Wall time one poll may spend on pages (on top of the feed fetch); the rest go without.
    poll_budget: float = 60.0
    # Wall time of one page, first connection to last byte: a page trickling in cannot take the
    # whole poll's budget from the others.
    page_deadline: float = 20.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_redirects: int = 5
    # Hosts of one poll fetched at once (a feed's pages usually share one host; an aggregator's do not).
    parallel_hosts: int = 4
    user_agent: str = DEFAULT_USER_AGENT

    def __post_init__(self) -> None:
        if (self.min_interval < 0 or self.poll_budget <= 0 or self.page_deadline <= 0 or self.max_page_bytes <= 0
                or self.parallel_hosts < 1):
            raise ValueError("min_interval must be >= 0, poll_budget, page_deadline and max_page_bytes > 0, "
                             "parallel_hosts >= 1")


@dataclass(frozen=True)
class PageOutcome:
    html: str | None
    reason: str | None = None  # a PageSkip or FailureKind slug when html is None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.html is not None


@dataclass(frozen=True)
class PageReport:
    """What fetching the pages of one poll came to."""

    fetched: int = 0
    failures: tuple[tuple[str, int], ...] = ()  # (reason slug, count), most frequent first

    @property
    def failed(self) -> int:
        return sum(n for _, n in self.failures)

    @classmethod
    def of(cls, outcomes: Sequence[PageOutcome]) -> PageReport:
        reasons = Counter(o.reason or "unknown" for o in outcomes if not o.ok)
        return cls(fetched=sum(o.ok for o in outcomes), failures=tuple(reasons.most_common()))


# --- pacing --------------------------------------------------------------------------------------

@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    interval: float = 0.0
    ready_at: float = 0.0  # earliest start of the next request


class HostPacer:
    """One request at a time per host, ``interval`` seconds between the end of one and the start of
    the next. Waiting is bounded by the caller's deadline and interrupted by its stop event."""

    def __init__(self, min_interval: float, *, clock: Callable[[], float] = time.monotonic,
                 max_hosts: int = 4096) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._max_hosts = max_hosts
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def _host(self, host: str) -> _Host:
        with self._lock:
            h = self._hosts.get(host)
            if h is None:
                if len(self._hosts) >= self._max_hosts:
                    now = self._clock()
                    for k in [k for k, v in self._hosts.items() if v.ready_at < now and not v.lock.locked()]:
                        del self._hosts[k]
                h = self._hosts[host] = _Host(interval=self.min_interval)
            return h

    def set_interval(self, host: str, seconds: float) -> None:
        """Space this host's requests further apart (never closer than min_interval)."""
        h = self._host(host)
        h.interval = max(self.min_interval, seconds)

    def defer(self, host: str, seconds: float) -> None:
        """No request to host for ``seconds`` from now (a server's Retry-After)."""
        h = self._host(host)
        h.ready_at = max(h.ready_at, self._clock() + seconds)

    @contextmanager
    def slot(self, host: str, deadline: float, stop: threading.Event) -> Iterator[None]:
        h = self._host(host)
        if not h.lock.acquire(timeout=min(max(0.0, deadline - self._clock()), threading.TIMEOUT_MAX)):
            raise PageRefused(PageSkip.BUDGET, f"{host} busy until the poll's page budget ran out")
        try:
            if h.ready_at > deadline:
                raise PageRefused(PageSkip.BUDGET, f"{host}'s next request is due after the poll's page budget")
            wait = h.ready_at - self._clock()
            if wait > 0 and stop.wait(wait):
                raise PageRefused(PageSkip.STOPPING, "poller stopping")
            try:
                yield
            finally:
                h.ready_at = max(h.ready_at, self._clock() + h.interval)
        finally:
            h.lock.release()


# --- decoding ------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
# WHATWG Encoding: these labels mean windows-1252 in HTML, and a document that declares UTF-16 in
# its own (8-bit readable) markup cannot be UTF-16.
_HTML_CODEC = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252", "utf-16": "utf-8",
               "utf-16-le": "utf-8", "utf-16-be": "utf-8"}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return _HTML_CODEC.get(name, name)


def _charset_param(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip()
    return None


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """An HTML page's bytes as text: BOM, else the Content-Type charset, else a <meta> charset in the
    first 4 KB, else UTF-8; undecodable bytes become U+FFFD (a page is never refused for them)."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", errors="replace")
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", errors="replace")
    name = _codec(_charset_param(content_type))
    if name is None:
        m = _META_CHARSET.search(body, 0, 4096)
        name = _codec(m.group(1).decode("ascii")) if m else None
    return body.decode(name or "utf-8", errors="replace")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


# --- fetching ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Response:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes | None  # read only for 2xx


class PageFetcher:
    """Fetches article pages; thread-safe, one per poller.

    ``addresses`` is the policy for pages when a call names none (``fetch_many(policy=...)``: the
    poller passes each feed's own).
    """

    def __init__(self, settings: PageSettings | None = None, *, addresses: AddressPolicy | None = None,
                 resolver: Resolver = system_resolver, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = s = settings or PageSettings()
        self.addresses = addresses or AddressPolicy()
        self._resolver = resolver
        self._clock = clock
        # No cookies: every page request is a first visit, and nothing grows per site.
        jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=0)
        self._client = httpx.Client(
            follow_redirects=False, trust_env=True, cookies=jar, limits=limits,
            transport=guarded_transport(limits, resolver=resolver),
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self.pacer = HostPacer(s.min_interval, clock=clock)
        self.robots = RobotsCache(self._fetch_robots, ttl=s.robots_ttl, error_ttl=s.robots_error_ttl, clock=clock)
        self._pool = ThreadPoolExecutor(max_workers=s.parallel_hosts, thread_name_prefix="pages")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    # -- public ---------------------------------------------------------------------------------

    def fetch_many(self, urls: Sequence[str | None], *, stop: threading.Event | None = None,
                   budget: float | None = None, policy: AddressPolicy | None = None) -> list[PageOutcome]:
        """One outcome per URL, in order, within ``budget`` seconds (default: settings.poll_budget).

        Pages of one host are fetched one after another (paced); different hosts in parallel.
        """
        stop = stop or threading.Event()
        policy = policy or self.addresses
        deadline = self._clock() + (self.settings.poll_budget if budget is None else budget)
        by_host: dict[str, list[int]] = defaultdict(list)
        for i, url in enumerate(urls):
            by_host[_host_key(url)].append(i)
        out: list[PageOutcome | None] = [None] * len(urls)

        def run(indexes: list[int]) -> None:
            for i in indexes:
                out[i] = self.fetch(urls[i], deadline=deadline, stop=stop, policy=policy)

        groups = list(by_host.values())
        if len(groups) == 1:
            run(groups[0])
        else:
            for fut in [self._pool.submit(run, g) for g in groups]:
                fut.result()
        return [o for o in out if o is not None]

    def fetch(self, url: str | None, *, deadline: float, stop: threading.Event,
              policy: AddressPolicy | None = None) -> PageOutcome:
        """One page, never raising for anything the page or its server does."""
        policy = policy or self.addresses
        page_deadline = min(deadline, self._clock() + self.settings.page_deadline)
        try:
            with guarded(policy, deadline=page_deadline, stop=stop, clock=self._clock):
                return PageOutcome(html=self._fetch_page(url, deadline, stop, policy))
        except DeadlineExceeded:
            outcome = (PageOutcome(None, PageSkip.BUDGET.slug, f"{url}: the poll's page budget ran out")
                       if page_deadline >= deadline else
                       PageOutcome(None, FailureKind.TIMEOUT.slug,
                                   f"{url} not in full within {self.settings.page_deadline:g} s"))
        except Interrupted:
            outcome = PageOutcome(None, PageSkip.STOPPING.slug, "poller stopping")
        except PageRefused as exc:
            outcome = PageOutcome(None, exc.skip.slug, exc.detail)
        except PollError as exc:
            outcome = PageOutcome(None, exc.kind.slug, exc.detail)
        except Exception as exc:  # a bug here must cost one page, never the item or the feed
            log.exception("page %s: unexpected error", url)
            outcome = PageOutcome(None, FailureKind.INTERNAL.slug, f"{type(exc).__name__}: {exc}")
        log.info("page %s not fetched (%s): %s", url, outcome.reason, outcome.detail)
        return outcome

    # -- one page -------------------------------------------------------------------------------

    def _fetch_page(self, url: str | None, deadline: float, stop: threading.Event, policy: AddressPolicy) -> str:
        s = self.settings
        if not url or not url.strip():
            raise PageRefused(PageSkip.NO_LINK, "entry has no link")
        target = _http_url(url.strip())
        if stop.is_set():
            raise PageRefused(PageSkip.STOPPING, "poller stopping")
        if self._clock() >= deadline:
            raise PageRefused(PageSkip.BUDGET, "the poll's page budget is used up")
        host = _host_key(url)
        # Addresses first: a private host must be refused as such, not as "robots.txt unreachable".
        self._addresses(target, policy)
        rules = self.robots.rules(str(target), deadline)
        if not rules.can_fetch(s.user_agent, str(target)):
            raise PageRefused(PageSkip.ROBOTS, f"{url} (rules from {rules.source})")
        delay = rules.crawl_delay(s.user_agent)
        if delay:
            self.pacer.set_interval(host, min(delay, s.max_crawl_delay))
        with self.pacer.slot(host, deadline, stop):
            resp = self._get(target, deadline, s.max_page_bytes, _ACCEPT_HTML)
        if not 200 <= resp.status < 300:
            kind = classify_status(resp.status) or FailureKind.CLIENT_ERROR
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
            if retry_after and resp.status in (429, 503):
                self.pacer.defer(host, min(retry_after, s.poll_budget))
            raise PollError(kind, f"HTTP {resp.status} from {resp.url}", status=resp.status)
        ctype = resp.headers.get("content-type")
        if ctype and _media_type(ctype) not in _HTML_TYPES:
            raise PageRefused(PageSkip.NOT_HTML, f"{resp.url} is {_media_type(ctype)}")
        if not (resp.body or b"").strip():
            raise PageRefused(PageSkip.NOT_HTML, f"{resp.url} answered {resp.status} with an empty body")
        return decode_html(resp.body or b"", ctype)

    def _fetch_robots(self, url: str, deadline: float) -> tuple[int, bytes | None]:
        target = _http_url(url)
        with self.pacer.slot(_host_key(url), deadline, threading.Event()):
            try:
                resp = self._get(target, deadline, self.settings.max_robots_bytes, "text/plain, */*;q=0.5")
            except DeadlineExceeded as exc:  # cached as unreachable, not asked again for every page
                raise PollError(FailureKind.TIMEOUT, f"{url} not in full before the page's deadline") from exc
        return resp.status, resp.body

    def _addresses(self, target: httpx.URL, policy: AddressPolicy) -> list[str]:
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if target.scheme == "https" else 80)
        return policy.addresses(host, port, self._resolver)

    def _get(self, url: httpx.URL, deadline: float, max_bytes: int, accept: str) -> _Response:
        """GET with manual redirects; the connection layer checks every hop's addresses and pins
        the connection to them (under the ``guarded`` context of ``fetch``)."""
        target = url
        for _hop in range(self.settings.max_redirects + 1):
            response = self._send(target, deadline, accept)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    try:
                        target = _http_url(str(target.join(location)))
                    except httpx.InvalidURL as exc:
                        raise PollError(FailureKind.BAD_RESPONSE, f"bad redirect {location!r}: {exc}") from exc
                    continue
                headers = {k.lower(): v for k, v in response.headers.items()}
                body = None
                if 200 <= response.status_code < 300:
                    try:
                        body = read_bounded(response, max_bytes, deadline=deadline, clock=self._clock)
                    except httpx.HTTPError as exc:
                        raise transport_error(exc, str(target)) from exc
                return _Response(response.status_code, str(target), headers, body)
            finally:
                response.close()
        raise PollError(FailureKind.TOO_MANY_REDIRECTS, f"more than {self.settings.max_redirects} redirects from {url}")

    def _send(self, target: httpx.URL, deadline: float, accept: str) -> httpx.Response:
        s = self.settings
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise PageRefused(PageSkip.BUDGET, f"the poll's page budget ran out fetching {target}")
        timeout = httpx.Timeout(connect=min(s.connect_timeout, remaining), read=min(s.read_timeout, remaining),
                                write=min(s.read_timeout, remaining), pool=min(s.connect_timeout, remaining))
        request = self._client.build_request("GET", target, timeout=timeout, headers={"Accept": accept})
        try:
            return self._client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise transport_error(exc, str(target)) from exc


def _http_url(url: str) -> httpx.URL:
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise PageRefused(PageSkip.NOT_HTTP, f"{url!r} is not a valid URL: {exc}") from exc
    if target.scheme not in ("http", "https") or not target.raw_host:
        raise PageRefused(PageSkip.NOT_HTTP, f"{url!r} is not an http(s) URL")
    return target


def _host_key(url: str | None) -> str:
    """host[:port], the unit of pacing."""
    try:
        return urlsplit(url or "").netloc.lower()
    except ValueError:
        return ""
