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


def _refused(body: bytes) -> PollError:
    with pytest.raises(PollError) as err:
        parse_feed(body, HEADERS)
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


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_other_encodings_cannot_hide_a_declaration(codec):
    _refused(quadratic_blowup(1000, 10, codec))


@pytest.mark.parametrize("decl", [
    '<!ENTITY % pe "x">',  # parameter entity
    '<!ENTITY ext SYSTEM "file:///etc/passwd">',  # external entity
    '<!ENTITY two "xy">',  # literal longer than one character can amplify
    '<!ENTITY ref "&other;">',  # nested reference
    '<!entity lower "x">',  # the loose parser does not care about case
    '<!ENTITY unterminated "x"',
])
def test_unsafe_declarations(decl):
    body = f'<?xml version="1.0"?><!DOCTYPE rss [{decl}]><rss version="2.0"></rss>'.encode()
    with pytest.raises(PollError) as err:
        check_entities(body)
    assert err.value.kind is FailureKind.ENTITY_DECLARATION


def test_one_character_entities_are_accepted_and_used():
    parsed = parse_feed((FIXTURES / "safe_entities.xml").read_bytes(), HEADERS)
    assert parsed.entries[0]["title"] == "Boat race postponed \u2014 winds too strong"


@pytest.mark.parametrize("name", ["rss20_wire.xml", "atom10_outlet.xml", "rss10_bulletin.rdf",
                                  "malformed_but_usable.xml"])
def test_ordinary_feeds_pass(name):
    check_entities((FIXTURES / name).read_bytes())
