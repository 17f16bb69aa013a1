"""Smoke test of bench/fanout.py: a tiny flood alert, queued and drained, ends with one JSON line."""

from __future__ import annotations

import io
import json

import pytest

from bench.fanout import main
from tests.bench.support import unanswered_postgres_url


def test_a_tiny_flood_alert_is_delivered_once_each_and_reported_as_json():
    out, err = io.StringIO(), io.StringIO()
    # a rate any machine meets: a tiny run on a busy one says nothing about the real target
    argv = ["--subscribers", "120", "--concurrency", "8", "--target", "drain_rate_msg_s_min=1"]
    status = main(argv, stdout=out, stderr=err)

    assert status == 0
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["bench"] == "fanout"
    assert report["queued"] == report["delivered"] == 120
    assert report["all_delivered_once"] is True
    assert report["ratio_to_limit"] == round(report["drain_rate_msg_s"] / 30.0, 2)
    assert {"queue_s", "drain_s", "raw_send_rate_msg_s", "worker_vs_raw"} <= report.keys()
    assert report["raw_sent"] == 120  # the baseline sends as many as the worker did
    assert report["targets"] == {"drain_rate_msg_s_min": 1}
    assert report["passed"] == {"drain_rate_msg_s_min": True, "all_delivered_once": True, "all": True}
    assert err.getvalue() == ""  # no progress bar when stderr is not a terminal


def test_a_missed_target_exits_non_zero_with_its_figures():
    out = io.StringIO()
    status = main(
        ["--subscribers", "30", "--target", "drain_rate_msg_s_min=1e9"], stdout=out, stderr=io.StringIO()
    )
    assert status == 1
    assert "MISSED" in out.getvalue()
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["all_delivered_once"] is True
    assert report["passed"]["drain_rate_msg_s_min"] is False
    assert report["passed"]["all"] is False


def test_without_its_postgresql_the_bench_fails_and_says_why(monkeypatch):
    monkeypatch.delenv("ROADBOT_TEST_POSTGRES_URL", raising=False)
    out = io.StringIO()
    assert main(["--postgres", "--subscribers", "10"], stdout=out, stderr=io.StringIO()) == 1
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["passed"]["all"] is False
    assert "ROADBOT_TEST_POSTGRES_URL" in report["error"]


def test_help_describes_the_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_a_postgresql_server_that_does_not_answer_fails_the_bench_and_says_why(monkeypatch):
    monkeypatch.setenv("ROADBOT_TEST_POSTGRES_URL", unanswered_postgres_url())
    out = io.StringIO()
    assert main(["--postgres", "--subscribers", "10"], stdout=out, stderr=io.StringIO()) == 1
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["passed"]["all"] is False
    assert report["error"].startswith("no PostgreSQL at ROADBOT_TEST_POSTGRES_URL's server")
