"""Smoke test of bench/routing.py: a quick run in-process ends with one JSON line holding every figure."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bench.routing import main

FIGURES = {
    "bench", "extract", "tiles", "build_s", "pairs", "median_route_m", "embedded_routes_per_s",
    "http_routes_per_s", "embedded_median_ms", "http_median_ms", "http_vs_embedded", "http_same_routes",
    "avoid_median_ms", "avoid_vs_plain", "detours_longer", "no_detour", "http_differing_routes", "targets",
    "passed",
}  # fmt: skip
# Ratios any machine reaches in a 10-pair run; the routes must still be the same over HTTP.
LENIENT = ["--target", "http_vs_embedded_max=1e6", "--target", "avoid_vs_plain_max=1e6"]


def test_quick_run_ends_with_a_json_line_of_all_figures(helsinki_extract: Path) -> None:
    out, err = io.StringIO(), io.StringIO()

    status = main(["--quick", "--pbf", str(helsinki_extract), *LENIENT], stdout=out, stderr=err)

    assert status == 0
    lines = out.getvalue().splitlines()
    report = json.loads(lines[-1])
    assert set(report) == FIGURES
    assert report["bench"] == "routing"
    assert report["pairs"] == 10
    assert report["embedded_routes_per_s"] > 0
    assert report["http_routes_per_s"] > 0
    # The same engine on the same tiles: the HTTP routes are the embedded ones.
    assert report["http_same_routes"] == 10
    assert report["http_differing_routes"] == 0
    assert report["targets"]["http_differing_routes_max"] == 0
    assert set(report["passed"]) == {*report["targets"], "all"}
    assert all(report["passed"].values())
    assert report["detours_longer"] + report["no_detour"] <= 10
    assert report["http_vs_embedded"] == round(report["http_vs_embedded"], 2) > 0
    assert lines[0].split() == ["what", "routes/s", "median", "ms", "ratio"]
    assert "[bench] built" in err.getvalue()


def test_json_only_prints_just_the_json_line(helsinki_extract: Path) -> None:
    out = io.StringIO()
    main(["--quick", "--json-only", "--pbf", str(helsinki_extract)], stdout=out, stderr=io.StringIO())
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["pairs"] == 10


def test_without_its_extract_it_measures_nothing_says_why_and_fails(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()

    status = main(["--quick", "--pbf", str(tmp_path / "missing.osm.pbf")], stdout=out, stderr=err)

    assert status == 1
    (line,) = out.getvalue().splitlines()
    report = json.loads(line)
    assert report["error"] == f"no extract at {tmp_path / 'missing.osm.pbf'}"
    assert report["passed"]["data"] is False
    assert report["passed"]["all"] is False
    assert "nothing measured" in err.getvalue()
