"""Strict parsing: suggestions for unknown options, and the pipeline's options on other commands."""

from __future__ import annotations

import pytest

from pipeline.cli import make_parser
from pipeline.cliparse import UsageError, pipeline_flags, suggest, unknown_arguments_message


def test_suggestions():
    assert suggest("--dedup_ttl_hour", ["--dedup_ttl_hours", "--cluster_ttl_hours"]) == "--dedup_ttl_hours"
    assert suggest("--until_idle", ["--until-idle", "--idle-timeout"]) == "--until-idle"
    assert suggest("--zzz", ["--feeds"]) is None
    assert unknown_arguments_message(["--fed", "x"], ["--feed", "--all"]) == "unknown option --fed; did you mean --feed?"
    assert unknown_arguments_message(["1"], [], {"": "quote it"}) == "unexpected argument '1' (quote it)"


def test_no_abbreviations_and_errors_are_usage_errors():
    with pytest.raises(UsageError, match="unknown option --until; did you mean --until-idle"):
        make_parser().parse_args(["run", "--feeds", "f", "--warehouse", "w", "--until"])
    with pytest.raises(UsageError, match="newswire process: the following arguments are required: --input"):
        make_parser().parse_args(["process", "--warehouse", "w"])


def test_run_and_process_pass_only_the_pipeline_options_given():
    args = make_parser().parse_args(["run", "--feeds", "f", "--warehouse", "w", "--learn_boilerplate=false",
                                     "--match_jaccard", "0.6", "--dedup_ttl_hours=24"])
    assert pipeline_flags(args, args.pipeline_dests) == [
        "--dedup_ttl_hours=24.0", "--match_jaccard=0.6", "--learn_boilerplate=false"]
    args = make_parser().parse_args(["process", "--input", "x", "--warehouse", "w"])
    assert pipeline_flags(args, args.pipeline_dests) == []
    assert "ledger_subscription" not in args.pipeline_dests and "inputSubscription" not in args.pipeline_dests
