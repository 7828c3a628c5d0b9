"""Canonical article URLs: one spelling per article, so the URL can serve as an identity key.

Why not ``courlan.normalize_url`` (installed with trafilatura)? Its default mode keeps fragments and
drops every query key that merely *contains* words such as ``source``, ``cid``, ``uid`` or ``ref``;
its strict mode keeps only a short allow-list (``id``, ``p``, ``page`` …). Either way two different
articles of a site using ``?cid=123`` or ``?article=5`` would collapse into one URL, and here a URL
collision merges two articles into one ``article_id`` — much worse than a missed duplicate. So the
tracker list below is explicit (exact names plus a few vendor prefixes), and everything else is kept.

Decisions:
- scheme and host lowercased, a non-ASCII host spelled in IDNA, userinfo dropped, default port dropped;
- path kept byte for byte (paths are case-sensitive; re-quoting could change what the server sees),
  an empty path becomes ``/``;
- tracking parameters removed; the remaining ``key=value`` pairs keep their original encoding and
  are sorted by key (stable, so repeated keys keep their order): servers read a query as a map, while
  feeds and share buttons emit the same parameters in different orders;
- the fragment is dropped (it never selects a different article), except a ``#!`` hash-bang, which
  on single-page sites *is* the article route.

``outlet_of`` names the outlet that published a URL: the registrable domain of its host (the Public
Suffix List's "private suffix", bundled with ``publicsuffixlist``, never fetched at run time), so
``news.example.co.uk`` and ``www.example.co.uk`` are one outlet, ``example.co.uk``.

``guid_identifies`` says whether an entry's guid can name its article at all: cleaning takes such a
guid that is a URL as the article's URL, identity and the learner key on it.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from transforms.model import RawItem

# Exact parameter names (compared lowercased). Each is a click/campaign identifier that never
# selects content: ad-click ids, mail-campaign ids, social share ids, referrer tags.
TRACKING_PARAMS: frozenset[str] = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "ttclid", "igshid", "igsh", "li_fat_id", "epik",
    "ocid", "cmpid", "cmp", "icid", "ncid", "cid_source", "smid", "smtyp",
    "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "hsctatracking",
    "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_kwcid", "xtor",
    "ref_src", "ref_url", "ref", "referrer", "sr_share", "share", "__twitter_impression",
    "wt.mc_id", "wt_mc_id", "trk", "trkcampaign", "ito",
})
# Vendor prefixes whose every parameter is tracking (utm_ Google/Urchin, pk_ Piwik, mtm_ Matomo,
# mc_ Mailchimp, at_ AT Internet, hmb_ HubSpot, ga_ Google Analytics).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "ga_", "hmb_", "at_", "mc_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_URLISH = re.compile(r"^https?://", re.I)


def is_tracking_param(name: str) -> bool:
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _host(netloc_host: str) -> str:
    host = netloc_host.lower().rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # keep the Unicode spelling rather than lose the URL
    return host


def canonical_url(url: str | None) -> str | None:
    """The canonical form of an http(s) URL (see module doc), or None if it is not one."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = _host(parts.hostname)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    pairs = [p for p in parts.query.split("&") if p and not is_tracking_param(p.split("=", 1)[0])]
    pairs.sort(key=lambda p: unquote_plus(p.split("=", 1)[0]))
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    return urlunsplit((scheme, netloc, parts.path or "/", "&".join(pairs), fragment))


@lru_cache(maxsize=1)
def _suffix_list():
    # Loaded on first use (a tenth of a second): most processes that import cleaning never ask.
    # publicsuffixlist reads the copy of the list bundled with its release; only its separate
    # ``update`` command downloads, and nothing here calls it.
    from publicsuffixlist import PublicSuffixList  # noqa: PLC0415

    return PublicSuffixList()


@lru_cache(maxsize=65536)
def outlet_of_host(hostname: str) -> str | None:
    """The outlet of a host name: its registrable domain, lowercase, IDNA-spelled, without
    ``www.``. A host that has none (an IP address, ``localhost``, a bare public suffix) is its own
    outlet. Cached: a stream carries a few thousand hosts, each many times."""
    host = _host(hostname.strip().strip("[]"))
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
        return host  # an address names a server, not a domain
    except ValueError:
        pass
    if "." not in host:
        return host
    registrable = _suffix_list().privatesuffix(host)
    if registrable is None:  # the host is itself a public suffix (a site on "co.uk" itself)
        registrable = host
    return registrable[4:] if registrable.startswith("www.") and registrable.count(".") > 1 else registrable


def outlet_of(*urls: str | None) -> str | None:
    """The outlet (``articles.outlet``) of the first of ``urls`` that is an http(s) URL with a
    host, e.g. the canonical URL, else the feed's link, else the feed's own URL; None if none is."""
    for url in urls:
        if not url:
            continue
        try:
            parts = urlsplit(url.strip())
            hostname = parts.hostname
        except ValueError:
            continue
        if parts.scheme.lower() in _DEFAULT_PORTS and hostname:
            outlet = outlet_of_host(hostname)
            if outlet:
                return outlet
    return None


def is_home_page_url(url: str | None) -> bool:
    """True for an http(s) URL that names a site's home page: path empty or ``/``, no query (once
    tracking parameters are removed), no ``#!`` route.

    A guid like that names the site, not an article: CMSs that put the home page in every item's
    guid are common, and taking it as the article's URL would merge every item of the feed into one
    article.
    """
    canonical = canonical_url(url)
    if canonical is None:
        return False
    parts = urlsplit(canonical)
    return parts.path == "/" and not parts.query and not parts.fragment


def guid_identifies(guid: str | None, raw: RawItem) -> bool:
    """Whether the entry's guid can serve as its identity.

    Not when the poller said so (``guid_is_identity: false``: the guid was shared by entries with
    different links, or was the feed's home page), and, judged from this item alone, not when it
    is the URL of a home page (path empty or ``/``, no query) or of the feed itself: such a guid
    names the site, and every item of the feed would become one article.
    """
    guid = (guid or "").strip()
    if not guid or not raw.entry.guid_is_identity:
        return False
    if _URLISH.match(guid):
        return not (is_home_page_url(guid) or canonical_url(guid) == canonical_url(raw.feed_url))
    return True
