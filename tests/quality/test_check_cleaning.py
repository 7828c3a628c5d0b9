"""The cleaning quality check as part of the test suite: the golden corpus must meet its floors."""

from __future__ import annotations

import shutil

from tests.quality.check_cleaning import FLOORS, load_corpus, main, run
from transforms.cleaning import RULES_DIR, load_rules


def test_golden_corpus_meets_the_floors():
    report = run()
    assert report.failures() == [], "\n".join(report.failures())
    assert report.leak_rate <= FLOORS["leak_rate"]
    assert report.recall >= FLOORS["recall"]
    assert report.agency_accuracy >= FLOORS["agency_accuracy"]


def test_corpus_covers_every_agency_and_several_templates():
    items = load_corpus()
    assert len(items) >= 60
    assert len({i.agency for i in items if i.agency}) == 20
    assert len({i.template for i in items}) >= 5
    assert any(i.agency is None for i in items)
    assert all(i.keep and i.gone for i in items)


def test_the_check_fails_when_cleaning_gets_worse(tmp_path):
    """Without the agency packs, datelines and signatures leak and agencies are lost: below floor."""
    root = tmp_path / "rules"
    root.mkdir()
    for name in ("generic.yaml", "templates.yaml"):
        shutil.copy(RULES_DIR / name, root / name)
    report = run(rules=load_rules(root))
    assert report.leak_rate > FLOORS["leak_rate"]
    assert report.agency_accuracy < FLOORS["agency_accuracy"]
    assert len(report.failures()) >= 2


def test_command_line_exit_status(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "boilerplate leak rate" in out and "all floors met" in out
