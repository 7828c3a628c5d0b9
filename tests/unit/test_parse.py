from datetime import datetime, timezone

import orjson
import pytest

from tests.factories import raw_item, to_bytes
from transforms.cleaning import parse_raw_item
from transforms.errors import ParseError


def test_valid_item_parses_with_utc_fetch_time():
    raw = parse_raw_item(to_bytes(raw_item(fetched_at="2026-03-02T12:00:00+02:00")), {"feed_id": "x"}, "m1")
    assert raw.fetched_at == datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    assert raw.entry.content[0].value.startswith("<p>")
    assert raw.message_id == "m1" and raw.attributes == {"feed_id": "x"}


@pytest.mark.parametrize("data, reason", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (orjson.dumps({**raw_item(), "feed_id": None}), "missing required field 'feed_id'"),
    (orjson.dumps({**raw_item(), "entry": None}), "missing required field 'entry'"),
    (orjson.dumps({**raw_item(), "fetched_at": "yesterday"}), "not an RFC 3339"),
    (orjson.dumps({**raw_item(), "fetched_at": "2026-03-02T10:00:00"}), "no timezone"),
    (orjson.dumps({**raw_item(), "schema_version": 99}), "newer than this pipeline"),
    (orjson.dumps({**raw_item(), "schema_version": "1"}), "must be INT64"),
    (orjson.dumps({**raw_item(), "entry": {**raw_item()["entry"], "tags": "a,b"}}), "'entry.tags' must be a list"),
    (orjson.dumps({**raw_item(), "entry": {**raw_item()["entry"], "content": [{"value": 3}]}}),
     "'entry.content[0].value' must be STRING"),
])
def test_malformed_items_raise_parse_error_with_reason(data, reason):
    with pytest.raises(ParseError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_raw_item(data)
