"""Articles as IPTC ninjs 2.2: the mapping, and validation against IPTC's schema."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline.export import ExportError, ninjs_document, validate_ninjs

ROW = {
    "article_id": "a1b2c3", "version": 2, "title": "Harbour reopens [update]", "body": "First.\nSecond.",
    "standfirst": "The harbour is open.", "byline": "A. Writer", "dateline_place": "PORT ALDEN", "language": "en",
    "agency": "xinhua", "feed_id": "harbour-lights", "tags": ["Ports", ""], "url": "https://hl.example.org/1",
    "guid": "hl-1", "cluster_id": "zz9", "word_count": 2, "withdrawn": False,
    "published_at": datetime(2026, 3, 2, 7, tzinfo=timezone.utc), "updated_at": None,
    "images": [{"url": "https://hl.example.org/i.jpg", "caption": "The quay", "credit": "HL/Handout"},
               {"url": None, "caption": "no image", "credit": None}],
}


def test_an_article_becomes_a_valid_ninjs_item():
    doc = ninjs_document(ROW)
    validate_ninjs(doc)
    assert doc["uri"] == "urn:newswire:article:a1b2c3" and doc["version"] == "2"
    assert doc["firstcreated"] == doc["versioncreated"] == "2026-03-02T07:00:00Z"
    assert doc["headlines"] == [{"role": "main", "value": "Harbour reopens [update]"}]
    assert doc["bodies"][0]["wordcount"] == 2 and doc["located"] == "PORT ALDEN"
    assert doc["subjects"] == [{"name": "Ports"}]
    assert [a["uri"] for a in doc["associations"]] == ["https://hl.example.org/i.jpg"]


def test_a_withdrawn_article_is_canceled_and_minimal_rows_validate():
    row = {k: ROW[k] for k in ("article_id", "version", "title", "body", "published_at")}
    doc = ninjs_document({**row, "withdrawn": True})
    validate_ninjs(doc)
    assert doc["pubstatus"] == "canceled" and "renditions" not in doc


def test_an_invalid_document_is_refused():
    doc = ninjs_document(ROW)
    doc["pubstatus"] = "gone"
    with pytest.raises(ExportError, match="not valid ninjs at pubstatus"):
        validate_ninjs(doc)
