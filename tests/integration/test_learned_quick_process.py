"""The quick tier end to end, with its default settings: ``newswire process`` into a DuckDB file.

An aggregator ("Tidewater Digest", fictional) relays other outlets' stories: its headlines end in
the relayed outlet's name (headlines in title case and names without a newspaper word, so that only
the learned form can tell the name from the headline), and each item ends with the same line, which
no rule pack knows. One of its items is a wire story it carries without naming the agency, whose agency's own copy is in the
agency's feed.
"""

from __future__ import annotations

import duckdb
import pytest

from pipeline.cli import process
from tests.factories import raw_item, write_jsonl
from transforms.cleaning import paragraph_key

pytestmark = pytest.mark.integration

FEED = "tidewater-digest"
LINE = "Tidewater Digest gathers the coast's news from the papers that print it."
STORIES = [
    ("Velmora Library Reopens After Its Roof Is Repaired", "Ossara Evening Lamp",
     "The Velmora library reopened on Monday after a year of repairs to its roof and reading room."),
    ("Cabinet Approves a Wheat Support Price for the Sowing Season", "The Valley Lantern",
     "The cabinet on Tuesday approved a support price for wheat ahead of the sowing season."),
    ("Port Strike Leaves Dozens of Ships Waiting Off Kastrin", "La Voile de l'Atlantique",
     "Dozens of container ships waited off Kastrin on Wednesday on the second day of a dock strike."),
    ("Tarn Ferry Choir Wins the Regional Festival", "Lowmere Evening Bell",
     "The Tarn Ferry choir won the regional festival on Thursday with a programme of sea songs."),
]
WIRE = [
    "Tide gauges along the northern strait recorded their highest readings in four decades on Friday, "
    "the coastal survey office said, as a spring tide met a strong onshore wind.",
    "The office said the water rose 41 centimetres above the predicted level at North Bell and 37 "
    "centimetres at Ossara, flooding quays and low roads for about two hours.",
    "No injuries were reported. Harbour masters closed three slipways and asked boat owners to check "
    "their moorings before the evening tide.",
    "Survey officials said the readings would be added to the flood maps that towns along the strait "
    "use to plan sea walls and drainage.",
]


def _items() -> list[dict]:
    items = []
    for n, (title, outlet, lede) in enumerate(STORIES):
        items.append(raw_item(feed_id=FEED, guid=f"td-{n}", link=f"https://digest.example.org/r/{n}",
                              title=f"{title} - {outlet}", paragraphs=(lede, f"{outlet} reported it first.", LINE),
                              fetched_at=f"2026-05-0{n + 1}T08:00:00Z", published=None))
    agency = raw_item(feed_id="kyodo-wire", agency_hint="kyodo", guid="kw-1",
                      link="https://wire.example.org/tides", title="Strait Tide Gauges Hit a Four-Decade High",
                      paragraphs=(f"NORTH BELL, May 6 (Kyodo) - {WIRE[0]}", *WIRE[1:]),
                      fetched_at="2026-05-06T06:00:00Z", published=None)
    copy = raw_item(feed_id=FEED, guid="td-9", link="https://digest.example.org/r/9",
                    title="Strait Tide Gauges Hit a Four-Decade High - Harbour Lights Weekly",
                    paragraphs=(*WIRE, LINE), fetched_at="2026-05-06T09:00:00Z", published=None)
    return [*items, agency, copy]


def _rows(wh, sql):
    with duckdb.connect(str(wh), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_the_aggregators_line_and_headline_form_go_and_its_wire_copy_takes_the_agency(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", _items())
    wh = tmp_path / "out.duckdb"
    summary = process(str(tmp_path / "in.jsonl"), str(wh))
    assert (summary.articles_written, summary.dead_letters) == (6, 0)
    rows = _rows(wh, f"SELECT guid, title, body, agency FROM articles WHERE feed_id = '{FEED}' ORDER BY fetched_at")
    # The first item teaches both; the second (another story) makes them learned and loses them too.
    assert [LINE in body.split("\n") for _, _, body, _ in rows] == [True, False, False, False, False]
    assert [title for _, title, _, _ in rows] == [
        f"{STORIES[0][0]} - {STORIES[0][1]}", *(s[0] for s in STORIES[1:]), "Strait Tide Gauges Hit a Four-Decade High"]
    # The copy names no agency; the story it joined is the agency's.
    assert rows[-1][3] == "kyodo"
    assert [agency for *_, agency in rows[:-1]] == [None] * 4
    learned = _rows(wh, f"SELECT line_key, learned FROM learned_boilerplate WHERE feed_id = '{FEED}' AND learned")
    assert (paragraph_key(LINE), True) in learned


def test_the_quick_tier_off_keeps_what_it_would_learn(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", _items())
    wh = tmp_path / "off.duckdb"
    process(str(tmp_path / "in.jsonl"), str(wh), ["--learn_quick_min_items=0"])
    rows = _rows(wh, f"SELECT title, body FROM articles WHERE feed_id = '{FEED}'")
    assert all(LINE in body.split("\n") for _, body in rows)
    assert sum(" - " in title for title, _ in rows) >= 4
