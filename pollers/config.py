"""The feeds file: which feeds to poll, how often, and what agency they are likely to carry.

```yaml
feeds:
  - id: xinhua-world             # unique; becomes the feed_id of every item
    url: https://example.org/world/rss.xml
    agency: xinhua               # optional hint for the pipeline
    interval: 120                # seconds between polls, optional
    fetch_full_text: false       # also fetch each new entry's article page (summary-only feeds)
    allow_private: false         # the url is on an internal network: allow its host:port
```

With ``fetch_full_text: true`` the poller fetches the link of every entry it is about to publish and
sends the page's HTML in ``page_html``; the pipeline then takes the article text from the page. The
fetches are polite and bounded (robots.txt, a per-host rate limit, size and time limits, public
addresses only): see ``pollers.pages``.

Every request goes to public addresses only (``pollers.netpolicy``). A feed on an internal server
(10.x, 192.168.x, loopback, a name that resolves to one) needs ``allow_private: true``: that lets its
requests reach its own URL's host:port, and nothing else private; a redirect from it to another
internal address is still refused, and no redirect of a public feed ever reaches one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .netpolicy import url_endpoint

DEFAULT_INTERVAL = 300.0
# Anything faster is a mistake in a feeds file (it would hammer the publisher's server);
# tests build FeedConfig directly when they need shorter intervals.
MIN_INTERVAL = 1.0

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_AGENCY = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_KEYS = {"id", "url", "agency", "interval", "fetch_full_text", "allow_private"}


class FeedsFileError(ValueError):
    """The feeds file cannot be used; the message lists every problem and how to fix it."""

    def __init__(self, source: str, problems: list[str], lines: list[int | None] | None = None) -> None:
        self.source = source
        self.problems = problems
        # The line of the file each problem is on (1-based), where it is known.
        self.lines = list(lines) if lines is not None else [None] * len(problems)
        text = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the feeds file:\n{text}")

    def located(self) -> list[str]:
        """One line per problem, compiler style: ``FILE:LINE: problem`` (``FILE: problem`` when the
        line is not known)."""
        return [f"{self.source}:{line}: {p}" if line else f"{self.source}: {p}"
                for p, line in zip(self.problems, self.lines)]


@dataclass(frozen=True)
class FeedConfig:
    id: str
    url: str
    agency: str | None = None
    interval: float = DEFAULT_INTERVAL
    fetch_full_text: bool = False
    # The operator's choice to poll a feed on a private/loopback address: its own host:port only.
    allow_private: bool = False

    @property
    def host(self) -> str:
        """host[:port], the unit of the per-host concurrency limit."""
        return urlsplit(self.url).netloc.lower()

    @property
    def endpoint(self) -> str:
        """host:port the feed's URL connects to (what ``allow_private`` allows)."""
        return url_endpoint(self.url)


