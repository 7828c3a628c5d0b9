"""``newswire run --until-idle`` end to end: real HTTP server, pollers, the embedded Pub/Sub emulator,
the streaming pipeline on the DirectRunner and a DuckDB file."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.app import RunConfig, run
from pipeline.cli import main as cli_main

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


@pytest.fixture
def feed_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    site = tmp_path / "site"
    site.mkdir()
    for name in ("rss20_wire.xml", "atom10_outlet.xml", "rss10_bulletin.rdf", "not_a_feed.html"):
        shutil.copy(FEEDS / name, site / name)
    # The same wire feed under a second feed id: every item arrives twice.
    shutil.copy(FEEDS / "rss20_wire.xml", site / "wire_mirror.xml")
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        "  - {id: wire, url: '{serve}/rss20_wire.xml', agency: xinhua}\n"
        "  - {id: wire-mirror, url: '{serve}/wire_mirror.xml'}\n"
        "  - {id: outlet, url: '{serve}/atom10_outlet.xml'}\n"
        "  - {id: bulletin, url: '{serve}/rss10_bulletin.rdf'}\n"
        "  - {id: broken, url: '{serve}/not_a_feed.html'}\n")
    return tmp_path


def _config(d: Path) -> RunConfig:
    return RunConfig(feeds_path=str(d / "feeds.yaml"), warehouse=str(d / "wh.duckdb"), until_idle=True,
                     serve_dir=str(d / "site"), idle_timeout=120)


def test_until_idle_writes_every_item_once_and_a_second_run_publishes_nothing(feed_dir):
    first = run(_config(feed_dir))
    assert first.feeds_polled == 5
    assert first.items_published == 3 + 3 + 2 + 2  # the mirror republishes the wire's three items
    assert set(first.unhealthy) == {"broken"}  # a malformed feed next to healthy ones
    assert first.pending == 0
    # The wire's items came twice (two feeds, same guids and links): one row each.
    assert first.articles_written == 7 and first.duplicates == 3 and first.dead_letters == 0

    second = run(_config(feed_dir))  # validators kept: every healthy feed answers 304
    assert second.items_published == 0 and second.articles_written == 0

    with duckdb.connect(str(feed_dir / "wh.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone() == (7, 7)
        assert conn.execute("SELECT count(*) FROM raw_items").fetchone() == (10,)
        feeds = {r[0] for r in conn.execute("SELECT DISTINCT feed_id FROM articles").fetchall()}
        assert feeds <= {"wire", "wire-mirror", "outlet", "bulletin"} and "outlet" in feeds


def test_cli_run_reports_and_query_reads_the_result(feed_dir, capsys):
    rc = cli_main(["run", "--feeds", str(feed_dir / "feeds.yaml"), "--serve", str(feed_dir / "site"),
                   "--warehouse", str(feed_dir / "wh.duckdb"), "--until-idle"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "unhealthy feed" in out and "broken" in out
    assert cli_main(["query", "--warehouse", str(feed_dir / "wh.duckdb"),
                     "SELECT count(*) AS n FROM articles"]) == 0
    assert " 7 " in capsys.readouterr().out


def test_feeds_file_with_serve_placeholder_needs_serve(feed_dir, capsys):
    rc = cli_main(["run", "--feeds", str(feed_dir / "feeds.yaml"), "--warehouse",
                   str(feed_dir / "wh.duckdb"), "--until-idle"])
    assert rc == 2
    assert "--serve" in capsys.readouterr().err


def test_ctrl_c_stops_a_live_run_cleanly_with_everything_written(feed_dir):
    """The live mode (no --until-idle) as a user runs it: SIGINT after rows appear."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from pipeline.query_server import query_running

    root = Path(__file__).resolve().parents[2]
    wh = feed_dir / "wh.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--feeds", str(feed_dir / "feeds.yaml"),
         "--serve", str(feed_dir / "site"), "--warehouse", str(wh)],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        count = None
        while time.monotonic() < deadline and count != 7:
            try:
                answer = query_running(wh, "SELECT count(*) FROM articles", timeout=5)
            except Exception:  # noqa: BLE001 - the server may still be starting
                answer = None
            count = answer[1][0][0] if answer else None
            time.sleep(0.2)
        assert count == 7
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()[-2000:]
    assert b"stopping" in out
    assert not Path(f"{wh}.running").exists()  # a clean stop: the next start need not recover
    assert not Path(f"{wh}.query.json").exists()
    with duckdb.connect(str(wh), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (7,)
