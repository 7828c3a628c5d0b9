"""A fictional site's items for the learned-boilerplate tests (own text, built in code).

The site "Harbour Lights" ends every item with the same footer line, which no rule pack knows. On
one day it also runs a developing story: several updates, each with a new lead but quoting the same
statement and repeating the same background paragraph.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.factories import raw_item

FEED = "harbour-lights"
FOOTER = "Harbour Lights is written on Port Alden and read in every harbour of the strait."
QUOTE = "\"We will not reopen the harbour until the storm has passed,\" the harbour master said."
BACKGROUND = "The harbour was last closed for a week in the winter storms of two years ago."
DAY0 = datetime(2026, 3, 2, 7, 0, tzinfo=timezone.utc)

_PLACES = ("Port Alden", "Velmora", "Kastrin", "North Bell", "Ossara", "Tarn Ferry", "Lowmere")
_SUBJECTS = ("library", "ferry timetable", "fish market", "school roof", "lighthouse", "water main",
             "bus depot", "night market", "cycle lane", "bakery", "chess club", "choir", "museum",
             "boat yard", "clinic", "post office", "dance hall", "orchard", "quay", "tide gauge")
_VERBS = ("reopens", "is repaired", "wins a grant", "gets new staff", "extends its hours", "is sold",
          "celebrates an anniversary", "moves to the old customs house")


def _story(i: int) -> tuple[str, tuple[str, ...]]:
    place, subject = _PLACES[i % len(_PLACES)], _SUBJECTS[i % len(_SUBJECTS)]
    verb = _VERBS[i % len(_VERBS)]
    title = f"{place} {subject} {verb}"
    return title, (
        f"The {subject} in {place} {verb} this week, residents were told at a meeting on day {i}.",
        f"Organisers of the {subject} said {i + 3} volunteers had helped and thanked the {place} council.",
    )


def _at(day: int, minutes: int) -> datetime:
    return DAY0 + timedelta(days=day, minutes=minutes)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(t: datetime) -> str:
    return t.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _item(n: int, title: str, paragraphs: tuple[str, ...], fetched: datetime) -> dict:
    return raw_item(feed_id=FEED, guid=f"hl-{n:03d}", link=f"https://harbourlights.example.org/{n}",
                    title=title, paragraphs=(*paragraphs, FOOTER), fetched_at=_stamp(fetched),
                    published=_rfc822(fetched - timedelta(minutes=20)))


def storm_update(k: int) -> tuple[str, tuple[str, ...]]:
    """The k-th update of the day's developing story: a new lead, the same quote and background."""
    return (f"Storm update {k}: harbour stays shut as winds reach {60 + 5 * k} km/h",
            (f"Gusts of {60 + 5 * k} km/h were measured at the pier at {k + 6} o'clock, update {k} said.",
             QUOTE, BACKGROUND))


def site_items(*, days: int = 4, per_day: int = 5, storm_day: int = 1, storm_updates: int = 10) -> list[dict]:
    """The site's items in fetch order: ``per_day`` ordinary stories a day for ``days`` days, and on
    ``storm_day`` (after its ordinary stories) ``storm_updates`` updates of one developing story."""
    items, n = [], 0
    for day in range(days):
        for j in range(per_day):
            title, paras = _story(n)
            items.append(_item(n, title, paras, _at(day, 60 * j)))
            n += 1
        if day == storm_day:
            for k in range(storm_updates):
                title, paras = storm_update(k)
                items.append(_item(n, title, paras, _at(day, 60 * per_day + 10 * k)))
                n += 1
    return items
