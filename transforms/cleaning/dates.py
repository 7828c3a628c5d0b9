"""Feed date strings → aware UTC datetimes.

Feeds write dates as RFC 822/1123 (RSS), RFC 3339/ISO 8601 (Atom) or free text ("November 5, 2023
2:02 PM EST"). The standard library and the installed parsers were checked first:

- ``email.utils.parsedate_tz`` reads RFC 822 but reports an *unknown* zone (JST, KST, CET …) as
  UTC, and silently drops ``PM`` in free text;
- feedparser's ``_parse_date`` likewise maps every zone name it does not know to UTC, rolls
  impossible times over (25:14 becomes 01:14 the next day) and completes ``2003`` to January 1;
- ``dateutil.parser`` reads almost anything and honours zone names given through ``tzinfos``, but is
  slow (~50 µs), reads ``GMT+8`` with POSIX sign inversion (as UTC−8), and completes what a string
  leaves out (``Tuesday``, ``2003-12``) from today's date, so the result changes with the calendar.

So: ISO-looking strings go to a strict reader of the ISO 8601 forms feeds use (also MSSQL's
``2004-07-08 23:56:58 -00:20`` and two-digit or ordinal dates), well-formed RFC 822 and asctime to
small regexes using the zone table below, dates in Greek, Hungarian and Korean (forms feedparser
knows) to the same readers after translation, everything else to dateutil with the same table
(``GMT+8``/``UTC+08:00`` rewritten to ``+08:00`` first), and accepted from dateutil only if it
needed nothing from the calendar: a string without its year, month and day is no date. A date
without a time is midnight. Nothing here raises: an impossible offset (``-99:99``), hour or day
is no date, and the caller falls back to the fetch time and says so.

Zone abbreviations are ambiguous; the table picks one meaning per name and says why:
- EST/EDT/CST/CDT/MST/MDT/PST/PDT are the North American zones, as RFC 822 defines them
  (so CST is US Central, not China Standard Time: RFC 822 feeds mean the RFC's zone);
- ET/CT/MT/PT/AT (US Eastern, Central, Mountain, Pacific and Atlantic time, season unsaid) are
  read in their zones, America/New_York and so on, so summer dates get daylight time;
- IST is India Standard Time (+05:30): three of the agencies ingested (PTI, ANI, IANS) are Indian,
  and feeds rarely label Irish or Israel time this way;
- AST is Arabia Standard Time (+03:00), as used by Gulf outlets (KUNA), not Atlantic time;
- BST is British Summer Time (+01:00); GST is Gulf Standard Time (+04:00).
A zone given as an IANA name (``Europe/Paris``, ``Etc/GMT``) is read as that zone. A string with no
zone at all is read as UTC, except the Korean forms, which the Korean platforms that write them mean
as KST. A zone name not in the table is ignored (read as UTC) rather than discarding the date: a
few hours off beats falling back to the fetch time.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
# Zones named without their season: read in the zone (its standard offset when the machine has no
# time zone database).
TZ_REGIONS: dict[str, tuple[str, int]] = {
    "ET": ("America/New_York", -5 * _H), "CT": ("America/Chicago", -6 * _H),
    "MT": ("America/Denver", -7 * _H), "PT": ("America/Los_Angeles", -8 * _H),
    "AT": ("America/Halifax", -4 * _H),
}
_KST = timezone(timedelta(hours=9))

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_ZONE = r"(?P<off>[+-]\d{2}:?\d{2})|(?P<tz>[A-Za-z]{1,5}|[A-Za-z]+/[A-Za-z_+-]+(?:/[A-Za-z_+-]+)?)"
_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
_RFC822 = re.compile(
    r"(?:[A-Za-z]{3,9}\s*,\s*|[A-Za-z]{3,9}\s+)?(?P<d>\d{1,2})[\s-]+(?P<mon>[A-Za-z]{3})[A-Za-z]*\.?,?[\s-]+"
    r"(?P<y>\d{4}|\d{2}),?(?:\s+" + _TIME + r"(?:\s*(?:" + _ZONE + r"))?)?\s*"
)
# "Thu Aug 30 2012 17:26:16 +0200" (JavaScript's Date), asctime "Sun Jan  4 16:29:06 2004" and
# "Sun Jul 15 01:16:00 +0000 2012" (Twitter's).
_MONTH_FIRST = re.compile(
    r"(?:[A-Za-z]{3,9},?\s+)?(?P<mon>[A-Za-z]{3})[A-Za-z]*\s+(?P<d>\d{1,2}),?\s+"
    r"(?:(?P<y>\d{4})\s+" + _TIME + r"(?:\s*(?:" + _ZONE + r"))?"
    r"|(?P<H2>\d{1,2}):(?P<M2>\d{2})(?::(?P<S2>\d{2}))?(?:\s+(?P<off2>[+-]\d{4}))?\s+(?P<y2>\d{4}))\s*"
)
_ISO = re.compile(
    r"(?P<y>\d{4})-?(?P<m>0?\d{2})-?(?P<d>\d{2})"  # 0?: "2003-012-31", Google's extra zero
    r"(?:[T\s](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<frac>\d+))?)?"
    r"(?:\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)|\s+(?P<tz>[A-Za-z]{1,5}|[A-Za-z]+/[A-Za-z_+-]+(?:/[A-Za-z_+-]+)?))?)?",
    re.IGNORECASE)
_ISO_SHORT = re.compile(r"(?P<y>\d{2})(-?)(?P<m>\d{2})\2(?P<d>\d{2})")  # 031231, 03-12-31
_ISO_ORDINAL = re.compile(r"(?P<y>\d{4}|\d{2})-?(?P<doy>\d{3})")  # 2003335, 03335
_ISOISH = re.compile(r"\d{4}-?\d{2}")
# "GMT+8", "UTC+08:00", "GMT-0330": a named zone plus an offset meant literally.
_NAMED_OFFSET = re.compile(r"\b(?:GMT|UTC|UT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b")

_GREEK_MONTHS = {"ιαν": "Jan", "φεβ": "Feb", "μάρ": "Mar", "μαρ": "Mar", "μάώ": "Mar", "μαώ": "Mar",
                 "απρ": "Apr", "μάι": "May", "μαϊ": "May", "μαι": "May", "ιούν": "Jun", "ιουν": "Jun",
                 "ιον": "Jun", "ιούλ": "Jul", "ιουλ": "Jul", "ιολ": "Jul", "αύγ": "Aug", "αυγ": "Aug",
                 "σεπ": "Sep", "οκτ": "Oct", "νοέ": "Nov", "νοε": "Nov", "δεκ": "Dec"}
_GREEK_DAYS = {"κυρ": "Sun", "δευ": "Mon", "τρι": "Tue", "τετ": "Wed", "πεμ": "Thu", "παρ": "Fri", "σαβ": "Sat"}
_GREEK_WORD = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]+")
_HUNGARIAN_MONTHS = {"január": 1, "február": 2, "március": 3, "április": 4, "május": 5, "június": 6,
                     "július": 7, "augusztus": 8, "szeptember": 9, "október": 10, "november": 11,
                     "december": 12}
_HUNGARIAN = re.compile(r"(\d{4})-([a-záéíóöőúüű]+)-(\d{1,2})", re.IGNORECASE)
# Korean blog platforms: "2004-05-25 오후 11:23:17" (오전 am, 오후 pm) and "2004년 05월 28일 01:31:15".
_KOREAN_AMPM = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})\s+(오전|오후)\s+(\d{1,2}):(\d{2})(?::(\d{2}))?")
_KOREAN_YMD = re.compile(r"(\d{4})년\s*(\d{1,2})월\s*(\d{1,2})일(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")

# Dates before this, or more than a day after the fetch, are feed bugs (epoch zero, wrong year).
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=timezone.utc)
MAX_FUTURE = timedelta(days=1)
# Two calendars for dateutil to complete from: a part taken from them differs between the two.
_DEFAULTS = (datetime(1904, 1, 1), datetime(1905, 2, 2))


def _aware_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _offset(text: str) -> int | None:
    """Seconds east of UTC for "+0800", "-01:01", "+08" or "Z"; None if impossible."""
    if text.upper() == "Z":
        return 0
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        return None
    return (-1 if text[0] == "-" else 1) * (hours * 3600 + minutes * 60)


def _region(name: str, local: datetime) -> int:
    zone, standard = TZ_REGIONS[name]
    try:
        offset = local.replace(tzinfo=ZoneInfo(zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return standard
    return int(offset.total_seconds()) if offset is not None else standard


def _named_zone(name: str, local: datetime) -> int | None:
    """Seconds east of UTC for a zone name at a local time; None if unknown."""
    upper = name.upper()
    if upper in TZ_ABBREVIATIONS:
        return TZ_ABBREVIATIONS[upper]
    if upper in TZ_REGIONS:
        return _region(upper, local)
    if "/" in name:
        if upper in ("ETC/GMT", "ETC/UTC", "ETC/UCT", "ETC/ZULU", "ETC/UNIVERSAL"):
            return 0
        try:
            offset = local.replace(tzinfo=ZoneInfo(name)).utcoffset()
        except (ZoneInfoNotFoundError, ValueError):
            return None
        return int(offset.total_seconds()) if offset is not None else None
    return None


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        micro: int = 0, *, offset: int | None = 0, tz: tzinfo | None = None) -> datetime | None:
    """The UTC instant of a local time, or None when the parts are impossible. A leap second
    (:60) is read as :59."""
    if offset is None:
        return None
    try:
        local = datetime(year, month, day, hour, minute, 59 if second == 60 else second, micro, tzinfo=tz)
    except (ValueError, OverflowError):
        return None
    if tz is not None:
        return local.astimezone(timezone.utc)
    try:
        return (local - timedelta(seconds=offset)).replace(tzinfo=timezone.utc)
    except OverflowError:
        return None


def _two_digit_year(year: int) -> int:
    return year + (2000 if year < 50 else 1900)  # RFC 2822 §4.3


def _zone_offset(m: re.Match, local: datetime, off: str = "off", tz: str = "tz") -> int | None | bool:
    """The match's zone in seconds east; 0 when it names none; None when it is impossible; False
    when it is a name we do not know."""
    if m[off]:
        return _offset(m[off])
    if m[tz]:
        found = _named_zone(m[tz], local)
        return False if found is None else found
    return 0


def _from_rfc822(m: re.Match) -> datetime | None | bool:
    mon = _MONTHS.get(m["mon"].lower())
    if mon is None:
        return None
    year = int(m["y"]) if len(m["y"]) == 4 else _two_digit_year(int(m["y"]))
    hour, minute, second = int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0)
    try:
        local = datetime(year, mon, int(m["d"]), min(hour, 23), min(minute, 59))
    except ValueError:
        return None
    offset = _zone_offset(m, local)
    if offset is False:
        return False  # let dateutil have a go; it may know better (e.g. "PM" mistaken as zone)
    return _at(year, mon, int(m["d"]), hour, minute, second, offset=offset)


def _from_month_first(m: re.Match) -> datetime | None:
    mon = _MONTHS.get(m["mon"].lower())
    if mon is None:
        return None
    if m["y"]:
        year, hour, minute, second = int(m["y"]), int(m["H"]), int(m["M"]), int(m["S"] or 0)
        try:
            local = datetime(year, mon, int(m["d"]), min(hour, 23), min(minute, 59))
        except ValueError:
            return None
        offset = _zone_offset(m, local)
        if offset is False:
            offset = 0  # an unknown name: read as UTC, as everywhere
    else:
        year, hour, minute, second = int(m["y2"]), int(m["H2"]), int(m["M2"]), int(m["S2"] or 0)
        offset = _offset(m["off2"]) if m["off2"] else 0
    return _at(year, mon, int(m["d"]), hour, minute, second, offset=offset)


def _from_iso(s: str) -> datetime | None:
    """The ISO 8601 forms feeds use, strictly: anything else that starts like ISO is no date."""
    m = _ISO.fullmatch(_NAMED_OFFSET.sub(_named_offset, s))
    if m:
        month = m["m"]
        if len(month) == 3 and not month.startswith("0"):
            return None
        frac = (m["frac"] or "")[:6].ljust(6, "0")
        hour = int(m["H"] or 0)
        if m["z"]:
            offset = _offset(m["z"])
        elif m["tz"]:
            try:
                local = datetime(int(m["y"]), int(month), int(m["d"]), min(hour, 23), min(int(m["M"] or 0), 59))
            except ValueError:
                return None
            offset = _named_zone(m["tz"], local)
            offset = 0 if offset is None else offset  # an unknown name: read as UTC, as everywhere
        else:
            offset = 0
        if hour == 24 and int(m["M"] or 0) == 0 and int(m["S"] or 0) == 0:  # 24:00 ends the day
            start = _at(int(m["y"]), int(month), int(m["d"]), offset=offset)
            return None if start is None else start + timedelta(days=1)
        return _at(int(m["y"]), int(month), int(m["d"]), hour, int(m["M"] or 0), int(m["S"] or 0),
                   int(frac), offset=offset)
    m = _ISO_SHORT.fullmatch(s)
    if m:
        return _at(_two_digit_year(int(m["y"])), int(m["m"]), int(m["d"]))
    m = _ISO_ORDINAL.fullmatch(s)
    if m:
        year = int(m["y"]) if len(m["y"]) == 4 else _two_digit_year(int(m["y"]))
        start = _at(year, 1, 1)
        doy = int(m["doy"])
        if start is None or not 1 <= doy <= (366 if _at(year, 2, 29) else 365):
            return None
        return start + timedelta(days=doy - 1)
    return None


def _translated(s: str) -> str | None:
    """A Greek or Hungarian date in English words, or None if it is neither."""
    if _GREEK_WORD.search(s):
        def word(m: re.Match) -> str:
            w = m.group(0).lower()
            return _GREEK_MONTHS.get(w) or _GREEK_DAYS.get(w) or m.group(0)
        return _GREEK_WORD.sub(word, s)
    m = _HUNGARIAN.match(s)
    if m and m[2].lower() in _HUNGARIAN_MONTHS:
        return f"{m[1]}-{_HUNGARIAN_MONTHS[m[2].lower()]:02d}-{int(m[3]):02d}{s[m.end():]}"
    return None


def _korean(s: str) -> datetime | None:
    m = _KOREAN_AMPM.fullmatch(s)
    if m:
        hour = int(m[5]) % 12 + (12 if m[4] == "오후" else 0)
        return _at(int(m[1]), int(m[2]), int(m[3]), hour, int(m[6]), int(m[7] or 0), tz=_KST)
    m = _KOREAN_YMD.fullmatch(s)
    if m:
        return _at(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(m[5] or 0), int(m[6] or 0), tz=_KST)
    return None


def _named_offset(m: re.Match) -> str:
    return f"{m[1]}{int(m[2]):02d}:{m[3] or '00'}"


def _tzinfos(name: str | None, offset: int | None) -> int | tzinfo | None:
    """dateutil's zone lookup: the table, then the regions; a bare offset as given; an unknown
    name is None (read as UTC)."""
    upper = (name or "").upper()
    if upper in TZ_ABBREVIATIONS:
        return TZ_ABBREVIATIONS[upper]
    if upper in TZ_REGIONS:
        zone, standard = TZ_REGIONS[upper]
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return standard
    return offset


def _from_dateutil(s: str) -> datetime | None:
    """dateutil, accepted only when the string gave year, month and day itself."""
    s = _NAMED_OFFSET.sub(_named_offset, s)
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UnknownTimezoneWarning: handled by reading as UTC
        for default in _DEFAULTS:
            try:
                found.append(_du_parser.parse(s, default=default, tzinfos=_tzinfos))
            except (ValueError, OverflowError, TypeError, ArithmeticError):
                return None
    a, b = found
    if (a.year, a.month, a.day) != (b.year, b.month, b.day):
        return None  # a part came from the calendar, not the string
    try:
        offset = a.utcoffset()
    except ValueError:
        return None
    if offset is not None and abs(offset) >= timedelta(hours=24):
        return None
    try:
        return _aware_utc(a)
    except (ValueError, OverflowError):
        return None


def _parse(s: str) -> datetime | None:
    korean = _korean(s)
    if korean is not None:
        return korean
    if _ISOISH.match(s) or _ISO_ORDINAL.fullmatch(s) or _ISO_SHORT.fullmatch(s):
        iso = _from_iso(s)
        if iso is not None or _ISOISH.match(s):
            return iso
    m = _RFC822.fullmatch(s)
    if m:
        dt = _from_rfc822(m)
        if dt is not False:
            return dt
    m = _MONTH_FIRST.fullmatch(s)
    if m:
        return _from_month_first(m)
    translated = _translated(s)
    if translated is not None and translated != s:
        return _parse(translated)
    return _from_dateutil(s)


def parse_date(raw: str | None) -> datetime | None:
    """An aware UTC datetime for a feed date string, or None if it cannot be read. Never raises."""
    if not raw or not isinstance(raw, str):
        return None
    s = raw.strip()
    if not s or len(s) > 200:
        return None
    try:
        return _parse(s)
    except (ValueError, OverflowError, TypeError, ArithmeticError, RecursionError):
        return None


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
