"""Items that carry their article page, through CleanArticles on the batch engine: the article row's
body is the page's story, the raw_items row keeps the page, and the marker says where the text came from."""

from pathlib import Path

import apache_beam as beam
import orjson
import yaml
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.build import CleanArticles, SplitTables
from pipeline.runners import BATCH_RUNNER
from pollers import decode_html
from tests.factories import message, raw_item

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
BLOG = next(p for p in yaml.safe_load((PAGES / "pages.yaml").read_text(encoding="utf-8"))["pages"]
            if p["file"] == "blog_xinhua.html")


def test_page_text_becomes_the_article_body():
    entry = BLOG["entry"]
    with_page = raw_item(guid="hl-4417", title=entry["title"], link=entry["link"], summary=entry["summary"],
                         paragraphs=(), published=entry["published"], fetched_at="2024-03-05T12:00:00Z")
    with_page["page_html"] = decode_html((PAGES / BLOG["file"]).read_bytes(), BLOG["content_type"])
    without = raw_item(guid="hl-4418", title="Dredging plan approved", paragraphs=(),
                       summary="The outer channel will be dredged in May, the port authority said.")
    msgs = [message(with_page, "m1"), message(without, "m2")]
    with TestPipeline(runner=BATCH_RUNNER) as p:
        out = p | beam.Create(msgs) | CleanArticles(streaming=False, dedup_ttl_seconds=3600) | SplitTables()
        assert_that(
            out["articles"] | "Rows" >> beam.Map(lambda r: (
                r["guid"], r["body"], r["agency"], [m for m in r["removed_rules"] if m.startswith("page.")])),
            equal_to([("hl-4417", "\n".join(BLOG["expect"]["body"]), "xinhua", ["page.body"]),
                      ("hl-4418", "The outer channel will be dredged in May, the port authority said.", None, [])]),
            label="articles")
        assert_that(
            out["raw_items"] | "Raw" >> beam.Map(
                lambda r: (r["message_id"], orjson.loads(r["payload"])["page_html"] is not None)),
            equal_to([("m1", True), ("m2", False)]), label="raw items keep the page")
