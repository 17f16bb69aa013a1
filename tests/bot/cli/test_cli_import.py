"""``roadbot import --format …`` from files and URLs (a partner server on 127.0.0.1), ``--prune``, lifted
closures carried through export → import, and ``roadbot poll``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.bot.cli import support
from tests.bot.cli.support import Cli, migrated
from tests.bot.web.test_partners import event, wzdx
from tests.fakes.partner_feed import PartnerFeedServer

workdir = pytest.fixture(support.workdir)
cli = pytest.fixture(support.cli)
three_closures = pytest.fixture(support.three_closures)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


NOW = datetime.now(UTC).replace(microsecond=0)
RUNNING = event("pa-1", start=_z(NOW - timedelta(hours=1)), end=_z(NOW + timedelta(hours=5)))
LATER = event("pa-2", start=_z(NOW + timedelta(days=1)), end=_z(NOW + timedelta(days=1, hours=4)))


@pytest.fixture
def server() -> Iterator[PartnerFeedServer]:
    with PartnerFeedServer().running() as running:
        running.body = wzdx(RUNNING, LATER)
        yield running


def test_a_wzdx_url_is_imported_with_its_source_and_again_changes_nothing(cli: Cli, server) -> None:
    first = cli("import", "--format", "wzdx", server.url(), "--municipality", "riyadh", "--json").json()
    assert (first["added"], first["rejected"]) == (2, [])
    again = cli("import", "--format", "wzdx", server.url(), "--municipality", "riyadh")
    assert again.ok().startswith("imported 0 new, 0 updated, 2 unchanged")
    exported = json.loads(cli("export").ok())
    assert {f["properties"]["ref"]: f["properties"]["source"] for f in exported["features"]} == {
        "pa-1": "wzdx:127.0.0.1",
        "pa-2": "wzdx:127.0.0.1",
    }
    history = cli("closure", "history", str(exported["features"][0]["id"]), "--json").json()
    assert [(e["action"], e["actor"]) for e in history["events"]] == [("registered", "import")]


def test_prune_lifts_what_the_feed_no_longer_lists(cli: Cli, server) -> None:
    args = ("import", "--format", "wzdx", server.url(), "--municipality", "riyadh", "--prune")
    cli(*args).ok()
    server.body = wzdx(LATER)
    out = cli(*args).ok()
    assert out.strip() == "imported 0 new, 0 updated, 1 unchanged, 1 no longer listed (lifted)"
    listed = cli("closure", "list", "--all", "--json").json()["closures"]
    assert {c["ref"]: c["phase"] for c in listed} == {"pa-1": "lifted", "pa-2": "scheduled"}


@pytest.mark.parametrize(
    ("mode", "said"), [("error", "HTTP 500 Internal Server Error"), ("slow", "no answer within 1 s")]
)
def test_an_unreachable_url_exits_4_in_one_line_and_imports_nothing(
    cli: Cli, server, monkeypatch, mode, said
) -> None:
    monkeypatch.setenv("PARTNER_TIMEOUT_S", "1")
    server.mode = mode
    result = cli("import", "--format", "wzdx", server.url(), "--municipality", "riyadh")
    assert result.code == 4
    assert result.err == f"roadbot: remote feed: {server.url()}: {said}\n"
    assert cli("closure", "list", "--json").json()["count"] == 0


def test_a_cifs_xml_file_is_imported(cli: Cli, workdir: Path) -> None:
    start = (NOW + timedelta(hours=2)).astimezone().isoformat()
    feed = workdir / "waze.xml"
    feed.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<incidents><incident id="olaya-77"><type>ROAD_CLOSED</type><subtype>ROAD_CLOSED_EVENT</subtype>
<street>شارع العليا</street><polyline>24.6990 46.6723 24.7065 46.6741</polyline>
<direction>BOTH_DIRECTIONS</direction><description>إغلاق لفعالية
Closed for an event</description><starttime>{start}</starttime></incident></incidents>""",
        encoding="utf-8",
    )
    report = cli("import", "--format", "cifs", str(feed), "--municipality", "riyadh", "--json").json()
    assert report["added"] == 1
    [closure] = json.loads(cli("export").ok())["features"]
    props = closure["properties"]
    assert (props["ref"], props["source"], props["reason"], props["severity"]) == (
        "olaya-77", "cifs:file", "event", "full",
    )  # fmt: skip
    assert (props["description_ar"], props["description_en"]) == ("إغلاق لفعالية", "Closed for an event")
    assert props["ends_at"] is None


def test_lifted_and_cancelled_closures_stay_so_through_export_and_import(
    cli: Cli, workdir: Path, sqlite_template: Path, capsys, three_closures
) -> None:
    exported = workdir / "open.geojson"
    cli("export", "-o", str(exported)).ok()
    other = migrated(workdir / "other.sqlite", sqlite_template, capsys)
    assert other("import", str(exported), "--json").json()["added"] == 3

    running, planned, _area = sorted(three_closures)
    cli("closure", "lift", str(running)).ok()
    cli("closure", "cancel", str(planned)).ok()
    everything = workdir / "all.geojson"
    cli("export", "--all", "-o", str(everything)).ok()

    report = other("import", str(everything), "--json").json()
    assert (report["lifted"], report["cancelled"], report["unchanged"]) == (1, 1, 1)
    phases = sorted(c["phase"] for c in other("closure", "list", "--all", "--json").json()["closures"])
    assert phases == ["active", "cancelled", "lifted"]
    third = migrated(workdir / "third.sqlite", sqlite_template, capsys)
    fresh = third("import", str(everything), "--json").json()
    assert (fresh["added"], fresh["skipped"]) == (1, 2), "what is over is not registered anew"


def test_a_refused_feature_is_named_and_the_exit_code_is_1(cli: Cli, workdir: Path) -> None:
    feed = workdir / "f.geojson"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [39.17, 21.54]},
               "properties": {"ref": "in-jeddah", "municipality": "riyadh", "title_ar": "نقطة",
                              "reason": "other", "starts_at": _z(NOW + timedelta(hours=1))}}  # fmt: skip
    feed.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    result = cli("import", str(feed))
    assert result.code == 1
    assert result.out.startswith("imported 0 new")
    assert result.err.startswith("roadbot: refused in-jeddah: outside_municipality")


def test_poll_once_reports_each_feed_as_json(cli: Cli, server, monkeypatch) -> None:
    monkeypatch.setenv(
        "PARTNER_FEEDS", json.dumps([{"url": server.url(), "format": "wzdx", "municipality": "riyadh"}])
    )
    first = cli("poll", "--once", "--json").json()
    [feed] = first["feeds"]
    assert (feed["ok"], feed["source"], feed["report"]["added"]) == (True, "wzdx:127.0.0.1", 2)
    server.mode = "error"
    failed = cli("poll", "--once", "--json")
    assert failed.code == 1
    assert json.loads(failed.out)["feeds"][0]["error"].endswith("HTTP 500 Internal Server Error")


def test_poll_without_feeds_says_how_to_set_them(cli: Cli, monkeypatch) -> None:
    monkeypatch.delenv("PARTNER_FEEDS", raising=False)
    result = cli("poll", "--once")
    assert result.code == 2
    assert "PARTNER_FEEDS" in result.err
