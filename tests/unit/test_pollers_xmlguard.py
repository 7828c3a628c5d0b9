"""The entity guard: expansion bombs are refused before parsing, with memory bounded."""

import tracemalloc
from pathlib import Path

import pytest

from pollers import FailureKind, PollError, check_entities, parse_feed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
HEADERS = {"content-type": "application/xml"}


def quadratic_blowup(value_len=50_000, refs=2_000, codec="utf-8") -> bytes:
    """One large literal entity referenced many times: feedparser keeps it as 'safe' and its loose
    parser expands it (here 100 MB from a 56 kB document)."""
    doc = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "x" * value_len + '">\n]>\n'
           '<rss version="2.0"><channel><title>t</title><item><title>x</title><description>'
           + "&a;" * refs + "</description></item></channel></rss>")
    return doc.encode(codec)


def _refused(body: bytes, headers=HEADERS) -> PollError:
    with pytest.raises(PollError) as err:
        parse_feed(body, headers)
    assert err.value.kind is FailureKind.ENTITY_DECLARATION
    return err.value


def test_billion_laughs_is_refused_with_bounded_memory():
    body = (FIXTURES / "billion_laughs.xml").read_bytes()
    tracemalloc.start()
    try:
        _refused(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_quadratic_blowup_is_refused_with_bounded_memory():
    body = quadratic_blowup()
    tracemalloc.start()
    try:
        err = _refused(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "could expand without bound" in str(err)
    assert peak < 5 * len(body)  # unguarded, feedparser peaks near 300 MB on this document


@pytest.mark.parametrize("codec, content_type", [
    ("utf-16", "application/xml; charset=utf-16"), ("utf-16-be", "application/xml; charset=utf-16be"),
    ("utf-32", "application/xml; charset=utf-32"), ("utf-16", "text/xml; charset=utf-16"),
])
def test_other_encodings_cannot_hide_a_declaration(codec, content_type):
    # The guard reads the document in the encoding feedparser will read it in.
    _refused(quadratic_blowup(codec=codec), {"content-type": content_type} if content_type else {})


@pytest.mark.parametrize("decl", [
    '<!ENTITY ext SYSTEM "file:///etc/passwd">',  # external entity
    '<!ENTITY ref "&other;">',  # nested reference
    '<!entity lower "x">',  # the loose parser does not care about case
    '<!ENTITY unterminated "x"',
])
def test_unsafe_declarations(decl):
    body = f'<?xml version="1.0"?><!DOCTYPE rss [{decl}]><rss version="2.0"></rss>'.encode()
    with pytest.raises(PollError) as err:
        check_entities(body)
    assert err.value.kind is FailureKind.ENTITY_DECLARATION


def _feed(doctype: str, title: str, description: str = "d") -> bytes:
    return (f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>c</title><item>'
            f"<title>{title}</title><description>{description}</description></item></channel></rss>").encode()


def test_harmless_internal_string_entities_are_accepted_and_used():
    body = _feed('<!DOCTYPE rss [\n<!ENTITY site "Harbour Daily News">\n]>', "Ferry timetable &site;",
                 "From &site; " * 200)
    parsed = parse_feed(body, HEADERS)
    assert parsed.entries[0]["title"] == "Ferry timetable Harbour Daily News"


def test_entity_text_inside_cdata_or_an_entry_is_not_a_declaration():
    body = _feed("", "How XML entities work",
                 '<![CDATA[<p>Declare one with <!ENTITY a "' + "x" * 5000 + '"> in the DTD.</p>]]>')
    parsed = parse_feed(body, HEADERS)
    assert "&lt;!ENTITY a" in parsed.entries[0]["summary"]  # text, escaped as HTML
    check_entities(_feed("", "&lt;!ENTITY x SYSTEM \"file:///etc/passwd\"&gt; explained"))


def test_a_harmless_entity_referenced_without_bound_is_refused():
    # Each reference is small; together they would expand the document many times over.
    body = _feed('<!DOCTYPE rss [\n<!ENTITY s "' + "y" * 200 + '">\n]>', "t", "&s;" * 20_000)
    err = _refused(body)
    assert "referenced 20000 times" in str(err)


@pytest.mark.parametrize("decl", [
    '<!ENTITY % pe "x">',
    '<!ENTITY % HTMLlat1 PUBLIC "-//W3C//ENTITIES Latin 1 for XHTML//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml-lat1.ent">',
])
def test_parameter_entities_are_let_through_unused(decl):
    # feedparser drops them and no DTD is read, so they cannot expand (seen in real feeds).
    body = _feed(f"<!DOCTYPE rss [\n{decl}\n]>", "Parameter entities are declared, never used")
    assert parse_feed(body, HEADERS).entries[0]["title"] == "Parameter entities are declared, never used"


def test_one_character_entities_are_accepted_and_used():
    parsed = parse_feed((FIXTURES / "safe_entities.xml").read_bytes(), HEADERS)
    assert parsed.entries[0]["title"] == "Boat race postponed \u2014 winds too strong"


@pytest.mark.parametrize("name", ["rss20_wire.xml", "atom10_outlet.xml", "rss10_bulletin.rdf",
                                  "malformed_but_usable.xml"])
def test_ordinary_feeds_pass(name):
    check_entities((FIXTURES / name).read_bytes())
