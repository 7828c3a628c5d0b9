"""``newswire run --until-idle`` end to end: real HTTP server, pollers, a Pub/Sub emulator, the
streaming pipeline on the DirectRunner and a DuckDB file.

Each test runs twice (see ``pubsub_backend``): on the emulator ``newswire run`` embeds ("embedded",
what a user gets by default) and on Google's emulator, which ``newswire run`` uses through
PUBSUB_EMULATOR_HOST.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.app import RunConfig, run
from pipeline.cli import main as cli_main

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
both_backends = pytest.mark.parametrize("pubsub_backend", ["embedded", "google"], indirect=True)


@pytest.fixture
def feed_dir(tmp_path):
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


def _config(d: Path, backend) -> RunConfig:
    # project None: the embedded emulator; else the backend's own project on PUBSUB_EMULATOR_HOST.
    return RunConfig(feeds_path=str(d / "feeds.yaml"), warehouse=str(d / "wh.duckdb"), until_idle=True,
                     serve_dir=str(d / "site"), idle_timeout=120, project=backend.project)


def _project_args(backend) -> list[str]:
    return ["--project", backend.project] if backend.project else []


@both_backends
def test_until_idle_writes_every_item_once_and_a_second_run_publishes_nothing(pubsub_backend, feed_dir):
    first = run(_config(feed_dir, pubsub_backend))
    assert first.feeds_polled == 5
    assert first.items_published == 3 + 3 + 2 + 2  # the mirror republishes the wire's three items
    assert set(first.unhealthy) == {"broken"}  # a malformed feed next to healthy ones
    assert first.pending == 0
    # The wire's items came twice (two feeds, same guids and links): one row each.
    assert first.articles_written == 7 and first.duplicates == 3 and first.dead_letters == 0

    second = run(_config(feed_dir, pubsub_backend))  # validators kept: every healthy feed answers 304
    assert second.items_published == 0 and second.articles_written == 0

    with duckdb.connect(str(feed_dir / "wh.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone() == (7, 7)
        assert conn.execute("SELECT count(*) FROM raw_items").fetchone() == (10,)
        feeds = {r[0] for r in conn.execute("SELECT DISTINCT feed_id FROM articles").fetchall()}
        assert feeds <= {"wire", "wire-mirror", "outlet", "bulletin"} and "outlet" in feeds


def _wire_publishes_three_new_stories(site: Path) -> None:
    feed = site / "rss20_wire.xml"
    text = feed.read_text(encoding="utf-8")
    for old, new in (("hw-2024-0301-", "hw-2024-0401-"), ("/2024/03/", "/2024/04/"), ("March 1", "April 1"),
                     ("<title>", "<title>Update: ")):
        text = text.replace(old, new)
    feed.write_text(text, encoding="utf-8")


@both_backends
def test_items_published_after_pubsub_restarts_reach_the_warehouse(pubsub_backend, feed_dir):
    """An external emulator may restart between runs and count message ids from 1 again (Google's
    JAR keeps nothing: it ignores --data-dir); the embedded one is a new process on every run. New
    items must land all the same: "already written" is decided by what names the content."""
    if pubsub_backend.name != "embedded":
        pubsub_backend.restart()  # a fresh emulator of this test's own: ids from 1
    first = run(_config(feed_dir, pubsub_backend))
    assert first.items_published == 10 and first.articles_written == 7

    if pubsub_backend.name != "embedded":
        pubsub_backend.restart()
    _wire_publishes_three_new_stories(feed_dir / "site")
    second = run(_config(feed_dir, pubsub_backend))
    assert second.items_published == 3
    assert second.articles_written == 3
    with duckdb.connect(str(feed_dir / "wh.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw_items").fetchone() == (13,)


@both_backends
def test_cli_run_reports_and_query_reads_the_result(pubsub_backend, feed_dir, capsys):
    rc = cli_main(["run", "--feeds", str(feed_dir / "feeds.yaml"), "--serve", str(feed_dir / "site"),
                   "--warehouse", str(feed_dir / "wh.duckdb"), "--until-idle", *_project_args(pubsub_backend)])
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


@both_backends
def test_ctrl_c_stops_a_live_run_cleanly_with_everything_written(pubsub_backend, feed_dir):
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
         "--serve", str(feed_dir / "site"), "--warehouse", str(wh), *_project_args(pubsub_backend)],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)},  # PUBSUB_EMULATOR_HOST as the backend set it
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
        # Against Google's emulator stopping takes ~30 s more: the DirectRunner's cancel waits for
        # its pending Pull, which that emulator answers (empty) only at the Pull's 30 s deadline.
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()[-2000:]
    assert b"stopping" in out
    assert not Path(f"{wh}.running").exists()  # a clean stop: the next start need not recover
    assert not Path(f"{wh}.query.json").exists()
    with duckdb.connect(str(wh), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (7,)
