"""robots.txt for the page fetcher: read once per site, cached for a while, honoured.

The standard library's ``urllib.robotparser`` reads the rules; this module decides what to do when
there are none to read (RFC 9309 §2.3.1):

- 2xx: the file's rules (for our user agent's product token, ``newswire``, else ``*``);
- 4xx (not 429): the site has no robots.txt, everything is allowed;
- 429, 5xx, a timeout, a connection failure, an oversized or unreachable file: everything is
  disallowed for now, and asked again after ``error_ttl`` (shorter than the normal TTL, so a site's
  brief outage does not cost its pages for an hour).

One request per site and TTL, however many threads ask at once: the first asks, the others wait for
its answer. The cache holds at most ``max_sites`` sites (expired ones go first).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from .errors import PollError
from .netpolicy import PageRefused, PageSkip

# (status, body) of the final response for a robots.txt URL; body only for 2xx. Raises PollError
# (transport) or PageRefused (address policy) when there is no response.
RobotsFetch = Callable[[str, float], tuple[int, bytes | None]]


@dataclass
class RobotsRules:
    parser: RobotFileParser
    expires: float
    source: str  # what we based the rules on, for logs: 'robots.txt', 'HTTP 404 (allow all)', …

    def can_fetch(self, user_agent: str, url: str) -> bool:
        return self.parser.can_fetch(user_agent, url)

    def crawl_delay(self, user_agent: str) -> float | None:
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None


@dataclass
class _Site:
    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: RobotsRules | None = None


def _parser(*, allow_all: bool = False, disallow_all: bool = False, text: str | None = None) -> RobotFileParser:
    p = RobotFileParser()
    if text is not None:
        p.parse(text.splitlines())
    p.allow_all = allow_all
    p.disallow_all = disallow_all
    return p


def origin(url: str) -> str:
    """scheme://host[:port], the unit robots.txt applies to."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class RobotsCache:
    def __init__(self, fetch: RobotsFetch, *, ttl: float = 3600.0, error_ttl: float = 300.0,
                 max_sites: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.error_ttl = error_ttl
        self.max_sites = max_sites
        self._clock = clock
        self._sites: dict[str, _Site] = {}
        self._lock = threading.Lock()
        self.fetches = 0  # robots.txt requests made (for tests and logs)

    def __len__(self) -> int:
        """Sites cached now."""
        with self._lock:
            return len(self._sites)

    def rules(self, url: str, deadline: float) -> RobotsRules:
        """The rules for url's site, fetched if not cached or expired.

        Raises PageRefused(BUDGET) when another thread's fetch of the same file outlasts deadline.
        """
        key = origin(url)
        with self._lock:
            site = self._sites.get(key)
            if site is None:
                self._prune()
                site = self._sites[key] = _Site()
        if not site.lock.acquire(timeout=min(max(0.0, deadline - self._clock()), threading.TIMEOUT_MAX)):
            raise PageRefused(PageSkip.BUDGET, f"waiting for {key}/robots.txt")
        try:
            if site.rules is None or site.rules.expires <= self._clock():
                site.rules = self._read(key, deadline)
            return site.rules
        finally:
            site.lock.release()

    def _read(self, key: str, deadline: float) -> RobotsRules:
        self.fetches += 1
        now = self._clock
        try:
            status, body = self._fetch(f"{key}/robots.txt", deadline)
        except (PollError, PageRefused) as exc:
            return RobotsRules(_parser(disallow_all=True), now() + self.error_ttl, f"unreachable ({exc})")
        if 200 <= status < 300:
            text = (body or b"").decode("utf-8", errors="replace")
            return RobotsRules(_parser(text=text), now() + self.ttl, "robots.txt")
        if 400 <= status < 500 and status != 429:
            return RobotsRules(_parser(allow_all=True), now() + self.ttl, f"HTTP {status} (allow all)")
        return RobotsRules(_parser(disallow_all=True), now() + self.error_ttl, f"HTTP {status} (disallow for now)")

    def _prune(self) -> None:
        """Called with self._lock held, before adding a site."""
        if len(self._sites) < self.max_sites:
            return
        now = self._clock()
        idle = [(s.rules.expires if s.rules else now, k) for k, s in self._sites.items()
                if s.rules is not None and not s.lock.locked()]
        idle.sort()
        # Everything expired, and at least a quarter of the cache, oldest first.
        drop = max(sum(1 for exp, _ in idle if exp <= now), self.max_sites // 4)
        for _, k in idle[:drop]:
            del self._sites[k]
