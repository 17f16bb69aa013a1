"""Smoke test of bench/queries.py: a tiny run in-process ends with one JSON line holding every figure."""

from __future__ import annotations

import io
import json
import os

import pytest

from bench.postgis import URL_VARIABLE, disagreements
from bench.queries import TARGETS, main

ROW_KEYS = {
    "n",
    "spread",
    "query",
    "build_ms",
    "index_median_us",
    "index_p95_us",
    "baseline_median_us",
    "baseline_p95_us",
    "ratio",
}


@pytest.fixture
def no_postgis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_VARIABLE, raising=False)


def _run(*argv: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_tiny_run_ends_with_a_json_line_of_all_figures(no_postgis):
    status, lines, progress = _run("--quick", "--max-n", "1000")

    assert status == 0  # no target was missed: none of them is measured at N = 1,000
    report = json.loads(lines[-1])
    assert report["bench"] == "queries"
    assert {"results", "targets", "passed"} <= report.keys()
    measured = {(row["n"], row["spread"], row["query"]) for row in report["results"]}
    assert measured == {
        (1_000, spread, query) for spread in ("city", "country") for query in ("point", "route")
    }
    for row in report["results"]:
        assert row.keys() >= ROW_KEYS
    assert report["targets"] == TARGETS
    assert set(report["passed"]) == {*TARGETS, "batch_same_answers", "postgis_agrees", "all"}
    assert {name: report["passed"][name] for name in TARGETS} == dict.fromkeys(TARGETS)  # not run at 1k
    assert report["passed"]["batch_same_answers"] is True
    assert report["passed"]["all"] is None
    assert [(b["n"], b["spread"]) for b in report["batch"]] == [(1_000, "city"), (1_000, "country")]
    for batch in report["batch"]:
        assert batch["points"] == 1_000
        assert batch["same_answers"] is True
        assert batch["speedup"] == pytest.approx(
            batch["loop_us_per_point"] / batch["batch_us_per_point"], rel=0.05
        )
    assert report["postgis"] is None
    assert URL_VARIABLE in report["postgis_reason"]
    assert all(row["postgis_median_us"] is None for row in report["results"])
    assert lines[0].split()[:3] == ["N", "spread", "query"]  # the table comes first
    assert "[bench]" in progress  # plain progress lines when stderr is not a terminal


def test_a_missed_target_is_a_failing_exit_status_and_says_which(no_postgis):
    status, lines, _ = _run(
        "--quick", "--json-only", "--max-n", "1000", "--target", "point_1k_city_median_us_max=0.001"
    )

    report = json.loads(lines[-1])
    assert status == 1
    assert report["targets"]["point_1k_city_median_us_max"] == 0.001
    assert report["passed"]["point_1k_city_median_us_max"] is False
    assert report["passed"]["all"] is False


def test_a_target_that_names_nothing_measurable_is_bad_usage(capsys):
    for bad in ("point_1k_city_speed_min=1", "tram_1k_city_median_us_max=1", "point_1k_city_median_us_max=x"):
        with pytest.raises(SystemExit) as exit_info:
            main(["--target", bad])
        assert exit_info.value.code == 2
        assert "--target" in capsys.readouterr().err


@pytest.mark.postgres
def test_with_a_server_the_same_queries_go_to_postgis_and_agree():
    if not os.environ.get(URL_VARIABLE):
        if os.environ.get("CI"):
            pytest.fail(f"{URL_VARIABLE} is not set on CI")
        pytest.skip(f"no PostgreSQL: set {URL_VARIABLE}")
    status, lines, _ = _run("--quick", "--json-only", "--max-n", "1000")

    report = json.loads(lines[-1])
    assert status == 0
    assert report["postgis"]["version"]
    assert "postgis_reason" not in report
    for row in report["results"]:
        assert row["postgis_queries"] == (50 if row["query"] == "point" else 5)
        assert row["postgis_disagreements"] == 0
        assert row["postgis_median_us"] > 0
        assert row["postgis_ratio"] > 0  # PostGIS ÷ ours on the same queries
    assert report["passed"]["postgis_agrees"] is True


def test_a_server_that_cannot_be_reached_fails_the_run_and_says_why(monkeypatch):
    monkeypatch.setenv(URL_VARIABLE, "postgresql+psycopg://postgres@127.0.0.1:1/postgres")
    status, lines, _ = _run("--quick", "--json-only", "--max-n", "50")

    report = json.loads(lines[-1])
    assert status == 1
    assert report["postgis"] is None
    assert report["postgis_reason"].startswith("PostGIS failed: OperationalError")
    assert report["passed"]["postgis_agrees"] is False


def test_answers_differ_only_beyond_rounding_and_away_from_the_edge():
    ours = [[(1, 100.0), (2, 499.0)], [(3, 10.0)]]
    assert disagreements(ours, [[(1, 100.2), (2, 499.5)], [(3, 10.0)]], 500.0) == 0  # 0.2 %, rounding
    assert disagreements(ours, [[(1, 100.0)], [(3, 10.0)]], 500.0) == 0  # 2 at the edge: either way
    assert disagreements(ours, [[(1, 101.0), (2, 499.0)], [(3, 10.0)]], 500.0) == 1  # 1 % apart
    assert disagreements(ours, [[(2, 499.0)], [(3, 10.0), (4, 200.0)]], 500.0) == 2  # 1 missing, 4 extra


def test_json_only_prints_just_the_json_line(no_postgis):
    _, lines, _ = _run("--quick", "--json-only", "--max-n", "50")
    assert len(lines) == 1
    assert json.loads(lines[0])["results"][0]["n"] == 50


def test_help_describes_the_public_options_only(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--quick" in text
    assert "--json-only" in text
    assert "--max-n" not in text
