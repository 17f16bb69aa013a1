"""Smoke test of bench/flood.py: a small flood day on SQLite ends with one JSON line and keeps the exit-code
contract (0 met, 1 missed or no data, 2 bad usage)."""

from __future__ import annotations

import io
import json
import math
import os

import pytest

from bench.flood import main
from tests.bench.support import unanswered_postgres_url

# targets any machine meets: a small day on a busy machine says nothing about the real ones
LENIENT = [
    "--target", "planned_s_max=60", "--target", "drain_rate_msg_s_min=1",
    "--target", "day_p99_ms_max=60000", "--target", "loop_stalls_max=1000",
]  # fmt: skip


def _report(out: io.StringIO) -> dict:
    return json.loads(out.getvalue().splitlines()[-1])


def test_a_small_flood_day_reaches_everyone_once_and_reports_every_figure(monkeypatch):
    monkeypatch.delenv("ROADBOT_TEST_POSTGRES_URL", raising=False)
    out, err = io.StringIO(), io.StringIO()
    status = main(["--quick", *LENIENT], stdout=out, stderr=err)

    report = _report(out)
    assert status == 0, report["passed"]
    assert report["bench"] == "flood"
    assert report["backend"] == "sqlite"
    assert report["bot_pid"] != report["bench_pid"] == os.getpid()  # the bot runs apart from its stand-ins
    assert report["idle_bot_cpu_ms_per_update"] > 0
    # every person inside the area, subscriber or driver, once for the flood and once for its update
    assert report["messages"] == report["expected_people"] > report["subscribers"]
    assert report["all_reached_once"] is True
    assert report["strays"] == 0
    assert report["late_replies"] == 0
    assert report["update_reached_once"] is True
    assert report["update_answers_first"] is True
    assert report["drain_alone"]["messages"] == report["expected_people"]
    assert 0 < report["planned_s"] <= report["first_message_s"]
    assert report["ratio_to_limit"] == round(report["drain_rate_msg_s"] / 30.0, 2)
    assert report["day"]["import"]["added"] == report["imported"]
    assert report["day"]["web"]["requests"] > 0
    assert set(report["day"]["web"]["statuses"]) <= {"200", "304"}
    for load in (report["idle"], report["day"]):
        assert load["answered"] == load["offered"]
        assert load["errors"] == 0
        assert 0 < load["p50_ms"] <= load["p99_ms"]
    assert report["loop"]["samples"] > 0
    assert report["loop_stalls"] == report["loop"]["stalls"]
    assert report["capacity_steps"]
    assert report["sustainable_updates_s"] > 0
    assert report["processes_for_500"] == math.ceil(500 / report["sustainable_updates_s"])
    assert report["passed"]["all"] is True
    assert err.getvalue().endswith("s\n")  # not a terminal: plain lines, the last saying how long it took


def test_an_impossible_target_exits_one_and_names_the_miss(monkeypatch):
    monkeypatch.delenv("ROADBOT_TEST_POSTGRES_URL", raising=False)
    out = io.StringIO()
    argv = ["--quick", "--seconds", "0.5", *LENIENT, "--target", "drain_rate_msg_s_min=1e9"]
    assert main(argv, stdout=out, stderr=io.StringIO()) == 1
    assert "MISSED" in out.getvalue()
    report = _report(out)
    assert report["targets"]["drain_rate_msg_s_min"] == 1e9
    assert report["passed"]["drain_rate_msg_s_min"] is False
    assert report["passed"]["all"] is False
    assert report["all_reached_once"] is True  # the miss is the target's, not a lost message


def test_postgresql_asked_for_without_a_server_fails_and_says_why(monkeypatch):
    monkeypatch.delenv("ROADBOT_TEST_POSTGRES_URL", raising=False)
    out = io.StringIO()
    assert main(["--quick", "--database", "postgres"], stdout=out, stderr=io.StringIO()) == 1
    report = _report(out)
    assert report["passed"]["all"] is False
    assert "ROADBOT_TEST_POSTGRES_URL" in report["error"]


def test_a_postgresql_server_that_does_not_answer_fails_the_bench_and_says_why(monkeypatch):
    monkeypatch.setenv("ROADBOT_TEST_POSTGRES_URL", unanswered_postgres_url())
    out = io.StringIO()
    assert main(["--quick"], stdout=out, stderr=io.StringIO()) == 1  # auto: the variable names a server
    report = _report(out)
    assert report["passed"]["all"] is False
    assert report["error"].startswith("no PostgreSQL at ROADBOT_TEST_POSTGRES_URL's server")


@pytest.mark.parametrize("argv", [["--rate", "0"], ["--target", "nonsense_max=1"], ["--database", "oracle"]])
def test_bad_usage_exits_two(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_describes_the_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert "--quick" in help_text
    assert "planned_s_max=1" in help_text
