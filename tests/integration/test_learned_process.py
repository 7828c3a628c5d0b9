"""Learned boilerplate end to end: ``newswire process`` into a DuckDB file, ``newswire learned``."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.cli import main as cli_main
from pipeline.cli import process
from tests.factories import write_jsonl
from tests.learned_support import BACKGROUND, FEED, FOOTER, QUOTE, site_items
from transforms.cleaning import paragraph_key

pytestmark = pytest.mark.integration

# Thresholds as options: small enough for a fixture of 30 items, min_days still above one day; the
# main tier alone (the quick tier: test_learned_quick_process.py).
LEARN = ["--learn_min_items=6", "--learn_min_days=2", "--learn_min_stories=3", "--learn_min_share=0.5",
         "--learn_quick_min_items=0"]


def _rows(wh, sql):
    with duckdb.connect(str(wh), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def processed(tmp_path):
    items = site_items()
    # Files in reverse: the pipeline orders each feed's items by fetch time, not by file.
    write_jsonl(tmp_path / "b.jsonl", items[:15])
    write_jsonl(tmp_path / "a.jsonl", items[15:])
    wh = tmp_path / "out.duckdb"
    summary = process(str(tmp_path / "*.jsonl"), str(wh), LEARN)
    return items, wh, summary


def test_a_footer_over_several_days_is_learned_removed_and_listed(processed):
    items, wh, summary = processed
    assert (summary.items_read, summary.articles_written, summary.dead_letters) == (30, 30, 0)
    bodies = _rows(wh, "SELECT title, body FROM articles ORDER BY fetched_at")
    assert [t for t, _ in bodies] == [it["entry"]["title"] for it in items]
    # Five items on the first day carry the footer; the first of the second makes it learned and
    # loses it too.
    assert [FOOTER in body.split("\n") for _, body in bodies] == [True] * 5 + [False] * 25
    removed = _rows(wh, "SELECT count(*) FROM articles WHERE list_contains(removed_rules, 'learned.line')")
    assert removed == [(25,)]
    assert _rows(wh, "SELECT feed_id, line_key, line, learned, items, share, days, stories FROM learned_boilerplate") \
        == [(FEED, paragraph_key(FOOTER), FOOTER, True, 30, 1.0, 2, 3)]


def test_a_quote_repeated_by_one_days_story_cluster_is_not_learned(processed):
    _, wh, _ = processed
    updates = _rows(wh, "SELECT body FROM articles WHERE title LIKE 'Storm update%'")
    assert len(updates) == 10
    for (body,) in updates:
        assert QUOTE in body.split("\n") and BACKGROUND in body.split("\n")
    assert _rows(wh, f"SELECT count(*) FROM learned_boilerplate WHERE line_key IN "
                     f"('{paragraph_key(QUOTE)}', '{paragraph_key(BACKGROUND)}')") == [(0,)]


def test_running_the_same_files_again_changes_nothing(processed, tmp_path):
    _, wh, _ = processed
    before = _rows(wh, "SELECT * FROM learned_boilerplate")
    again = process(str(tmp_path / "*.jsonl"), str(wh), LEARN)
    assert again.articles_written == 0
    assert _rows(wh, "SELECT * FROM learned_boilerplate") == before


def test_learning_off_keeps_the_footer(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", site_items())
    wh = tmp_path / "off.duckdb"
    process(str(tmp_path / "in.jsonl"), str(wh), [*LEARN, "--learn_boilerplate=false"])
    assert _rows(wh, f"SELECT count(*) FROM articles WHERE body LIKE '%{FOOTER}%'") == [(30,)]
    assert _rows(wh, "SELECT count(*) FROM learned_boilerplate") == [(0,)]


def test_learned_command_prints_each_sources_lines_with_counts(processed, capsys):
    _, wh, _ = processed
    assert cli_main(["learned", "--warehouse", str(wh)]) == 0
    out = capsys.readouterr().out.splitlines()
    at = out.index(f"{FEED}: 1 line learned")
    assert out[at + 1] == ("  learned: items 30, share 100%, days 2, stories 3, "
                           "seen 2026-03-02 06:40 to 2026-03-05 10:40")
    assert out[at + 2] == f"    {FOOTER}"
    assert cli_main(["learned", "--warehouse", str(wh), "--feed", "some-other-feed"]) == 0
    assert "nothing learned for feed some-other-feed" in capsys.readouterr().out


def test_learned_command_explains_bad_input(tmp_path, capsys):
    assert cli_main(["learned", "--warehouse", str(tmp_path / "missing.duckdb")]) == 2
    assert "no warehouse at" in capsys.readouterr().err
    write_jsonl(tmp_path / "x.jsonl", site_items()[:1])
    assert cli_main(["process", "--input", str(tmp_path / "x.jsonl"), "--warehouse", str(tmp_path / "w.duckdb"),
                     "--learn_min_share=1.5"]) == 2
    assert "--learn_* options: min_share" in capsys.readouterr().err
