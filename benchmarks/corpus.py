"""Feed-sized raw items for benchmarks: ~1.5 KB of HTML content each, with typical boilerplate."""

from __future__ import annotations

import random

import orjson

_WORDS = ("harbour council ferry timetable island commuters minister budget rainfall bridge "
          "festival delegation talks ceasefire election turnout reservoir drought export grain "
          "port authority agreement officials statement spokesperson province capital summit").split()
_PLACES = ("PORT ALDEN", "VELMORA", "KASTRIN", "NORTH BELL", "OSSARA")
_AGENCIES = (("Xinhua", "xinhua"), ("AP", "ap"), ("Reuters", "reuters"), ("AFP", "afp"), ("AA", "anadolu"))


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 22))]
    return " ".join(words).capitalize() + "."


def make_item(i: int, rng: random.Random) -> dict:
    credit, _ = _AGENCIES[i % len(_AGENCIES)]
    paras = [" ".join(_sentence(rng) for _ in range(2)) for _ in range(5)]
    paras[0] = f"{rng.choice(_PLACES)}, March {1 + i % 28} ({credit}) -- {paras[0]}"
    html = (
        "<p>2 min read</p>"
        + "".join(f"<p>{p}</p>" for p in paras)
        + "<p>Advertisement</p><p>Leave a Reply</p><p>Your email address will not be published.</p>"
    )
    return {
        "schema_version": 1,
        "feed_id": f"bench-{i % 7}",
        "feed_url": f"https://site{i % 7}.example.org/rss.xml",
        "agency_hint": None,
        "fetched_at": "2026-03-02T10:00:00Z",
        "http": {"etag": None, "last_modified": None, "status": 200},
        "entry": {
            "id": f"bench-{i}",
            "link": f"https://site{i % 7}.example.org/news/{i}?utm_source=rss",
            "title": f"{_sentence(rng)[:70]} - Site {i % 7}",
            "summary": paras[1],
            "content": [{"type": "text/html", "value": html}],
            "published": "Mon, 02 Mar 2026 09:30:00 +0100",
            "updated": None, "author": None, "tags": ["world"], "media": [],
        },
        "page_html": None,
    }


def make_lines(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    return [orjson.dumps(make_item(i, rng)) for i in range(n)]
