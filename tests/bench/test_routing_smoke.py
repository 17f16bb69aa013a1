"""Smoke test of bench/routing.py: a quick run in-process ends with one JSON line holding every figure."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bench.routing import main

FIGURES = {
    "bench", "extract", "tiles", "build_s", "pairs", "median_route_m", "embedded_routes_per_s",
    "http_routes_per_s", "embedded_median_ms", "http_median_ms", "http_vs_embedded", "http_same_routes",
    "avoid_median_ms", "avoid_vs_plain", "detours_longer", "no_detour",
}  # fmt: skip


def test_quick_run_ends_with_a_json_line_of_all_figures(helsinki_extract: Path) -> None:
    out, err = io.StringIO(), io.StringIO()

    status = main(["--quick", "--pbf", str(helsinki_extract)], stdout=out, stderr=err)

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
    assert report["detours_longer"] + report["no_detour"] <= 10
    assert report["http_vs_embedded"] == round(report["http_vs_embedded"], 2) > 0
    assert lines[0].split() == ["what", "routes/s", "median", "ms", "ratio"]
    assert "[bench] built" in err.getvalue()


def test_json_only_prints_just_the_json_line(helsinki_extract: Path) -> None:
    out = io.StringIO()
    main(["--quick", "--json-only", "--pbf", str(helsinki_extract)], stdout=out, stderr=io.StringIO())
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["pairs"] == 10
