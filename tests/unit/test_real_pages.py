"""The real-page benchmark's scorer and loaders: the same F1 as the scrapinghub benchmark's own
``evaluate.py`` (a copy in tests/fixtures/pages/scrapinghub), and pages paired with their truth."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks.real_pages import (RealPage, halves, line_shares, load_fundus, load_scrapinghub, publisher, score,
                                   tp_fp_fn)

EVALUATE = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "scrapinghub" / "evaluate.py"


@pytest.fixture(scope="module")
def evaluate():
    spec = importlib.util.spec_from_file_location("scrapinghub_evaluate", EVALUATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAIRS = [  # (truth, prediction): each path through evaluate.py's precision and recall
    ("The council met on Monday to vote on the harbour budget.", "The council met on Monday to vote on the harbour budget."),
    ("The council met on Monday to vote on the harbour budget.", "Menu Home The council met on Monday to vote."),
    ("Short one", ""),
    ("", "Subscribe to our newsletter for more stories like this"),
    ("", ""),
    ("a b c a b c a b c d", "a b c a b c"),
    ("Straße über die Brücke, sagte die Stadt am Montag.", "Straße über die Brücke, sagte die Stadt am Montag. Mehr lesen"),
    ("x y", "x y z w v"),
]


@pytest.mark.parametrize(("true", "pred"), PAIRS)
def test_per_page_counts_are_evaluate_py_s(evaluate, true, pred):
    assert tp_fp_fn(true, pred) == pytest.approx(evaluate.string_shingle_matching(true=true, pred=pred))


def test_corpus_f1_is_evaluate_py_s(evaluate):
    truth = {str(i): {"articleBody": t} for i, (t, _) in enumerate(PAIRS)}
    pred = {str(i): {"articleBody": p} for i, (_, p) in enumerate(PAIRS)}
    theirs = evaluate.evaluate(truth, pred, n_bootstrap=0)
    ours = score(PAIRS)
    assert (ours.f1, ours.precision, ours.recall) == pytest.approx((theirs["f1"], theirs["precision"], theirs["recall"]))
    # Not a mean of per-page F1s: the harmonic mean of mean precision and mean recall.
    per_page = [score([p]).f1 for p in PAIRS]
    assert ours.f1 != pytest.approx(sum(per_page) / len(per_page))


def test_line_shares_count_chrome_lines_and_lost_paragraphs():
    truth = ["The council met on Monday to vote on the harbour budget.",
             "The vote was delayed until the ferry operator had answered."]
    out = ["The council met on Monday to vote on the harbour budget.", "Sign up for our weekly newsletter today"]
    assert line_shares(truth, out) == (1, 2, 1, 2)


def test_a_line_under_four_tokens_counts_as_story_text_when_a_truth_line_holds_it():
    # One shingle of two tokens can never be among the truth's 4-token shingles: the intertitle is
    # story text because it is a run of one truth line; chrome of as few tokens is not.
    truth = ["The council met on Monday to vote on the harbour budget.", "Next steps",
             "The vote was delayed until the ferry operator had answered."]
    out = ["The council met on Monday to vote on the harbour budget.", "Next steps", "Share this",
           "The vote was delayed until the ferry operator had answered."]
    assert line_shares(truth, out) == (1, 4, 0, 3)
    # A run across two truth lines is not a line of the truth.
    assert line_shares(["It went ahead", "Monday morning it rained"], ["ahead Monday"]) == (1, 1, 2, 2)


def _gz(path: Path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode("utf-8")))


def test_loaders_pair_each_page_with_its_truth_and_feed_metadata(tmp_path):
    sh = tmp_path / "sh"
    (sh / "html").mkdir(parents=True)
    page = ("<html><head><meta property='og:title' content='Ferry returns'><meta property='og:description' "
            "content='The ferry is back.'></head><body><p>The ferry returned.</p></body></html>")
    for key in ("b2", "a1"):
        _gz(sh / "html" / f"{key}.html.gz", page)
    (sh / "ground-truth.json").write_text(json.dumps({k: {"articleBody": f"Body {k}\n\nSecond", "url": f"https://x/{k}"}
                                                      for k in ("b2", "a1")}))
    pages = load_scrapinghub(sh)
    assert [p.id for p in pages] == ["a1", "b2"]
    assert (pages[0].truth, pages[0].title, pages[0].summary, pages[0].url) == (
        ["Body a1", "Second"], "Ferry returns", "The ferry is back.", "https://x/a1")

    # fundus: two parser versions of one publisher, matched to its pages by crawl date.
    data = tmp_path / "fundus" / "tests" / "resources" / "parser" / "test_data" / "xx"
    data.mkdir(parents=True)
    meta = {"Daily_2025_01_02.html.gz": {"url": "https://d/new", "crawl_date": "2025-01-02 10:00:00"},
            "Daily_2023_05_06.html.gz": {"url": "https://d/old", "crawl_date": "2023-05-06 10:00:00"},
            "Daily_2020_01_01.html.gz": {"url": "https://d/gone", "crawl_date": "2020-01-01 10:00:00"}}
    (data / "meta.info").write_text(json.dumps(meta))
    for name in list(meta)[:2]:  # the third is listed but no longer there
        _gz(data / name, f"<html><body><p>{name}</p></body></html>")
    body = lambda s: {"summary": [f"Dek {s}"], "sections": [{"headline": [], "paragraphs": [f"Old {s}"]},
                                                          {"headline": [f"Sub {s}"], "paragraphs": [f"More {s}"]}]}
    (data / "Daily.json").write_text(json.dumps({"V1_1": {"body": body("v1.1")}, "V1": {"body": body("v1")}}))
    fpages = load_fundus(tmp_path / "fundus")
    assert [(p.id, p.url, p.truth) for p in fpages] == [
        ("xx/Daily_2023_05_06.html.gz", "https://d/old", ["Dek v1", "Old v1", "Sub v1", "More v1"]),
        ("xx/Daily_2025_01_02.html.gz", "https://d/new", ["Dek v1.1", "Old v1.1", "Sub v1.1", "More v1.1"]),
    ]
    tune, held = halves(fpages + pages)
    assert [p.id for p in tune] == ["a1", "xx/Daily_2023_05_06.html.gz"] and [p.id for p in held] == [
        "b2", "xx/Daily_2025_01_02.html.gz"]


def _page(id_: str, url: str = "") -> RealPage:
    return RealPage(id=id_, html="", url=url, truth=[], title="", summary="")


def test_publisher_is_a_fundus_pages_country_and_publisher_else_the_url_host():
    assert publisher(_page("de/SpiegelOnline_2024_05_03.html.gz")) == "de/SpiegelOnline"
    assert publisher(_page("us/APNews_2024_05_03.html.gz")) == "us/APNews"
    assert publisher(_page("0a1b", "https://www.example.com/news/1")) == "example.com"
    assert publisher(_page("0a1b")) == "0a1b"


def test_the_publisher_split_keeps_each_publishers_pages_in_one_half_and_is_stable():
    ids = ["at/ORF_2024_11_22.html.gz", "at/SalzburgerNachrichten_2025_06_05.html.gz",
           "at/SalzburgerNachrichten_2026_01_06.html.gz", "au/NineNews_2024_05_02.html.gz",
           "au/NineNews_2026_07_04.html.gz", "be/Nieuwsblad_2025_02_02.html.gz", "de/Bild_2024_01_01.html.gz"]
    pages = [_page(i) for i in ids]
    tune, held = halves(pages, by="publisher")
    # Publishers sorted by key: at/ORF, at/SalzburgerNachrichten, au/NineNews, be/Nieuwsblad, de/Bild;
    # even positions tune, odd positions are held.
    assert [p.id for p in tune] == [ids[0], ids[3], ids[4], ids[6]]
    assert [p.id for p in held] == [ids[1], ids[2], ids[5]]
    assert not {publisher(p) for p in tune} & {publisher(p) for p in held}
    # The order the pages come in does not matter.
    again = halves(list(reversed(pages)), by="publisher")
    assert ([p.id for p in again[0]], [p.id for p in again[1]]) == ([p.id for p in tune], [p.id for p in held])
    # By page (the default): even and odd positions of the ids, a publisher's pages on both sides.
    by_page = halves(pages)
    assert [p.id for p in by_page[0]] == ids[0::2] and [p.id for p in by_page[1]] == ids[1::2]
    with pytest.raises(ValueError):
        halves(pages, by="country")
