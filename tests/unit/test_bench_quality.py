"""The quality scorer's arithmetic (benchmarks/bench_quality.py), and one real run on a tiny corpus."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from benchmarks.bench_quality import Article, Label, evaluate, pairwise, score


def _label(link: str, story: str, *, agency: str | None = "dpa", keep=(), bp=(), kinds=(),
           published="2026-11-05T09:12:00Z", feed="f1") -> Label:
    return Label(feed_id=feed, link=link, agency=agency, story=story, published_at=published,
                 keep=tuple(keep), boilerplate=tuple(bp), kinds=tuple(kinds))


def _article(link: str, story: str | None, *, body="", title="T", agency="dpa",
             published=datetime(2026, 11, 5, 9, 12), feed="f1") -> Article:
    return Article(feed_id=feed, link=link, title=title, body=body, agency=agency, story=story,
                   published_at=published)


def test_pairwise_counts_pairs_not_items():
    # Truth: {a, b, c} one story, d alone (3 true pairs). Predicted: {a, b} and {c, d} (2 pairs).
    p, r, f1, n_true, n_pred = pairwise(["s", "s", "s", "t"], ["x", "x", "y", "y"])
    assert (n_true, n_pred) == (3, 2)
    assert p == pytest.approx(1 / 2) and r == pytest.approx(1 / 3)
    assert f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))


def test_pairwise_none_pairs_with_nothing():
    p, r, _, n_true, n_pred = pairwise(["s", "s"], [None, None])
    assert (n_true, n_pred, p, r) == (1, 0, 1.0, 0.0)


def test_leak_keep_agency_time_and_missing():
    labels = [
        _label("https://a/1", "s1", keep=["First sentence here.", "Second “quoted” one."],
               bp=["© dpa-infocom", "Follow us on   WhatsApp"], kinds=["licence", "chrome"]),
        _label("https://a/2", "s1", keep=["Only sentence."], bp=["Read also"], kinds=["related"],
               agency=None),
        _label("https://a/3", "s2", keep=["Never written."]),
    ]
    articles = [
        # Keeps its first sentence; the second lost its curly quotes (found only when folded);
        # one snippet leaked, across a paragraph break; published 1 s late.
        _article("https://a/1", "c1", body="First sentence here.\nSecond \"quoted\" one.\nFollow us on\nWhatsApp",
                 published=datetime(2026, 11, 5, 9, 12, 1)),
        # Clean, but the agency is wrong and it is 2 s late.
        _article("https://a/2", "c1", body="Only sentence.", agency="dpa",
                 published=datetime(2026, 11, 5, 9, 12, 2)),
        _article("https://other/9", "c9", body="not labelled"),
    ]
    rep = score(labels, articles)
    assert rep.missing == 1
    assert rep.leak == pytest.approx(1 / 2)  # of the two articles found
    assert rep.leaked_by_kind == {"chrome": 1}
    assert rep.keep == pytest.approx(2 / 4)  # 4 keep sentences: one re-typeset, one missing article
    assert rep.keep_folded == pytest.approx(3 / 4)
    assert rep.agency == pytest.approx(1 / 3)
    assert rep.published == pytest.approx(1 / 3)
    # a/1 and a/2 are one story and one cluster; a/3 has no article.
    assert (rep.precision, rep.recall, rep.true_pairs, rep.predicted_pairs) == (1.0, 1.0, 1, 1)
    assert any("leak" in b for b in rep.below_floors())


def test_leak_in_title_counts_and_case_matters():
    labels = [_label("https://a/1", "s1", bp=["Live Updates", "advertisement"], kinds=["chrome", "chrome"])]
    rep = score(labels, [_article("https://a/1", None, title="Live Updates: storm", body="Advertisement")])
    assert [snip for _, snip in rep.items[0].leaked] == ["Live Updates"]


_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Tiny</title><link>https://tiny.example.org/</link>
<description>tiny</description>
{items}
</channel></rss>
"""
_ITEM = """<item><title>{title}</title><link>{link}</link><guid>{link}</guid>
<pubDate>{date}</pubDate><description><![CDATA[{html}]]></description></item>"""


@pytest.mark.slow
def test_real_run_on_a_tiny_corpus(tmp_path):
    body = ["The harbour council voted on Monday to reopen the northern ferry terminal after a long review.",
            "Officials said the first crossings would carry freight before passengers return in the spring."]
    items, labels = [], []
    for i, link in enumerate(["https://tiny.example.org/a/1", "https://tiny.example.org/a/2"]):
        html = "".join(f"<p>{p}</p>" for p in body + [f"Story number {i} ends here with its own line."]) \
            + "<p>Leave a Reply</p>"
        items.append(_ITEM.format(title=f"Ferry terminal to reopen {i}", link=link,
                                  date="Thu, 05 Nov 2026 09:12:00 +0530", html=html))
        labels.append({"feed_id": "tiny", "link": link, "agency": None, "language": "en", "story": f"s{i}",
                       "published_at": "2026-11-05T03:42:00Z",
                       "keep": body + [f"Story number {i} ends here with its own line."],
                       "boilerplate": ["Leave a Reply"], "boilerplate_kinds": ["chrome"]})
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "tiny.xml").write_text(_FEED.format(items="\n".join(items)), encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text('feeds:\n  - id: tiny\n    url: "{serve}/feeds/tiny.xml"\n',
                                         encoding="utf-8")
    (tmp_path / "labels.jsonl").write_bytes(b"\n".join(orjson.dumps(x) for x in labels) + b"\n")
    rep = evaluate(tmp_path, keep_warehouse=tmp_path / "wh" / "q.duckdb")
    assert rep.missing == 0
    assert rep.keep == 1.0 and rep.published == 1.0 and rep.agency == 1.0
    assert rep.leak == 0.0  # "Leave a Reply" is site chrome of the rule packs
    assert (tmp_path / "wh" / "q.duckdb").exists()
