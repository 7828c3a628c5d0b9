"""``python -m pollers`` and the dev file server, run for real."""

from pathlib import Path

import httpx
import pytest

from emulator.server import start_emulator
from pollers import load_feeds
from pollers.cli import main
from pollers.devserver import serve_directory

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "examples" / "feeds"


def test_devserver_serves_files_with_conditional_get(tmp_path):
    (tmp_path / "a.xml").write_text("<rss version='2.0'><channel/></rss>")
    with serve_directory(tmp_path) as server, httpx.Client() as client:
        first = client.get(server.url + "a.xml")
        assert first.status_code == 200 and first.headers["content-type"] == "application/xml"
        etag = first.headers["etag"]
        assert client.get(server.url + "a.xml", headers={"If-None-Match": etag}).status_code == 304
        lm = first.headers["last-modified"]
        assert client.get(server.url + "a.xml", headers={"If-Modified-Since": lm}).status_code == 304
        assert client.get(server.url + "missing.xml").status_code == 404
        (tmp_path / "a.xml").write_text("<rss version='2.0'><channel><title>new</title></channel></rss>")
        assert client.get(server.url + "a.xml", headers={"If-None-Match": etag}).status_code == 200


def test_devserver_refuses_a_missing_directory(tmp_path):
    with pytest.raises(NotADirectoryError):
        serve_directory(tmp_path / "nope")


def test_once_with_the_bundled_samples_and_an_emulator(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state.sqlite"
    samples = SAMPLES
    expected = len(load_feeds(samples / "feeds.yaml", serve_base="http://127.0.0.1:1"))
    with start_emulator() as em:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", em.host_port)
        argv = ["--feeds", str(samples / "feeds.yaml"), "--serve", str(samples), "--state", str(state), "--once"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert f"polled {expected} feeds: 11 items published" in out
        assert main(argv) == 0  # a second run publishes nothing new
        assert f"polled {expected} feeds: 0 items published" in capsys.readouterr().out


def test_a_failing_feed_makes_once_exit_1(tmp_path, monkeypatch, capsys):
    (tmp_path / "ok.xml").write_bytes((ROOT / "tests/fixtures/feeds/rss20_wire.xml").read_bytes())
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {id: ok, url: '{serve}/ok.xml'}\n  - {id: gone, url: '{serve}/gone.xml'}\n")
    with start_emulator() as em:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", em.host_port)
        code = main(["--feeds", str(feeds), "--serve", str(tmp_path), "--state", str(tmp_path / "s.sqlite"),
                     "--once"])
    out = capsys.readouterr().out
    assert code == 1 and "not-found" in out and "3 items published" in out


def test_no_pubsub_configured_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {id: a, url: 'https://a.test/rss'}\n")
    assert main(["--feeds", str(feeds), "--state", str(tmp_path / "s.sqlite"), "--once"]) == 2
    assert "--emulator" in capsys.readouterr().out


def test_bad_feeds_file_is_reported(tmp_path, capsys):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {id: a}\n")
    assert main(["--feeds", str(feeds), "--state", str(tmp_path / "s.sqlite"), "--emulator", "--once"]) == 2
    assert "url is required" in capsys.readouterr().out


def test_serve_lets_full_text_feeds_fetch_their_pages_from_the_local_server_only(tmp_path, monkeypatch, capsys):
    # The item links are relative: the feed parser makes them absolute against the served feed URL.
    (tmp_path / "feed.xml").write_text(
        "<rss version='2.0'><channel><title>Lights</title><link>/</link><description>d</description>"
        "<item><title>Kelderport opens tidal ferry terminal</title><link>story.html</link><guid>k-1</guid>"
        "<description>A ferry terminal that can berth two vessels opened in Kelderport.</description></item>"
        "<item><title>Elsewhere</title><link>http://10.0.0.1/private.html</link><guid>k-2</guid>"
        "<description>A page on a private network.</description></item>"
        "</channel></rss>")
    (tmp_path / "story.html").write_bytes((ROOT / "tests/fixtures/pages/blog_xinhua.html").read_bytes())
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {id: lights, url: '{serve}/feed.xml', fetch_full_text: true}\n")
    with start_emulator() as em:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", em.host_port)
        code = main(["--feeds", str(feeds), "--serve", str(tmp_path), "--state", str(tmp_path / "s.sqlite"),
                     "--once", "--page-interval", "0"])
    out = capsys.readouterr().out
    assert code == 0 and "2 items published" in out
    assert "1 fetched" in out and "private-address" in out


def test_once_reports_guids_that_identify_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "300")  # one table row per feed, not wrapped
    items = "".join(f"<item><title>Story {n}</title><link>https://cms.example.test/story-{n}</link>"
                    f"<guid>https://cms.example.test/</guid><description>Body of story {n}.</description></item>"
                    for n in range(5))
    (tmp_path / "cms.xml").write_text(f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {id: cms, url: '{serve}/cms.xml'}\n")
    with start_emulator() as em:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", em.host_port)
        assert main(["--feeds", str(feeds), "--serve", str(tmp_path), "--state", str(tmp_path / "s.sqlite"),
                     "--once"]) == 0
    out = capsys.readouterr().out
    assert "5 items published" in out
    assert ("guids: 5 entries share guid https://cms.example.test/ with different links (the site's home "
            "page); keyed by link instead") in out
