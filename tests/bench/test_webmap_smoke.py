"""Smoke test of bench/webmap.py: a tiny run ends with one JSON line of every figure."""

from __future__ import annotations

import io
import json

import pytest

from bench.webmap import TARGETS, main

# Figures any machine reaches with 60 closures: a tiny run says nothing about the real targets.
LENIENT = ["--target", "cache_speedup_min=1", "--target", "etag_speedup_min=0", "--target",
           "loop_lag_during_rebuild_ms_max=1e6"]  # fmt: skip


def _run(*argv: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--closures", "60", "--quick", *argv], stdout=out, stderr=err)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_tiny_run_ends_with_a_json_line_of_all_figures():
    status, lines, err = _run(*LENIENT)

    assert status == 0
    report = json.loads(lines[-1])
    assert report["bench"] == "webmap"
    assert report["closures"] == report["shown"] == 60  # half active, half within the horizon
    assert report["statuses"] == [200, 304]
    assert report["cache_speedup"] == pytest.approx(report["build_ms"] * 1000 / report["cached_us"], rel=0.05)
    assert report["etag_speedup"] == pytest.approx(report["etag_hit_rps"] / report["full_rps"], rel=0.05)
    assert 0 < report["gzip_kb"] < report["body_kb"]
    assert report["loop_lag_during_rebuild_ms"] >= 0
    assert lines[0].startswith("map JSON of 60 closures")
    assert set(report["passed"]) == {*TARGETS, "all"}
    assert all(report["passed"].values())
    assert "[bench] done in" in err


def test_a_missed_target_makes_the_exit_status_1():
    status, lines, _ = _run(*LENIENT, "--target", "cache_speedup_min=1e12")

    report = json.loads(lines[-1])
    assert status == 1
    assert report["targets"]["cache_speedup_min"] == 1e12
    assert report["passed"]["cache_speedup_min"] is False
    assert report["passed"]["all"] is False
