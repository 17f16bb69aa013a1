"""Smoke test of bench/emergency_drain.py: a tiny emergency declared, drained, updated and drained again as
replies, ending with one JSON line."""

from __future__ import annotations

import io
import json

import pytest

from bench.emergency_drain import main
from tests.bench.support import unanswered_postgres_url


def test_a_tiny_emergency_reaches_everyone_once_per_version_and_is_reported_as_json():
    out, err = io.StringIO(), io.StringIO()
    # a rate any machine meets: a tiny run on a busy one says nothing about the real target
    argv = ["--subscribers", "60", "--batch", "7", "--emergency-batch", "9", "--target",
            "drain_rate_msg_s_min=1"]  # fmt: skip
    status = main(argv, stdout=out, stderr=err)

    assert status == 0
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["bench"] == "emergency_drain"
    assert report["people"] == 60 + 6 - 2  # subscribers, and the drivers inside less those subscribed too
    assert report["declared_once_each"] is report["update_once_each"] is True
    assert report["update_answers_first"] is True
    assert report["drain_rate_msg_s"] == min(report["declared_rate_msg_s"], report["update_rate_msg_s"])
    assert report["ratio_to_limit"] == round(report["drain_rate_msg_s"] / 30.0, 2)
    assert (report["batch"], report["emergency_batch"], report["gate"]) == (7, 9, False)
    assert report["paid_broadcast_sent"] == 0
    assert report["passed"] == {
        "drain_rate_msg_s_min": True, "declared_once_each": True, "update_once_each": True,
        "update_answers_first": True, "all": True,
    }  # fmt: skip
    assert err.getvalue() == ""  # no progress bar when stderr is not a terminal


def test_through_the_gate_at_paid_broadcasts_rate_the_messages_go_out_paid():
    out = io.StringIO()
    argv = ["--subscribers", "20", "--gate", "--target", "drain_rate_msg_s_min=1"]
    assert main(argv, stdout=out, stderr=io.StringIO()) == 0
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["gate"] is True
    assert report["paid_broadcast_sent"] == 2 * report["people"]  # both versions, every person
    assert report["passed"]["all"] is True


def test_a_missed_target_exits_non_zero_with_its_figures():
    out = io.StringIO()
    argv = ["--subscribers", "20", "--target", "drain_rate_msg_s_min=1e9"]
    assert main(argv, stdout=out, stderr=io.StringIO()) == 1
    assert "MISSED" in out.getvalue()
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["declared_once_each"] is True
    assert report["passed"]["drain_rate_msg_s_min"] is False
    assert report["passed"]["all"] is False


def test_without_its_postgresql_the_bench_fails_and_says_why(monkeypatch):
    monkeypatch.delenv("ROADBOT_TEST_POSTGRES_URL", raising=False)
    out = io.StringIO()
    assert main(["--postgres", "--subscribers", "10"], stdout=out, stderr=io.StringIO()) == 1
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["passed"]["all"] is False
    assert "ROADBOT_TEST_POSTGRES_URL" in report["error"]


def test_a_postgresql_server_that_does_not_answer_fails_the_bench_and_says_why(monkeypatch):
    monkeypatch.setenv("ROADBOT_TEST_POSTGRES_URL", unanswered_postgres_url())
    out = io.StringIO()
    assert main(["--postgres", "--subscribers", "10"], stdout=out, stderr=io.StringIO()) == 1
    assert json.loads(out.getvalue().splitlines()[-1])["passed"]["all"] is False


def test_help_describes_the_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_bad_sizes_are_bad_usage():
    with pytest.raises(SystemExit) as exit_:
        main(["--batch", "0"], stdout=io.StringIO(), stderr=io.StringIO())
    assert exit_.value.code == 2
