"""``newswire run`` takes the pipeline's options and honours them: learned boilerplate on and off."""

from __future__ import annotations

from datetime import timedelta
from xml.sax.saxutils import escape

import duckdb
import pytest

from tests.learned_support import DAY0, FOOTER, _story

from .cli_support import cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Low enough that the footer, on every item of the feed, is learned within this one small feed.
LOW_THRESHOLDS = ["--learn_min_items=2", "--learn_min_days=1", "--learn_min_stories=2", "--learn_min_share=0.1"]


def _site(root):
    items = []
    for n in range(8):
        title, paragraphs = _story(n)
        when = (DAY0 + timedelta(days=n // 3, hours=n)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        body = "".join(f"<p>{escape(p)}</p>" for p in (*paragraphs, FOOTER))
        items.append(f"<item><title>{escape(title)}</title><link>https://hl.example.org/{n}</link>"
                     f"<guid>https://hl.example.org/{n}</guid><pubDate>{when}</pubDate>"
                     f"<description>{escape(body)}</description></item>")
    (root / "hl.xml").write_text(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>HL</title>"
        f"<link>https://hl.example.org/</link><description>fictional</description>{''.join(items)}"
        "</channel></rss>")
    (root / "feeds.yaml").write_text("feeds:\n  - id: harbour-lights\n    url: '{serve}/hl.xml'\n")


def _run(tmp_path, name, *options):
    wh = tmp_path / f"{name}.duckdb"
    proc = cli("run", "--feeds", str(tmp_path / "feeds.yaml"), "--serve", str(tmp_path), "--warehouse", str(wh),
               "--until-idle", *options, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with duckdb.connect(str(wh), read_only=True) as conn:
        learned = conn.execute("SELECT count(*) FROM learned_boilerplate WHERE learned").fetchone()[0]
        with_footer = conn.execute("SELECT count(*) FROM articles WHERE contains(body, ?)", [FOOTER]).fetchone()[0]
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    return learned, with_footer, articles


def test_learn_boilerplate_false_turns_learning_off_in_run(tmp_path):
    _site(tmp_path)
    learned, with_footer, articles = _run(tmp_path, "on", *LOW_THRESHOLDS)
    assert articles == 8 and learned >= 1 and with_footer < 8  # the options reached the pipeline
    learned, with_footer, articles = _run(tmp_path, "off", *LOW_THRESHOLDS, "--learn_boilerplate=false")
    assert articles == 8 and learned == 0 and with_footer == 8


def test_pubsub_project_id_names_the_project_on_an_emulator(tmp_path, emulator):
    """``gcloud beta emulators pubsub env-init`` sets PUBSUB_PROJECT_ID beside PUBSUB_EMULATOR_HOST."""
    from google.cloud import pubsub_v1

    from .cli_support import sample_site

    feeds = sample_site(tmp_path, broken=False)
    proc = cli("run", "--feeds", str(feeds), "--serve", str(tmp_path / "site"), "--warehouse",
               str(tmp_path / "w.duckdb"), "--until-idle", drop_env=(), timeout=300,
               env={"PUBSUB_EMULATOR_HOST": emulator.host_port, "PUBSUB_PROJECT_ID": "env-init-project"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    publisher = pubsub_v1.PublisherClient()
    topics = [t.name for t in publisher.list_topics(request={"project": "projects/env-init-project"})]
    assert topics == ["projects/env-init-project/topics/raw-items"]
