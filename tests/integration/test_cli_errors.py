"""Every user mistake gets one line on stderr that says what to do, and exit status 2; no traceback
unless --debug. The commands run as subprocesses, as a user runs them."""

from __future__ import annotations

import time

import duckdb
import pytest

from .cli_support import EXAMPLE_FEEDS, ROOT, cli, closed_port, lines

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _one_error_line(proc, *expected: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    err = lines(proc.stderr)
    assert len(err) == 1, proc.stderr
    for text in expected:
        assert text in err[0], err[0]
    return err[0]


@pytest.mark.parametrize("args, expected", [
    (["run", "--feeds", "f.yaml", "--warehouse", "w.duckdb", "--interval", "5"],
     ["unknown option --interval", "interval: SECONDS"]),
    (["learned", "--warehouse", "w.duckdb", "--fed", "x"], ["unknown option --fed", "did you mean --feed?"]),
    (["process", "--input", "x.jsonl", "--warehouse", "w.duckdb", "--dedup_ttl_hour", "5"],
     ["did you mean --dedup_ttl_hours?"]),
    (["run", "--feeds", "f.yaml", "--warehouse", "w.duckdb", "--until_idle"], ["did you mean --until-idle?"]),
    (["run", "--feeds", "f.yaml", "--warehouse", "w.duckdb", "--learn_boilerplate=maybe"],
     ["--learn_boilerplate", "expected true or false, got 'maybe'"]),
    (["query", "--warehouse", "w.duckdb", "SELECT", "1"], ["unexpected argument '1'", "quote the SQL"]),
])
def test_unknown_options_and_bad_values_are_errors_with_a_suggestion(tmp_path, args, expected):
    _one_error_line(cli(*args, cwd=tmp_path), *expected)


def test_version():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("newswire ")


def test_pipeline_main_help_lists_every_pipeline_option_with_its_help():
    proc = cli("--help", module="pipeline.main")
    assert proc.returncode == 0, proc.stderr
    for option in ("--input", "--warehouse", "--dedup_ttl_hours", "--cluster_ttl_hours", "--match_jaccard",
                   "--learn_boilerplate", "--learn_min_items", "--inputSubscription",
                   "--outputTableSpec", "--outputDeadletterTable"):
        assert option in proc.stdout, option
    assert "share of the source's items" in " ".join(proc.stdout.split())  # the help, not only names
    _one_error_line(cli("--input", "x", "--warehouse", "y", "--dedup_ttl_hour", "3", module="pipeline.main"),
                    "did you mean --dedup_ttl_hours?")
    _one_error_line(cli("--input", "x", "--warehouse", "y", "--dedup_ttl_hours", "abc", module="pipeline.main"),
                    "--dedup_ttl_hours", "'abc'")


FEEDS_MISTAKES = {
    "unknown-key.yaml": ("feeds:\n  - id: a\n    url: https://a.test/rss\n    intervall: 60\n",
                         ":2:", "unknown key(s) ['intervall'] (did you mean 'interval'?)"),
    "missing-url.yaml": ("feeds:\n  - id: a\n  - id: b\n    url: https://b.test/rss\n", ":2:", "url is required"),
    "duplicate-id.yaml": ("feeds:\n  - id: a\n    url: https://a.test/rss\n  - id: a\n    url: https://b.test/rss\n",
                          ":4:", "feed id 'a' is used more than once"),
    "no-scheme.yaml": ("feeds:\n  - id: a\n    url: example.org/rss\n", ":2:",
                       "must start with http:// or https:// (e.g. 'https://example.org/rss')"),
    "not-yaml.yaml": ("feeds:\n  - id: a\n    url: [https://a.test\n", ":4:", "not valid YAML"),
}


@pytest.mark.parametrize("name", sorted(FEEDS_MISTAKES))
def test_feeds_file_mistakes_name_the_file_and_line(tmp_path, name):
    text, where, expected = FEEDS_MISTAKES[name]
    (tmp_path / name).write_text(text)
    line = _one_error_line(cli("check", "--feeds", name, cwd=tmp_path), f"{name}{where}", expected)
    assert "<unicode string>" not in line


@pytest.mark.parametrize("name", ["unknown-key.yaml", "not-yaml.yaml"])
def test_feeds_file_mistakes_under_run_are_one_line_too(tmp_path, name):
    text, where, expected = FEEDS_MISTAKES[name]
    (tmp_path / name).write_text(text)
    _one_error_line(cli("run", "--feeds", name, "--warehouse", "w.duckdb", "--until-idle", cwd=tmp_path),
                    f"{name}{where}", expected)
    assert not (tmp_path / "w.duckdb").exists()


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "f.yaml").write_text(FEEDS_MISTAKES["missing-url.yaml"][0])
    proc = cli("--debug", "check", "--feeds", "f.yaml", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "FeedsFileError" in proc.stderr


def test_a_good_feeds_file_checks_and_fetches():
    proc = cli("check", "--feeds", str(EXAMPLE_FEEDS / "feeds.yaml"), "--serve", str(EXAMPLE_FEEDS), "--fetch")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 of 4 feeds answered with a feed" in proc.stdout
    assert "xinhua-world: HTTP 200, 3 entries" in proc.stdout


def test_check_fetch_fails_for_an_unreachable_feed(tmp_path):
    (tmp_path / "f.yaml").write_text(
        f"feeds:\n  - id: gone\n    url: http://127.0.0.1:{closed_port()}/rss\n    allow_private: true\n")
    proc = cli("check", "--feeds", "f.yaml", "--fetch", cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAIL gone: connection" in proc.stdout


def test_a_file_that_is_not_a_duckdb_database(tmp_path):
    (tmp_path / "w.duckdb").write_bytes(b"this is not a database\n" * 100)
    _one_error_line(cli("query", "--warehouse", "w.duckdb", "SELECT 1", cwd=tmp_path),
                    "w.duckdb is not a DuckDB database")
    _one_error_line(cli("process", "--input", str(ROOT / "examples" / "raw" / "*.jsonl"), "--warehouse",
                        "w.duckdb", cwd=tmp_path), "w.duckdb is not a DuckDB database")


def test_another_applications_duckdb_file(tmp_path):
    with duckdb.connect(str(tmp_path / "other.duckdb")) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER, amount DOUBLE)")
    _one_error_line(cli("process", "--input", str(ROOT / "examples" / "raw" / "*.jsonl"), "--warehouse",
                        "other.duckdb", cwd=tmp_path), "another application's DuckDB database", "invoices")
    with duckdb.connect(str(tmp_path / "other.duckdb"), read_only=True) as conn:
        assert [r[0] for r in conn.execute("SHOW TABLES").fetchall()] == ["invoices"]  # left alone


def test_query_prints_brackets_as_they_are(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("CREATE TABLE t AS SELECT '[red]alert[/red] [1]' AS \"[b]note\"")
    proc = cli("query", "--warehouse", "w.duckdb", "SELECT * FROM t", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "[red]alert[/red] [1]" in proc.stdout and "[b]note" in proc.stdout
    bad = cli("query", "--warehouse", "w.duckdb", "SELECT [1, 2][5] FROM nothing_here", cwd=tmp_path)
    _one_error_line(bad, "nothing_here")


def test_an_emulator_that_is_not_running_is_reported_within_10_s(tmp_path):
    started = time.monotonic()
    proc = cli("run", "--feeds", str(EXAMPLE_FEEDS / "feeds.yaml"), "--serve", str(EXAMPLE_FEEDS),
               "--warehouse", "w.duckdb", "--until-idle", cwd=tmp_path, timeout=60,
               env={"PUBSUB_EMULATOR_HOST": f"127.0.0.1:{closed_port()}"})
    # The command's own start (Beam's import) is part of it: the whole run ends within 10 s more.
    assert time.monotonic() - started < 20
    _one_error_line(proc, "PUBSUB_EMULATOR_HOST=127.0.0.1:", "nothing answers there", "unset PUBSUB_EMULATOR_HOST")
