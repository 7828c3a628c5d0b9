"""Raw items for the cleaning tests, built the way pollers publish them (then parsed for real)."""

from __future__ import annotations

import html
import os
from pathlib import Path

import orjson
import yaml

from transforms.cleaning import parse_raw_item
from transforms.model import RawItem

FIXTURES = Path(__file__).parent / "fixtures" / "cleaning"
REPO_ROOT = Path(__file__).resolve().parent.parent
# The shared reference sample sits next to the repository (../shared/samples); a checkout elsewhere
# can point NEWSWIRE_SAMPLES_DIR at that directory.
SAMPLE = Path(os.environ.get("NEWSWIRE_SAMPLES_DIR") or REPO_ROOT.parent / "shared" / "samples") \
    / "xinhua-repost-on-blog.txt"


def raw_dict(*, title: str | None = "Fictional headline", content_html: str | None = None,
             summary: str | None = None, feed_id: str = "test-feed", agency_hint: str | None = None,
             link: str | None = "https://blog.example.org/2024/03/story?utm_source=rss",
             guid: str | None = "guid-1", published: str | None = "Mon, 04 Mar 2024 09:30:00 GMT",
             fetched_at: str = "2024-03-04T10:00:00Z", media: list[dict] | None = None,
             tags: list[str] | None = None, author: str | None = None, updated: str | None = None) -> dict:
    return {
        "schema_version": 1, "feed_id": feed_id, "feed_url": "https://blog.example.org/feed/",
        "agency_hint": agency_hint, "fetched_at": fetched_at,
        "http": {"etag": None, "last_modified": None, "status": 200},
        "entry": {
            "id": guid, "link": link, "title": title, "summary": summary,
            "content": [] if content_html is None else [{"type": "text/html", "value": content_html}],
            "published": published, "updated": updated, "author": author,
            "tags": tags or [], "media": media or [],
        },
        "page_html": None,
    }


def parse(item: dict) -> RawItem:
    return parse_raw_item(orjson.dumps(item), {}, "test-message")


def content_lines(path: Path) -> list[str]:
    """Non-empty lines of a text fixture, without its '#' description header."""
    return [ln for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.startswith("#")]


def item_from_lines(lines: list[str], **kw) -> RawItem:
    """The acceptance shape: title = line 1, summary = line 2, content = every line after the title,
    each as a <p> (escaped, as a scraped page gives them)."""
    content = "".join(f"<p>{html.escape(ln)}</p>" for ln in lines[1:])
    return parse(raw_dict(title=lines[0], summary=lines[1], content_html=content, **kw))


def load_yaml_fixture(name: str) -> dict:
    data = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    assert data.get("description"), f"fixture {name} must describe itself"
    return data
