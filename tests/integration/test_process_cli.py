"""``newswire process`` on files: the core issue's acceptance, end to end into a DuckDB file."""

from __future__ import annotations

import html

import duckdb
import orjson
import pytest

from pipeline.cli import main as cli_main
from pipeline.cli import process
from tests.cleaning_support import FIXTURES, SAMPLE, content_lines, raw_dict
from tests.factories import raw_item

pytestmark = pytest.mark.integration


def _sample_item(lines: list[str]) -> dict:
    content = "".join(f"<p>{html.escape(ln)}</p>" for ln in lines[1:])
    return raw_dict(title=lines[0], summary=lines[1], content_html=content, feed_id="blog")


def _write(path, items) -> None:
    path.write_bytes(b"".join((it if isinstance(it, bytes) else orjson.dumps(it)) + b"\n" for it in items))


def _rows(wh, sql):
    with duckdb.connect(str(wh), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("source", ["fixture", "reference sample"])
def test_sample_item_twice_and_a_malformed_line(tmp_path, source):
    path = FIXTURES / "xinhua_blog_repost.txt" if source == "fixture" else SAMPLE
    if not path.is_file():
        pytest.skip(f"reference sample not present at {path}")
    lines = content_lines(path)
    item = _sample_item(lines)
    other = raw_item(guid="other-1", title="Second fictional story")
    _write(tmp_path / "in.jsonl", [item, item, b'{"schema_version": 1, "feed_id": ', other])
    wh = tmp_path / "out.duckdb"

    summary = process(str(tmp_path / "in.jsonl"), str(wh))

    assert (summary.items_read, summary.articles_written, summary.duplicates, summary.dead_letters) == (4, 2, 1, 1)
    rows = _rows(wh, "SELECT body, agency, images FROM articles WHERE feed_id = 'blog'")
    assert len(rows) == 1  # the same item twice gives one row
    body, agency, images = rows[0]
    paragraphs = body.split("\n")
    assert len(paragraphs) == 6 and agency == "xinhua"
    for chrome in ("1 min read", "Xinhua News Agency", "Founded in 1931", "Leave a Reply",
                   "Your email address", "Latest from Blog", "Handout via Xinhua"):
        assert chrome not in body
    assert len(images) == 1 and images[0]["credit"].endswith("Handout via Xinhua")
    dead = _rows(wh, "SELECT step, error_class, payload FROM dead_letter")
    assert dead == [("parse", "ParseError", '{"schema_version": 1, "feed_id": ')]
    # The repeated line is the same content: one raw_items row names it (its replay_key).
    assert _rows(wh, "SELECT count(*) FROM raw_items") == [(3,)]


def test_running_the_same_input_twice_leaves_the_same_rows(tmp_path):
    items = [raw_item(guid=f"g{i}", title=f"Fictional story {i}") for i in range(5)]
    _write(tmp_path / "in.jsonl", items + [b"not json"])
    wh = tmp_path / "out.duckdb"
    process(str(tmp_path / "in.jsonl"), str(wh))
    snapshot = _rows(wh, "SELECT article_id, version, content_hash FROM articles ORDER BY 1")
    again = process(str(tmp_path / "in.jsonl"), str(wh))
    assert again.articles_written == 0 and again.duplicates == 5
    assert _rows(wh, "SELECT article_id, version, content_hash FROM articles ORDER BY 1") == snapshot
    assert _rows(wh, "SELECT count(*) FROM dead_letter") == [(1,)]


def test_a_correction_in_a_later_file_is_version_two(tmp_path):
    first = raw_item()
    corrected = raw_item(paragraphs=("The council approved three evening crossings, not two.",),
                         fetched_at="2026-03-02T12:00:00Z")
    _write(tmp_path / "a.jsonl", [first])
    _write(tmp_path / "b.jsonl", [corrected])
    wh = tmp_path / "out.duckdb"
    process(str(tmp_path / "a.jsonl"), str(wh))
    process(str(tmp_path / "b.jsonl"), str(wh))
    assert _rows(wh, "SELECT version FROM articles ORDER BY version") == [(1,), (2,)]


def test_a_dead_letter_fixed_in_its_file_and_replayed_in_place_lands(tmp_path):
    good = raw_item(guid="g-ok", title="Fictional harbour story")
    broken = orjson.dumps(raw_item(guid="g-fix", title="Fictional bridge story"))[:-40]
    path, wh = tmp_path / "day.jsonl", tmp_path / "out.duckdb"
    _write(path, [good, broken])
    first = process(str(path), str(wh))
    assert (first.articles_written, first.dead_letters) == (1, 1)
    # The operator repairs the line where it is and replays the same file.
    _write(path, [good, raw_item(guid="g-fix", title="Fictional bridge story")])
    again = process(str(path), str(wh))
    assert again.articles_written == 1
    assert sorted(r[0] for r in _rows(wh, "SELECT title FROM articles")) == [
        "Fictional bridge story", "Fictional harbour story"]
    assert _rows(wh, "SELECT count(*) FROM raw_items") == [(3,)]  # good, broken, fixed


def test_a_daily_file_rewritten_in_place_keeps_its_new_items(tmp_path):
    path, wh = tmp_path / "today.jsonl", tmp_path / "out.duckdb"
    morning = [raw_item(guid=f"morning-{i}", title=f"Fictional morning story {i}") for i in range(3)]
    _write(path, morning)
    process(str(path), str(wh))
    # The same file later in the day: new items inserted before the old ones shift every line.
    evening = [raw_item(guid=f"evening-{i}", title=f"Fictional evening story {i}") for i in range(2)]
    _write(path, evening + morning)
    later = process(str(path), str(wh))
    assert later.articles_written == 2
    assert _rows(wh, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(5, 5)]


def test_another_spelling_of_the_same_glob_adds_nothing(tmp_path):
    (tmp_path / "raw").mkdir()
    _write(tmp_path / "raw" / "a.jsonl", [raw_item(guid=f"g{i}", title=f"Fictional story {i}") for i in range(3)])
    wh = tmp_path / "out.duckdb"
    process(str(tmp_path / "raw" / "*.jsonl"), str(wh))
    process(str(tmp_path / "raw" / ".." / "raw" / "a.json*"), str(wh))
    assert _rows(wh, "SELECT count(*) FROM raw_items") == [(3,)]
    assert _rows(wh, "SELECT count(*) FROM articles") == [(3,)]


def test_cli_explains_bad_options(tmp_path, capsys):
    assert cli_main(["process", "--input", str(tmp_path / "none-*.jsonl"), "--warehouse", "x.duckdb"]) == 2
    assert "no file matches" in capsys.readouterr().err
    assert cli_main(["process", "--input", str(tmp_path), "--warehouse", "bigquery:/bad"]) == 2
