"""Smoke test of bench/feeds.py: a tiny run, uvicorn in a subprocess on 127.0.0.1, ends with one JSON line."""

from __future__ import annotations

import gc
import io
import json

from bench.feeds import main

FEEDS = {"closures.geojson", "wzdx.json", "waze.json", "waze.xml", "closures.atom"}


TINY = ["--quick", "--n", "60", "--seconds", "0.2", "--concurrency", "2"]
# Ratios any machine reaches with 60 closures: a tiny run says nothing about the real targets.
LENIENT = ["--target", "build_vs_json_max=1e6", "--target", "etag_vs_ping_min=0",
           "--target", "loop_lag_during_rebuild_ms_max=1e6"]  # fmt: skip


def test_tiny_run_serves_every_feed_and_ends_with_a_json_line_of_all_figures():
    out, err = io.StringIO(), io.StringIO()
    status = main([*TINY, *LENIENT], stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    report = json.loads(lines[-1])
    assert status == 0, report
    assert report["bench"] == "feeds"
    assert report["all_ok"] is True
    assert report["n"] == 60
    assert 0 < report["closures_in_feed"] <= 60
    assert report["ping_rps"] > 0
    assert {r["feed"] for r in report["results"]} == FEEDS
    for row in report["results"]:
        assert row["build_ms"] > 0
        assert row["bytes"] > 0
        assert row["build_vs_json"] > 0
        assert set(row["etag_statuses"]) == {"304"}, "every request with the ETag was answered 304"
        assert set(row["full_statuses"]) == {"200"}
        assert row["etag_rps"] > 0
        assert row["full_rps"] > 0
        assert row["etag_vs_ping"] > 0
    assert report["build_vs_json"] == max(row["build_vs_json"] for row in report["results"])
    assert report["etag_vs_ping"] == min(row["etag_vs_ping"] for row in report["results"])
    assert report["rebuild_rounds"] == 1
    for lag in (report["loop_lag"], report["unsettled_loop_lag"]):  # watched, settled and not
        assert lag["samples"] > 0
        assert 0 <= lag["p50_ms"] <= lag["max_ms"]
    assert report["loop_lag_during_rebuild_ms"] == report["loop_lag"]["max_ms"]
    assert report["stalls_over_100ms"] == report["loop_lag"]["stalls"]
    assert gc.get_freeze_count() == 0  # the bench put the test process's collector back
    assert report["passed"] == {
        "build_vs_json_max": True,
        "etag_vs_ping_min": True,
        "loop_lag_during_rebuild_ms_max": True,
        "all_ok": True,
        "all": True,
    }
    assert lines[0].startswith("60 closures")  # the table comes first
    assert "[bench]" in err.getvalue()


def test_json_only_prints_just_the_json_line_and_a_missed_target_exits_1():
    out = io.StringIO()
    status = main(["--quick", "--n", "20", "--seconds", "0.1", "--concurrency", "1", "--json-only",
                   "--target", "build_vs_json_max=0"], stdout=out, stderr=io.StringIO())  # fmt: skip
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["n"] == 20
    assert status == 1
    assert report["passed"]["build_vs_json_max"] is False
    assert report["passed"]["all_ok"] is True
