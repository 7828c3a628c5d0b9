"""Feed health you can see: ``newswire status`` after a real ``newswire run --until-idle``, and of a
running job through its query port; ``--until-idle`` fails when every feed failed and says why there
are dead letters."""

from __future__ import annotations

import json

import pytest

from .cli_support import LiveRun, cli, sample_site, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    feeds = sample_site(root)
    wh = root / "w.duckdb"
    proc = cli("run", "--feeds", str(feeds), "--serve", str(root / "site"), "--warehouse", str(wh), "--until-idle",
               timeout=300)
    return root, wh, proc


def test_until_idle_summary_says_why_there_are_dead_letters(finished_run):
    _, _, proc = finished_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = " ".join(proc.stdout.split())
    assert "unhealthy feed gone: not-found: HTTP 404" in out
    assert "dead letters ×2 at step clean: CleanError: no usable title and no body text" in out


def test_status_json_reports_every_feed_from_the_state_file(finished_run):
    _, wh, _ = finished_run
    proc = cli("status", "--warehouse", str(wh), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["job"] is None
    feeds = {f["feed_id"]: f for f in report["feeds"]}
    assert set(feeds) == {"xinhua-world", "ap-world", "harbourview-blog", "lantern-courier", "empty-feed", "gone"}
    gone = feeds["gone"]
    assert not gone["healthy"] and gone["consecutive_failures"] == 1 and gone["last_success"] is None
    assert gone["last_error_kind"] == "not-found" and gone["last_error_class"] == "permanent"
    assert "HTTP 404" in gone["last_error"] and gone["next_poll"]
    wire = feeds["xinhua-world"]
    assert wire["healthy"] and wire["last_success"] and wire["last_status"] == 200
    assert wire["items_in_warehouse"] == 3 and wire["dead_letters"] == 0 and wire["guid_problem"] is None
    assert feeds["empty-feed"]["dead_letters"] == 2
    table = cli("status", "--warehouse", str(wh))
    assert table.returncode == 0 and "no newswire run is running" in table.stdout and "gone" in table.stdout
    assert cli("status", "--warehouse", str(wh), "--fail-unhealthy").returncode == 1


def test_status_without_a_state_file_says_so(tmp_path):
    proc = cli("status", "--warehouse", str(tmp_path / "none.duckdb"))
    assert proc.returncode == 2 and "no pollers' state at" in proc.stderr


def test_until_idle_exits_1_when_every_feed_failed(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - id: gone\n    url: '{serve}/gone.xml'\n"
                                         "  - id: also-gone\n    url: '{serve}/also-gone.xml'\n")
    proc = cli("run", "--feeds", str(tmp_path / "feeds.yaml"), "--serve", str(tmp_path / "site"),
               "--warehouse", str(tmp_path / "w.duckdb"), "--until-idle", timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "every feed failed (2 of 2)" in proc.stderr


def test_status_of_a_running_job_comes_from_the_job(tmp_path):
    feeds = sample_site(tmp_path, broken=False)
    wh = tmp_path / "w.duckdb"
    with LiveRun("--feeds", str(feeds), "--serve", str(tmp_path / "site"), "--warehouse", str(wh)) as run:
        def report():
            got = cli("status", "--warehouse", str(wh), "--json")
            if got.returncode != 0:
                return None
            rep = json.loads(got.stdout)
            return rep if rep["job"] and sum(f["items_in_warehouse"] for f in rep["feeds"]) == 11 else None

        rep = wait_for(report)
        assert rep["job"]["pid"] == run.proc.pid and rep["job"]["pending"] is not None
        feeds_ = {f["feed_id"]: f for f in rep["feeds"]}
        assert feeds_["xinhua-world"]["published_this_run"] == 3
        assert all(f["healthy"] for f in feeds_.values())
    assert run.returncode == 0, run.output[-3000:]
