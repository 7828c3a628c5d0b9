"""Loads tests/fixtures/syndication/corpus.yaml into concrete items (edits applied).

The file's header documents the format; this module only applies it, refusing anything it does not
understand so a typo in the fixture cannot silently turn a copy into an unedited duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from transforms.syndication import tokenize

CORPUS_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "syndication" / "corpus.yaml"


@dataclass(frozen=True)
class CorpusItem:
    article_id: str
    story: str  # ground-truth label
    group: str
    feed_id: str
    agency: str | None
    is_agency_copy: bool
    first_seen: datetime
    title: str
    body: str  # paragraphs separated by "\n"
    derived_from: str | None
    edits: tuple[str, ...]  # names of the edits applied, in order
    kept_share: float | None  # words of this copy / words of its source (derived items only)

    @property
    def word_count(self) -> int:
        return len(tokenize(self.body))


def _paragraphs(body: str) -> list[str]:
    return [line.strip() for line in body.splitlines() if line.strip()]


def _apply_edit(paragraphs: list[str], edit: dict[str, Any], where: str) -> list[str]:
    if len(edit) != 1:
        raise ValueError(f"{where}: each edit has exactly one operation, got {sorted(edit)}")
    (op, arg), = edit.items()
    out = list(paragraphs)
    if op == "drop_last":
        if not 0 < int(arg) < len(out):
            raise ValueError(f"{where}: drop_last {arg} of {len(out)} paragraphs")
        return out[: -int(arg)]
    if op == "drop":
        for index in sorted((int(i) for i in arg), reverse=True):
            if not 0 <= index < len(out):
                raise ValueError(f"{where}: drop index {index} outside 0..{len(out) - 1}")
            del out[index]
        return out
    if op == "lede":
        out[0] = str(arg)
        return out
    if op == "replace":
        text = "\n".join(out)
        for old, new in dict(arg).items():
            if old not in text:
                raise ValueError(f"{where}: replace {old!r}: not in the text")
            text = text.replace(old, new)
        return _paragraphs(text)
    if op == "append":
        return [*out, str(arg)]
    if op == "insert":
        index, text = arg
        if not 0 <= int(index) <= len(out):
            raise ValueError(f"{where}: insert index {index} outside 0..{len(out)}")
        out.insert(int(index), str(text))
        return out
    raise ValueError(f"{where}: unknown edit {op!r}")


def load_corpus(path: Path = CORPUS_PATH) -> list[CorpusItem]:
    """All items of the corpus, with derived copies materialised, in file order (``omit`` sources
    are used for derivation only)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    epoch = datetime.fromisoformat(data["epoch"].replace("Z", "+00:00"))
    groups = set(data["groups"])
    items: dict[str, CorpusItem] = {}
    omitted: set[str] = set()
    for story in data["stories"]:
        label, group = story["story"], story["group"]
        if group not in groups:
            raise ValueError(f"story {label!r}: group {group!r} is not described in 'groups'")
        for raw in story["items"]:
            article_id = raw["id"]
            where = f"{path.name}: {article_id}"
            if article_id in items:
                raise ValueError(f"{where}: duplicate id")
            source_id = raw.get("from")
            edits = raw.get("edits") or []
            if source_id is None:
                if edits:
                    raise ValueError(f"{where}: edits need a 'from' item")
                paragraphs = _paragraphs(raw["body"])
                kept = None
            else:
                source = items.get(source_id)
                if source is None or source.story != label:
                    raise ValueError(f"{where}: 'from' must name an earlier item of story {label!r}")
                paragraphs = source.body.split("\n")
                for edit in edits:
                    paragraphs = _apply_edit(paragraphs, edit, where)
                kept = len(tokenize("\n".join(paragraphs))) / source.word_count
            items[article_id] = CorpusItem(
                article_id=article_id,
                story=label,
                group=group,
                feed_id=raw["feed"],
                agency=raw.get("agency"),
                is_agency_copy=bool(raw.get("agency_copy", False)),
                first_seen=epoch + timedelta(minutes=int(raw["minutes"])),
                title=raw["title"],
                body="\n".join(paragraphs),
                derived_from=source_id,
                edits=tuple(next(iter(e)) for e in edits),
                kept_share=kept,
            )
            if raw.get("omit", False):
                omitted.add(article_id)
    return [item for item in items.values() if item.article_id not in omitted]


def feed_item(item: CorpusItem) -> dict:
    """The raw-item message a poller would publish for a corpus item (DESIGN.md's contract).

    The guid is the corpus id, scoped to the outlet's host by the pipeline like any guid; the
    agency's own copies come from a feed whose ``agency`` hint names the agency.
    """
    stamp = item.first_seen.strftime("%Y-%m-%dT%H:%M:%SZ")
    # One site per feed: under a shared registrable domain (x.example.org, y.example.org) all
    # feeds would be one outlet.
    host = f"{item.feed_id}.example"
    html = "".join(f"<p>{p}</p>" for p in item.body.split("\n"))
    return {
        "schema_version": 1,
        "feed_id": item.feed_id,
        "feed_url": f"https://{host}/rss.xml",
        "agency_hint": item.agency if item.is_agency_copy else None,
        "fetched_at": stamp,
        "http": {"etag": None, "last_modified": None, "status": 200},
        "entry": {
            "id": item.article_id,
            "link": f"https://{host}/news/{item.article_id}",
            "title": item.title,
            "summary": None,
            "content": [{"type": "text/html", "value": html}],
            "published": item.first_seen.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "updated": None,
            "author": None,
            "tags": [],
            "media": [],
        },
        "page_html": None,
    }
