"""Smoke test of bench/bot_throughput.py: a tiny run in-process ends with one JSON line of every figure."""

from __future__ import annotations

import gc
import io
import json
import math

import pytest

from bench.bot_throughput import main

PHASE_KEYS = {"updates", "seconds", "updates_per_s", "p50_ms", "p99_ms", "cpu_ms_per_update", "errors"}


def _run(*extra: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--drivers", "30", "--in-flight", "8", "--rounds", "1", *extra], stdout=out, stderr=err)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_tiny_run_ends_with_a_json_line_of_all_figures():
    # a ratio any machine meets: a tiny run on a busy one says nothing about the real target
    status, lines, err = _run("--target", "ratio_min=0.01")

    assert status == 0
    report = json.loads(lines[-1])
    assert report["bench"] == "bot_throughput"
    assert report["drivers"] == 30
    assert {"location", "echo", "ratio", "targets", "passed"} <= report.keys()
    for phase in ("location", "echo"):
        assert report[phase].keys() >= PHASE_KEYS
        assert report[phase]["updates"] == 30
        assert report[phase]["errors"] == 0  # every driver got an answer, none an apology
        assert 0 < report[phase]["p50_ms"] <= report[phase]["p99_ms"]
    assert report["ratio"] == pytest.approx(
        report["location"]["updates_per_s"] / report["echo"]["updates_per_s"], abs=0.001
    )
    offered = report["offered"]
    assert offered["rate_per_s"] == 50
    assert offered["updates"] == 30
    assert offered["errors"] == 0
    assert 0 < offered["p50_ms"] <= offered["p99_ms"]
    capacity = report["capacity"]
    assert capacity["target_per_s"] == 500
    assert capacity["processes_for_target"] == math.ceil(500 / report["location"]["updates_per_s"])
    assert capacity["cores_for_target"] == pytest.approx(
        500 * report["location"]["cpu_ms_per_update"] / 1000, abs=0.01
    )
    assert report["gc"] == "settled (bot.gc_tuning)"
    assert gc.get_freeze_count() == 0  # the bench put the test process's collector back
    assert report["targets"] == {"ratio_min": 0.01, "location_errors_max": 0}
    assert report["passed"] == {"ratio_min": True, "location_errors_max": True, "all": True}
    assert lines[0].startswith("location")  # the human-readable lines come first
    assert err == ""  # no progress bar when stderr is not a terminal


def test_a_missed_target_makes_the_exit_status_1():
    status, lines, _ = _run("--target", "ratio_min=1000")

    report = json.loads(lines[-1])
    assert status == 1
    assert report["passed"]["ratio_min"] is False
    assert report["passed"]["all"] is False
    assert "NOT met" in lines[-2]


def test_help_names_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    options = ("--quick", "--drivers", "--in-flight", "--rounds", "--rate", "--gc", "--target", "ratio_min")
    for option in options:
        assert option in text


def test_python_s_own_gc_settings_on_request_for_a_before_and_after():
    status, lines, _ = _run("--target", "ratio_min=0.01", "--gc", "python", "--rate", "200")

    report = json.loads(lines[-1])
    assert status == 0
    assert report["gc"] == "python's defaults"
    assert report["offered"]["rate_per_s"] == 200
