"""Feed-sized raw items for benchmarks: ~1.5 KB of HTML content each, with typical boilerplate."""

from __future__ import annotations

import random

import orjson

_NOUNS = ("harbour council", "ferry operator", "finance ministry", "port authority", "grain board",
          "election commission", "water utility", "rail union", "health agency", "coast guard",
          "central bank", "city assembly", "fisheries office", "energy regulator", "school board")
_VERBS = ("approved", "rejected", "delayed", "announced", "reviewed", "expanded", "suspended",
          "defended", "questioned", "welcomed")
_OBJECTS = ("a new timetable for the island crossings", "the budget for the coming year",
            "plans for a second reservoir", "an agreement on grain exports", "the reform of local taxes",
            "a ban on night fishing", "the results of the regional vote", "repairs to the old bridge",
            "a programme of free vaccinations", "the opening of a tidal power plant")
_TAILS = ("after weeks of talks with residents", "despite objections from the opposition",
          "in a statement issued on Tuesday", "according to officials who attended the meeting",
          "as rainfall in the province reached a record", "and said more details would follow",
          "while critics warned of higher costs for families", "at a news conference in the capital")
_PLACES = ("PORT ALDEN", "VELMORA", "KASTRIN", "NORTH BELL", "OSSARA")
_AGENCIES = (("Xinhua", "xinhua"), ("AP", "ap"), ("Reuters", "reuters"), ("AFP", "afp"), ("AA", "anadolu"))


_SYLLABLES = ("ka", "lo", "mer", "vin", "sa", "tor", "el", "bra", "nu", "dal", "ost", "ri", "gan", "fel")


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _sentence(rng: random.Random) -> str:
    """An English-like news sentence: function words as in real copy, and the people, places and
    figures of its own story (so different stories share phrases, not whole passages)."""
    return (f"The {rng.choice(_NOUNS)} of {_name(rng)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"{rng.choice(_TAILS)}, {_name(rng)} {_name(rng)} told reporters, citing "
            f"{rng.randint(2, 990)} cases.")


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
