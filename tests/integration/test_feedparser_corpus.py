"""feedparser's own test corpus (some 2,100 well-formed, ill-formed, encoding and entity cases)
through the poller's parse path: the parser processes (``ParserPool``), the entity guard, the
character-reference repair and ``build_feed_items``, as a poll runs them.

The corpus is not part of this repository. Export the ``tests/`` directory of
https://github.com/kurtmckee/feedparser (``git archive HEAD tests | tar -x --strip-components=1``) to
``NEWSWIRE_FEEDPARSER_CORPUS`` (default /work/corpora/feedparser); the test is skipped without it.
"""

from __future__ import annotations

import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest

from pollers import FailureKind, FeedConfig, PollError, build_feed_items
from pollers.fetch import headers_for_parser
from pollers.parsing import ParseLimits, ParserPool
from transforms.errors import BrokenEntryError
from transforms.cleaning import parse_raw_item

pytestmark = pytest.mark.integration

CORPUS = Path(os.environ.get("NEWSWIRE_FEEDPARSER_CORPUS", "/work/corpora/feedparser"))
# Its own notation for the HTTP headers a case is served with.
_HEADER = re.compile(r"^Header:\s+([^:]+):(.*)$", re.MULTILINE)
# Cases that are no feed to the poller, and why: CDF (Microsoft's Channel Definition Format, 1997)
# channels without items, for which feedparser reports no feed version; an empty document.
NOT_FEEDS = re.compile(r"^(wellformed/cdf/channel_.*|illformed/rss_empty_document)\.xml$")


def _cases() -> list[Path]:
    return sorted(CORPUS.rglob("*.xml"))


def _headers(path: Path, data: bytes) -> dict[str, str]:
    found = {k.strip().lower(): v.strip() for k, v in _HEADER.findall(data.decode("utf-8", "ignore"))}
    url = f"http://127.0.0.1:8097/{path.relative_to(CORPUS)}"
    return headers_for_parser(found or {"content-type": "application/xml"}, url)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feedparser's corpus is not at {CORPUS} "
                                                 "(set NEWSWIRE_FEEDPARSER_CORPUS; see the module docstring)")
def test_feedparsers_corpus_through_the_poll_parse_path():
    cases = _cases()
    assert len(cases) > 2000, f"only {len(cases)} cases under {CORPUS}: not feedparser's tests/ directory?"
    feed = FeedConfig("corpus", "http://127.0.0.1:8097/feed.xml")
    fetched_at = datetime(2024, 3, 1, tzinfo=timezone.utc)

    def run(path: Path) -> tuple[str, str]:
        data = path.read_bytes()
        headers = _headers(path, data)
        try:
            parsed = pool.parse(data, headers)
        except PollError as exc:
            return path.relative_to(CORPUS).as_posix(), exc.kind.slug
        built = build_feed_items(feed, parsed.entries, fetched_at=fetched_at, http={}, channel_link=parsed.link,
                                 broken_entries=parsed.broken)
        for item in built.items:  # every message is one the pipeline reads, or dead-letters on purpose
            try:
                parse_raw_item(item.data, item.attributes)
            except BrokenEntryError:
                pass
        direct = feedparser.parse(io.BytesIO(data), response_headers=headers)
        if len(parsed.entries) != len(direct.entries):
            return path.relative_to(CORPUS).as_posix(), f"{len(parsed.entries)} entries, feedparser {len(direct.entries)}"
        return path.relative_to(CORPUS).as_posix(), "broken" if built.broken else "ok"

    with ParserPool(ParseLimits(processes=2)) as pool, ThreadPoolExecutor(4) as threads:
        outcomes = dict(threads.map(run, cases))

    failed = {name: why for name, why in outcomes.items() if why != "ok"}
    print(f"\nfeedparser corpus: {len(cases)} files, {len(cases) - len(failed)} read, "
          f"{len(failed)} not: {sorted(set(failed.values()))}")
    unexpected = {name: why for name, why in failed.items()
                  if not (why == FailureKind.NOT_A_FEED.slug and NOT_FEEDS.match(name))}
    assert unexpected == {}
    assert len(failed) <= 8
