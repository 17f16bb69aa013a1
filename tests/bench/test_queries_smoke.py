"""Smoke test of bench/queries.py: a tiny run in-process ends with one JSON line holding every figure."""

from __future__ import annotations

import io
import json

import pytest

from bench.queries import main

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


def _run(*argv: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_tiny_run_ends_with_a_json_line_of_all_figures():
    status, lines, progress = _run("--quick", "--max-n", "1000")

    assert status == 0
    report = json.loads(lines[-1])
    assert report["bench"] == "queries"
    assert {"results", "targets", "passed"} <= report.keys()
    measured = {(row["n"], row["spread"], row["query"]) for row in report["results"]}
    assert measured == {
        (1_000, spread, query) for spread in ("city", "country") for query in ("point", "route")
    }
    for row in report["results"]:
        assert row.keys() >= ROW_KEYS
    assert set(report["targets"]) == {
        "point_100k_country_median_us_max",
        "point_100k_country_speedup_min",
        "route_10k_city_median_us_max",
    }
    assert {"point_100k_country_median", "point_100k_country_speedup", "route_10k_city_median", "all"} <= set(
        report["passed"]
    )
    assert report["passed"]["all"] is None  # the target rows were not run at N = 1,000
    assert lines[0].split()[:3] == ["N", "spread", "query"]  # the table comes first
    assert "[bench]" in progress  # plain progress lines when stderr is not a terminal


def test_json_only_prints_just_the_json_line():
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
