"""Feed date strings → aware UTC datetimes.

Feeds write dates as RFC 822/1123 (RSS), RFC 3339/ISO 8601 (Atom) or free text ("November 5, 2023
2:02 PM EST"). The standard library and the installed parsers were checked first:

- ``email.utils.parsedate_tz`` reads RFC 822 but reports an *unknown* zone (JST, KST, CET …) as
  UTC, and silently drops ``PM`` in free text;
- feedparser's ``_parse_date`` likewise maps every zone name it does not know to UTC;
- ``dateutil.parser`` reads almost anything and honours zone names given through ``tzinfos``, but is
  slow (~50 µs) and reads ``GMT+8`` with POSIX sign inversion (as UTC−8).

So: ISO strings go to ``datetime.fromisoformat``, well-formed RFC 822 to a small regex using the
zone table below, everything else to dateutil with the same table (``GMT+8``/``UTC+08:00`` rewritten
to ``+08:00`` first).

Zone abbreviations are ambiguous; the table picks one meaning per name and says why:
- EST/EDT/CST/CDT/MST/MDT/PST/PDT are the North American zones, as RFC 822 defines them
  (so CST is US Central, not China Standard Time: RFC 822 feeds mean the RFC's zone);
- IST is India Standard Time (+05:30): three of the agencies ingested (PTI, ANI, IANS) are Indian,
  and feeds rarely label Irish or Israel time this way;
- AST is Arabia Standard Time (+03:00), as used by Gulf outlets (KUNA), not Atlantic time;
- BST is British Summer Time (+01:00); GST is Gulf Standard Time (+04:00).
A string with no zone at all is read as UTC. A zone name not in the table is ignored (read as UTC)
rather than discarding the date: a few hours off beats falling back to the fetch time.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dateutil import parser as _du_parser

_H = 3600
TZ_ABBREVIATIONS: dict[str, int] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": _H, "BST": _H,
    "EST": -5 * _H, "EDT": -4 * _H, "CST": -6 * _H, "CDT": -5 * _H,
    "MST": -7 * _H, "MDT": -6 * _H, "PST": -8 * _H, "PDT": -7 * _H,
    "AKST": -9 * _H, "AKDT": -8 * _H, "HST": -10 * _H,
    "CET": _H, "CEST": 2 * _H, "MET": _H, "MEST": 2 * _H, "EET": 2 * _H, "EEST": 3 * _H,
    "MSK": 3 * _H, "TRT": 3 * _H, "AST": 3 * _H, "GST": 4 * _H,
    "IRST": 3 * _H + 1800, "IRDT": 4 * _H + 1800, "PKT": 5 * _H, "IST": 5 * _H + 1800,
    "NPT": 5 * _H + 2700, "ICT": 7 * _H, "WIB": 7 * _H, "WITA": 8 * _H, "WIT": 9 * _H,
    "HKT": 8 * _H, "SGT": 8 * _H, "MYT": 8 * _H, "PHT": 8 * _H, "AWST": 8 * _H,
    "JST": 9 * _H, "KST": 9 * _H, "ACST": 9 * _H + 1800, "AEST": 10 * _H, "AEDT": 11 * _H,
    "NZST": 12 * _H, "NZDT": 13 * _H,
    "SAST": 2 * _H, "CAT": 2 * _H, "EAT": 3 * _H, "WAT": _H,
    "BRT": -3 * _H, "ART": -3 * _H,
}

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_RFC822 = re.compile(
    r"(?:[A-Za-z]{3,9},?\s+)?(?P<d>\d{1,2})[\s-]+(?P<mon>[A-Za-z]{3})[A-Za-z]*\.?[\s-]+(?P<y>\d{2}|\d{4})"
    r"\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
    r"(?:\s*(?P<off>[+-]\d{4})|\s+(?P<tz>[A-Za-z]{1,5}))?\s*"
)
_ISOISH = re.compile(r"\d{4}-?\d{2}-?\d{2}")
# "GMT+8", "UTC+08:00", "GMT-0330": a named zone plus an offset meant literally.
_NAMED_OFFSET = re.compile(r"\b(?:GMT|UTC|UT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b")

# Dates before this, or more than a day after the fetch, are feed bugs (epoch zero, wrong year).
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=timezone.utc)
MAX_FUTURE = timedelta(days=1)


def _aware_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _from_rfc822(m: re.Match) -> datetime | None:
    mon = _MONTHS.get(m["mon"].lower())
    if mon is None:
        return None
    year = int(m["y"])
    if year < 100:  # RFC 2822 §4.3: two-digit years
        year += 2000 if year < 50 else 1900
    if m["off"]:
        sign = -1 if m["off"][0] == "-" else 1
        offset = sign * (int(m["off"][1:3]) * 3600 + int(m["off"][3:5]) * 60)
    elif m["tz"]:
        offset = TZ_ABBREVIATIONS.get(m["tz"].upper())
        if offset is None:
            return None  # let dateutil have a go; it may know better (e.g. "PM" mistaken as zone)
    else:
        offset = 0
    try:
        local = datetime(year, mon, int(m["d"]), int(m["H"]), int(m["M"]), int(m["S"] or 0))
    except ValueError:
        return None
    return (local - timedelta(seconds=offset)).replace(tzinfo=timezone.utc)


def _named_offset(m: re.Match) -> str:
    return f"{m[1]}{int(m[2]):02d}:{m[3] or '00'}"


def parse_date(raw: str | None) -> datetime | None:
    """An aware UTC datetime for a feed date string, or None if it cannot be read."""
    if not raw:
        return None
    s = raw.strip()
    if not s:
        return None
    if _ISOISH.match(s):
        try:
            return _aware_utc(datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00")))
        except ValueError:
            pass
    m = _RFC822.fullmatch(s)
    if m:
        dt = _from_rfc822(m)
        if dt is not None:
            return dt
    s = _NAMED_OFFSET.sub(_named_offset, s)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # UnknownTimezoneWarning: handled by reading as UTC
            dt = _du_parser.parse(s, tzinfos=TZ_ABBREVIATIONS)
    except (ValueError, OverflowError, TypeError):
        return None
    return _aware_utc(dt)


@dataclass(frozen=True)
class Published:
    """When an item was published, and whether that came from the feed or from the fetch time."""

    at: datetime
    raw: str | None
    from_fetch: bool


def resolve_published(published: str | None, updated: str | None, fetched_at: datetime) -> Published:
    """The feed's publication date (else its update date), or ``fetched_at`` flagged as a fallback.

    A date that cannot be read, lies before 1990 or more than a day after the fetch is unusable; its
    raw string is still kept so the row shows what the feed said.
    """
    fetched = _aware_utc(fetched_at)
    for raw in (published, updated):
        dt = parse_date(raw)
        if dt is not None and EARLIEST_PLAUSIBLE <= dt <= fetched + MAX_FUTURE:
            return Published(at=dt, raw=raw, from_fetch=False)
    return Published(at=fetched, raw=published or updated, from_fetch=True)
