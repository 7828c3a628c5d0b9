"""CI's quality gate on the blind corpora (tests/quality/blind/README.md): the main job, run as users
run it, on the part tuned on and on the parts only scored. Each figure is held at or above what the
project reaches today (the issue's floors are printed beside it), so quality can only move up."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_quality import FLOORS, evaluate, format_report

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BLIND = Path(__file__).with_name("blind")
# part: (most articles keeping boilerplate, least must-keep kept, least agency right, least F1)
# A copy naming no agency takes its story's agency in articles_latest whatever the arrival order.
# F1 as reached since briefs join their trimmed copies and copies sharing one passage word for
# word join (dev 0.991, test3 1.000 on every run); leak with the rules and the model trained with
# labelled/train5 and train6 (test 8.7% -> 7.6%, test2 15.1% -> 12.9%). Since teasers join by the
# lead rule: dev 0.991 -> 1.000, test 0.968 -> 1.000, test4 0.849 -> 0.939.
HELD = {
    "dev": (0.02, 0.995, 0.98, 0.99),
    "test": (0.08, 0.995, 0.98, 0.99),
    "test2": (0.13, 0.98, 0.97, 0.97),
    "test3": (0.13, 0.995, 0.92, 0.99),
    # Written after the rest was tuned on; scored only (leak 9.9% -> 9.0%, agency 91.0% -> 91.9%,
    # F1 0.849; 0.939 with the lead rule).
    "test4": (0.10, 0.995, 0.91, 0.93),
    # Written after test4 was scored, in 14 languages with five agencies no rule pack names (NTB,
    # TT, STT, Ritzau, BTA); scored only (first scored: leak 13.3%, keep 99.8%, agency 87.6%, F1 1.000;
    # with the packs of more agencies and the rules tuned on labelled/train7: 9.7%, 99.5%, 90.3%).
    "test5": (0.10, 0.99, 0.90, 0.99),
}


@pytest.mark.parametrize("part", sorted(HELD))
def test_blind_part_holds_its_figures(part, monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    report = evaluate(BLIND / part)
    print(f"\n{part}:\n{format_report(report)}\nissue floors: {FLOORS}")
    leak, keep, agency, f1 = HELD[part]
    assert report.missing == 0
    assert report.precision == 1.0, "two different stories merged"
    assert report.leak <= leak
    assert report.keep >= keep
    assert report.agency >= agency
    assert report.f1 >= f1
