"""The clean title, standfirst and body keep the publisher's curly quotes; keys and hashes do not
see them, so a stored article read again is not a new version."""

from __future__ import annotations

import orjson

from tests.factories import raw_item
from transforms.cleaning import clean_item, parse_raw_item
from transforms.cleaning.typography import fold_quotes, restore_typography, typeset_source
from transforms.identity.ids import article_id, content_hash


def _clean(**kw):
    return clean_item(parse_raw_item(orjson.dumps(raw_item(**kw)), message_id="m1"))


def test_curly_quotes_and_apostrophes_stay_in_title_and_body():
    a = _clean(title="Mayor’s “last word” on the bridge",
               paragraphs=("The mayor said the bridge would “reopen by spring”, residents’ groups said.",
                           "Nobody said ‘never’."))
    assert a.title == "Mayor’s “last word” on the bridge"
    assert a.body == ["The mayor said the bridge would “reopen by spring”, residents’ groups said.",
                      "Nobody said ‘never’."]


def test_quotes_written_as_character_references_come_back_as_characters():
    a = _clean(paragraphs=("The minister called it &ldquo;a <em>first</em> step&rdquo; and said it&#8217;s done.",
                           "Residents were told to wait for further notice from the council."))
    assert a.body[0] == "The minister called it “a first step” and said it’s done."


def test_a_paragraph_the_rules_cut_keeps_its_quotes_and_a_dateline_still_goes():
    a = _clean(paragraphs=("PORT ALDEN, March 2 (Xinhua) -- The council’s vote was “final”, officials said.",
                           "Ferries will run two more evening crossings from April."))
    assert a.body[0] == "The council’s vote was “final”, officials said."
    assert a.agency == "xinhua"


def test_straight_quotes_in_the_source_stay_straight():
    a = _clean(paragraphs=('He said "no" and left the harbour office before noon on Tuesday.',))
    assert a.body == ['He said "no" and left the harbour office before noon on Tuesday.']


def test_hash_and_content_id_do_not_change_with_the_outlets_typesetting():
    curly = _clean(guid=None, link=None, title="“Calm” returns", paragraphs=("The port’s crews went home.",))
    plain = _clean(guid=None, link=None, title='"Calm" returns', paragraphs=("The port's crews went home.",))
    assert curly.body != plain.body
    assert content_hash(curly) == content_hash(plain)
    raw = parse_raw_item(orjson.dumps(raw_item(guid=None, link=None)), message_id="m1")
    assert article_id(raw, curly) == article_id(raw, plain)


def test_text_not_found_in_any_source_is_left_as_it_is():
    assert restore_typography(['a "b" c', "plain"], [typeset_source("<p>x “y” z</p>")]) == ['a "b" c', "plain"]
    assert restore_typography(['"y"'], [typeset_source("<p>x<b>“y”</b> z</p>")]) == ["“y”"]
    assert fold_quotes("‘a’ “b” „c‟") == "'a' \"b\" \"c\""
