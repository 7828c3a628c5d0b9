"""The learned-boilerplate options: mapped onto LearnConfig, validated, and switchable off."""

from __future__ import annotations

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import NewswireOptions, learn_config
from transforms.learning import LearnConfig


def _opts(*args: str) -> NewswireOptions:
    return PipelineOptions(["--input", "x", "--warehouse", "y", *args]).view_as(NewswireOptions)


def test_defaults_are_the_learn_config_defaults():
    assert learn_config(_opts()) == LearnConfig()


def test_every_threshold_is_an_option():
    config = learn_config(_opts("--learn_min_items=7", "--learn_min_days=4", "--learn_min_stories=9",
                                "--learn_min_share=0.25", "--learn_max_lines=300", "--learn_window_days=30",
                                "--learn_max_line_chars=250"))
    assert config == LearnConfig(min_items=7, min_days=4, min_stories=9, min_share=0.25, max_lines=300,
                                 window_days=30, max_line_chars=250)


@pytest.mark.parametrize("value,on", [("false", False), ("False", False), ("0", False), ("true", True),
                                      ("yes", True)])
def test_learning_can_be_switched_off(value, on):
    assert (learn_config(_opts(f"--learn_boilerplate={value}")) is not None) is on


def test_out_of_range_thresholds_name_the_options():
    with pytest.raises(ValueError, match=r"--learn_\* options: min_share"):
        learn_config(_opts("--learn_min_share=0"))
    with pytest.raises(SystemExit):  # argparse: not a boolean
        _opts("--learn_boilerplate=maybe").learn_boilerplate  # noqa: B018
