"""Smoke test of bench/fanout.py: a tiny flood alert, queued and drained, ends with one JSON line."""

from __future__ import annotations

import io
import json

import pytest

from bench.fanout import main


def _run(*extra: str) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--subscribers", "120", "--concurrency", "8", *extra], stdout=out, stderr=err)
    return status, json.loads(out.getvalue().splitlines()[-1]), err.getvalue()


def test_a_tiny_flood_alert_is_delivered_once_each_and_reported_as_json():
    # a rate any machine meets: a tiny run on a busy one says nothing about the real target
    status, report, err = _run("--target", "ratio_to_limit_min=0")

    assert status == 0
    assert report["bench"] == "fanout"
    assert report["queued"] == report["delivered"] == 120
    assert report["all_delivered_once"] is True
    assert report["ratio_to_limit"] == round(report["drain_rate_msg_s"] / 30.0, 2)
    assert {"queue_s", "drain_s", "raw_send_rate_msg_s", "worker_vs_raw"} <= report.keys()
    assert report["targets"] == {"ratio_to_limit_min": 0}
    assert report["passed"] == {"ratio_to_limit_min": True, "all_delivered_once": True, "all": True}
    assert err == ""  # no progress bar when stderr is not a terminal


def test_a_missed_target_makes_the_exit_status_1():
    status, report, _ = _run("--target", "ratio_to_limit_min=1e9")

    assert status == 1
    assert report["all_delivered_once"] is True
    assert report["passed"]["ratio_to_limit_min"] is False
    assert report["passed"]["all"] is False


def test_help_describes_the_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out