def _check_url(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "url is required and must be a string"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        example = f" (e.g. 'https://{url.strip()}')" if not parts.scheme and "://" not in url else ""
        return f"url {url!r} must start with http:// or https://{example}"
    if not parts.hostname:
        return f"url {url!r} has no host"
    return None


def _feed(raw: Any, where: str, problems: list[str]) -> FeedConfig | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: each feed must be a mapping with at least 'id' and 'url', got {raw!r}")
        return None
    before = len(problems)
    unknown = sorted(set(map(str, raw)) - _KEYS)
    if unknown:
        meant = [m for k in unknown for m in difflib.get_close_matches(k, sorted(_KEYS), n=1)]
        advice = f" (did you mean {', '.join(map(repr, meant))}?)" if meant else ""
        problems.append(f"{where}: unknown key(s) {unknown}{advice}; allowed: {sorted(_KEYS)}")
    feed_id = raw.get("id")
    if not isinstance(feed_id, str) or not _ID.match(feed_id):
        problems.append(f"{where}: id {feed_id!r} must be lowercase letters, digits, '.', '_' or '-' "
                        "(e.g. 'xinhua-world')")
    else:
        where = f"{where} ({feed_id})"
    if (msg := _check_url(raw.get("url"))) is not None:
        problems.append(f"{where}: {msg}")
    agency = raw.get("agency")
    if agency is not None and (not isinstance(agency, str) or not _AGENCY.match(agency)):
        problems.append(f"{where}: agency {agency!r} must be a lowercase slug such as 'xinhua' or 'ap'")
    interval = raw.get("interval", DEFAULT_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < MIN_INTERVAL:
        problems.append(f"{where}: interval {interval!r} must be a number of seconds >= {MIN_INTERVAL:g}")
    full = raw.get("fetch_full_text", False)
    if not isinstance(full, bool):
        problems.append(f"{where}: fetch_full_text {full!r} must be true or false")
    private = raw.get("allow_private", False)
    if not isinstance(private, bool):
        problems.append(f"{where}: allow_private {private!r} must be true or false")
    if len(problems) > before:
        return None
    return FeedConfig(id=feed_id, url=raw["url"].strip(), agency=agency,
                      interval=float(interval), fetch_full_text=full, allow_private=private)


def parse_feeds(doc: Any, source: str = "<feeds>", lines: Mapping[int, int] | None = None) -> list[FeedConfig]:
    """Validate a loaded feeds document; raise FeedsFileError listing every problem.

    ``lines`` maps a feed's index to the line of the file it starts on, so problems can say where.
    """
    lines = lines or {}
    if not isinstance(doc, Mapping) or "feeds" not in doc:
        raise FeedsFileError(source, ["the file must be a mapping with a top-level 'feeds:' list"])
    extra = sorted(set(map(str, doc)) - {"feeds"})
    problems: list[str] = [f"unknown top-level key(s) {extra}; only 'feeds' is allowed"] if extra else []
    at: list[int | None] = [None] * len(problems)
    raw_feeds = doc["feeds"]
    if not isinstance(raw_feeds, list) or not raw_feeds:
        raise FeedsFileError(source, problems + ["'feeds' must be a non-empty list of feeds"], at + [None])
    feeds: list[tuple[int, FeedConfig]] = []
    for i, raw in enumerate(raw_feeds):
        feed = _feed(raw, f"feeds[{i}]", problems)
        at += [lines.get(i)] * (len(problems) - len(at))
        if feed is not None:
            feeds.append((i, feed))
    seen_ids: dict[str, int] = {}
    seen_urls: dict[str, str] = {}
    for i, feed in feeds:
        if feed.id in seen_ids:
            problems.append(f"feed id {feed.id!r} is used more than once; ids must be unique")
            at.append(lines.get(i))
        seen_ids[feed.id] = 1
        if feed.url in seen_urls:
            problems.append(f"feeds {seen_urls[feed.url]!r} and {feed.id!r} have the same url {feed.url!r}; "
                            "poll each url once")
            at.append(lines.get(i))
        seen_urls.setdefault(feed.url, feed.id)
    if problems:
        raise FeedsFileError(source, problems, at)
    return [feed for _, feed in feeds]


def _feed_lines(text: str) -> dict[int, int]:
    """The line (1-based) each entry of the ``feeds:`` list starts on; {} when that is not known."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "feeds" and isinstance(value, yaml.SequenceNode):
                return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}


SERVE_PLACEHOLDER = "{serve}"


def load_feeds(path: str | Path, *, serve_base: str | None = None) -> list[FeedConfig]:
    """Read and validate a YAML feeds file.

    ``{serve}`` in the file stands for the base URL of a local server of feed files (the bundled
    samples use it); ``serve_base`` replaces it.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FeedsFileError(str(p), ["file not found (see feeds.example.yaml for the format)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedsFileError(str(p), [f"cannot read the file: {exc}"]) from exc
    if SERVE_PLACEHOLDER in text:
        if serve_base is None:
            raise FeedsFileError(str(p), [f"feed URLs use {SERVE_PLACEHOLDER}: serve the feed files locally "
                                          "(--serve DIR) so it can be replaced by that server's address"])
        text = text.replace(SERVE_PLACEHOLDER, serve_base.rstrip("/"))
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # The parser names the text "<unicode string>"; say the file, line and column instead.
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = " ".join(x for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
        if mark is not None:
            raise FeedsFileError(str(p), [f"not valid YAML: {what or exc} (column {mark.column + 1})"],
                                 [mark.line + 1]) from exc
        raise FeedsFileError(str(p), [f"not valid YAML: {exc}"]) from exc
    return parse_feeds(doc, str(p), _feed_lines(text))
