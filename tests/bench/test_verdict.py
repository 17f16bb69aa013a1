"""bench/verdict.py: what makes a benchmark's run pass or fail."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from bench.verdict import MET, MISSED, add_target_option, chosen, finish, met, named, overall, verdicts


def test_a_min_target_is_a_floor_and_a_max_target_a_ceiling():
    assert met("ratio_min", 0.5, 0.5) is True
    assert met("ratio_min", 0.5, 0.49) is False
    assert met("lag_ms_max", 100, 100) is True
    assert met("lag_ms_max", 100, 100.1) is False
    assert met("lag_ms_max", 100, None) is None  # not measured in this run
    with pytest.raises(ValueError, match="_min or _max"):
        met("ratio", 1, 1)


def test_one_miss_fails_the_run_and_a_figure_not_measured_leaves_it_open():
    assert overall({"a": True, "b": True}) is True
    assert overall({"a": True, "b": None}) is None
    assert overall({"a": None, "b": False}) is False
    targets = {"speed_min": 2.0, "lag_ms_max": 10.0}
    report = {"speed": 3.0, "lag_ms": 11.0}
    assert named(targets, report) == {"speed_min": 3.0, "lag_ms_max": 11.0}
    assert verdicts(targets, named(targets, report), {"delivered_once": True}) == {
        "speed_min": True, "lag_ms_max": False, "delivered_once": True, "all": False
    }  # fmt: skip


def test_the_exit_status_follows_the_verdicts_and_the_json_line_comes_last():
    out = io.StringIO()
    print("a table", file=out)
    assert finish({"bench": "x", "passed": {"a": True, "all": True}}, out) == MET
    assert finish({"bench": "x", "passed": {"a": None, "all": None}}, out) == MET
    assert finish({"bench": "x", "passed": {"a": False, "all": False}}, out) == MISSED
    lines = out.getvalue().splitlines()
    assert lines[0] == "a table"
    assert [json.loads(line)["passed"]["all"] for line in lines[1:]] == [True, None, False]


def test_a_target_can_be_replaced_on_the_command_line_but_not_invented(capsys):
    targets = {"ratio_min": 0.5, "lag_ms_max": 100.0}
    parser = argparse.ArgumentParser()
    add_target_option(parser, targets)

    args = parser.parse_args(["--target", "ratio_min=0.8", "--target", "lag_ms_max=1e3"])
    assert chosen(targets, args.target) == {"ratio_min": 0.8, "lag_ms_max": 1000.0}
    assert chosen(targets, parser.parse_args([]).target) == targets
    for bad in ("ratio_max=1", "ratio_min", "ratio_min=fast"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(["--target", bad])
        assert exit_info.value.code == 2
    assert "no target 'ratio_max'" in capsys.readouterr().err
