"""``newswire run --metrics-port``: Prometheus metrics of a real run on the bundled feeds (with a
feed that answers 404 and one whose items become dead letters), and progress as JSON lines when
stdout is not a terminal."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .cli_support import LiveRun, cli, closed_port, sample_site, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _samples(port: int) -> dict[tuple, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_and_json_progress_of_a_real_run(tmp_path):
    feeds = sample_site(tmp_path)
    port = closed_port()
    wh = tmp_path / "w.duckdb"
    with LiveRun("--feeds", str(feeds), "--serve", str(tmp_path / "site"), "--warehouse", str(wh),
                 "--metrics-port", str(port), "--log-format", "json", "--progress-every", "1") as run:
        def settled():
            try:
                s = _samples(port)
            except httpx.HTTPError:
                return None
            done = (_value(s, "newswire_rows_written_total", table="articles") == 11
                    and _value(s, "newswire_dead_letters_total", step="clean") == 2
                    and _value(s, "newswire_publish_to_row_seconds_count") == 11
                    and _value(s, "newswire_feed_healthy", feed="gone") == 0
                    and _value(s, "newswire_queue_backlog") == 0)  # the ledger's pass catches up last
            return s if done else None

        s = wait_for(settled)
        # The job's own /status and the metrics agree with the warehouse.
        status = json.loads(cli("status", "--warehouse", str(wh), "--json").stdout)
    assert run.returncode == 0, run.output[-3000:]

    assert _value(s, "newswire_polls_total", feed="xinhua-world", outcome="published") == 1
    assert _value(s, "newswire_polls_total", feed="gone", outcome="failed") == 1
    assert _value(s, "newswire_http_responses_total", feed="gone", status="404") == 1
    assert _value(s, "newswire_http_responses_total", feed="ap-world", status="200") == 1
    assert _value(s, "newswire_items_published_total", feed="xinhua-world") == 3
    assert _value(s, "newswire_items_published_total", feed="empty-feed") == 2
    assert _value(s, "newswire_rows_written_total", table="raw_items") == 13
    assert _value(s, "newswire_queue_backlog") == 0
    assert _value(s, "newswire_publish_to_row_seconds_bucket", le="+Inf") == 11
    assert 0 < _value(s, "newswire_publish_to_row_seconds_sum") < 11 * 120
    assert _value(s, "newswire_feed_healthy", feed="xinhua-world") == 1
    assert _value(s, "newswire_feed_consecutive_failures", feed="gone") == 1
    assert _value(s, "newswire_feed_last_success_timestamp_seconds", feed="xinhua-world") > 1.7e9
    assert {f["feed_id"] for f in status["feeds"] if not f["healthy"]} == {"gone"}

    progress = [json.loads(ln) for ln in run.output.splitlines()
                if ln.startswith("{") and '"newswire.progress"' in ln]
    assert progress, run.output[-3000:]
    last = progress[-1]
    assert last["level"] == "info" and last["event"] == "progress" and last["time"].endswith("Z")
    assert last["articles_written"] == 11 and last["dead_letters"] == 2 and last["items_published"] == 13
    assert "metrics on http://127.0.0.1:" in run.output
