"""Smoke test of bench/fanout.py: a tiny flood alert, queued and drained, ends with one JSON line."""

from __future__ import annotations

import io
import json

import pytest

from bench.fanout import main


def test_a_tiny_flood_alert_is_delivered_once_each_and_reported_as_json():
    out, err = io.StringIO(), io.StringIO()
    status = main(["--subscribers", "120", "--concurrency", "8"], stdout=out, stderr=err)

    assert status == 0
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["bench"] == "fanout"
    assert report["queued"] == report["delivered"] == 120
    assert report["all_delivered_once"] is True
    assert report["ratio_to_limit"] == round(report["drain_rate_msg_s"] / 30.0, 2)
    assert {"queue_s", "drain_s", "raw_send_rate_msg_s", "worker_vs_raw"} <= report.keys()
    assert err.getvalue() == ""  # no progress bar when stderr is not a terminal


def test_help_describes_the_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out
