"""Smoke test of bench/expansion.py: a small flood's expansion, timed on SQLite (and PostgreSQL when its
server is given), checked against the people the scenario put in the area, ends with one JSON line."""

from __future__ import annotations

import io
import json

import pytest

from bench.expansion import main
from tests.bench.support import unanswered_postgres_url

CHECKS = ("reached_expected", "same_as_orm", "rerun_adds_nothing")


def test_a_small_floods_expansion_reaches_everyone_once_and_is_reported_as_json(monkeypatch):
    monkeypatch.delenv("ROADBOT_TEST_POSTGRES_URL", raising=False)
    out, err = io.StringIO(), io.StringIO()
    # a time any machine meets: a small run on a busy one says nothing about the real target
    status = main(
        ["--quick", "--repeat", "2", "--target", "sqlite_expansion_s_max=30"], stdout=out, stderr=err
    )

    assert status == 0
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["bench"] == "expansion"
    assert report["sqlite_people"] == report["sqlite_expected"] == 345  # 300 subscribers, 60 inside, 15 both
    assert len(report["sqlite_expansions_s"]) == 2
    assert report["sqlite_planned_s"] == pytest.approx(
        report["sqlite_declare_s"] + report["sqlite_expansion_s"], abs=0.002
    )
    assert {f"sqlite_{check}": True for check in CHECKS}.items() <= report["passed"].items()
    assert report["passed"]["postgres_expansion_s_max"] is None  # not measured without a server
    assert report["passed"]["all"] is None
    assert "sqlite: 345 people planned in" in out.getvalue()
    assert err.getvalue().splitlines()[-1].startswith("[bench] done in")  # no bar: stderr is no terminal


def test_a_missed_target_exits_non_zero_with_its_figures(monkeypatch):
    monkeypatch.delenv("ROADBOT_TEST_POSTGRES_URL", raising=False)
    out = io.StringIO()
    argv = ["--quick", "--repeat", "1", "--target", "sqlite_expansion_s_max=0.000001"]
    assert main(argv, stdout=out, stderr=io.StringIO()) == 1
    assert "MISSED" in out.getvalue()
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["passed"]["sqlite_expansion_s_max"] is False
    assert report["passed"]["sqlite_reached_expected"] is True


def test_postgresql_asked_for_and_not_answering_fails_the_bench_and_says_why(monkeypatch):
    monkeypatch.setenv("ROADBOT_TEST_POSTGRES_URL", unanswered_postgres_url())
    out = io.StringIO()
    assert main(["--quick", "--database", "postgres"], stdout=out, stderr=io.StringIO()) == 1
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["passed"] == {**report["passed"], "postgres_ran": False, "all": False}
    assert report["postgres_error"].startswith("no PostgreSQL at ROADBOT_TEST_POSTGRES_URL's server")


def test_help_describes_the_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out


@pytest.mark.postgres
def test_with_a_postgresql_server_both_backends_are_measured_and_checked(postgres_database):
    """``postgres_database`` only stands for the server being there (it skips, or fails on CI, without one):
    the bench makes its own throwaway database on that server."""
    out = io.StringIO()
    argv = ["--quick", "--repeat", "1", "--database", "both"]
    argv += ["--target", "sqlite_expansion_s_max=30", "--target", "postgres_expansion_s_max=30"]
    argv += ["--target", "sqlite_planned_s_max=60", "--target", "postgres_planned_s_max=60"]

    assert main(argv, stdout=out, stderr=io.StringIO()) == 0

    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["postgres_people"] == report["sqlite_people"] == 345
    assert all(
        report["passed"][f"{backend}_{check}"] for backend in ("sqlite", "postgres") for check in CHECKS
    )
    assert report["passed"]["all"] is True
