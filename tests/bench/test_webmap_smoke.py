"""Smoke test of bench/webmap.py: a tiny run ends with one JSON line of every figure."""

from __future__ import annotations

import io
import json

import pytest

from bench.webmap import main


def test_tiny_run_ends_with_a_json_line_of_all_figures():
    out, err = io.StringIO(), io.StringIO()

    status = main(["--closures", "60", "--quick"], stdout=out, stderr=err)

    assert status == 0
    lines = out.getvalue().splitlines()
    report = json.loads(lines[-1])
    assert report["bench"] == "webmap"
    assert report["closures"] == report["shown"] == 60  # half active, half within the horizon
    assert report["statuses"] == [200, 304]
    assert report["cache_speedup"] == pytest.approx(report["build_ms"] * 1000 / report["cached_us"], rel=0.05)
    assert report["etag_speedup"] == pytest.approx(report["etag_hit_rps"] / report["full_rps"], rel=0.05)
    assert 0 < report["gzip_kb"] < report["body_kb"]
    assert report["loop_lag_during_rebuild_ms"] >= 0
    assert lines[0].startswith("map JSON of 60 closures")
