"""``roadbot``, driven as an operator drives it, through ``main`` in-process: setting up, closures from
registration to history, what a driver is told, export, import and the demo.

Distances and directions are checked against pyproj.Geod (``tests.geo.oracle``), never against the code
under test. Times run on the real clock, as the command line does; every time typed is computed from it.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from tests.bot.cli import support
from tests.bot.cli.support import (
    DATA,
    KING_FAHD,
    KING_FAHD_TITLE,
    KINGDOM_CENTRE,
    RIYADH,
    Cli,
    add_closure,
    assert_geodesic,
    geodesic_edge_m,
    instant,
    migrated,
    riyadh_local,
)
from tests.geo.oracle import offset

workdir = pytest.fixture(support.workdir)
fresh = pytest.fixture(support.fresh)
cli = pytest.fixture(support.cli)
three_closures = pytest.fixture(support.three_closures)


# --- setting up ------------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_running_it_again_changes_nothing(fresh: Cli) -> None:
    first = fresh("db", "upgrade").ok()
    assert first.startswith("database at revision ")
    assert fresh("db", "upgrade").ok() == first
    assert fresh("db", "current").ok().strip() == first.split()[-1]


def test_municipalities_load_from_geojson_and_list_as_one_json_object(fresh: Cli) -> None:
    fresh("db", "upgrade").ok()
    loaded = fresh("municipality", "load", str(DATA / "municipalities.geojson")).ok()
    assert loaded.splitlines() == ["added municipality riyadh", "added municipality jeddah"]
    again = fresh("municipality", "load", str(DATA / "municipalities.geojson")).ok()
    assert again.splitlines() == ["updated municipality riyadh", "updated municipality jeddah"]

    listed = fresh("municipality", "list", "--json").json()
    by_slug = {m["slug"]: m for m in listed["municipalities"]}
    assert sorted(by_slug) == ["jeddah", "riyadh"]
    assert by_slug["riyadh"]["name_ar"] == "أمانة منطقة الرياض"
    assert by_slug["riyadh"]["timezone"] == "Asia/Riyadh"


def test_staff_are_added_listed_and_removed(cli: Cli) -> None:
    cli("staff", "add", "123456789", "--municipality", "riyadh", "--name", "أحمد").ok()
    cli("staff", "add", "555", "--municipality", "jeddah", "--role", "admin").ok()
    staff = cli("staff", "list", "--json").json()["staff"]
    assert staff == [
        {"user_id": 555, "role": "admin", "municipality": "jeddah", "name": None},
        {"user_id": 123456789, "role": "staff", "municipality": "riyadh", "name": "أحمد"},
    ]
    cli("staff", "remove", "123456789", "--municipality", "riyadh").ok()
    assert [s["user_id"] for s in cli("staff", "list", "--json").json()["staff"]] == [555]


def test_removing_someone_who_is_not_staff_is_refused(cli: Cli) -> None:
    result = cli("staff", "remove", "42", "--municipality", "riyadh")
    assert result.code == 1
    assert result.err.startswith("roadbot: refused:")


# --- closures --------------------------------------------------------------------------------------------


def test_closure_start_is_read_in_riyadh_time_and_stored_three_hours_earlier_in_utc(cli: Cli) -> None:
    day = (datetime.now(RIYADH) + timedelta(days=2)).date()
    feature = add_closure(cli, "--start", f"{day:%Y-%m-%d} 22:00", "--end", "3h")
    starts_at = instant(feature["properties"]["starts_at"])
    assert starts_at == datetime(day.year, day.month, day.day, 19, 0, tzinfo=UTC)
    assert instant(feature["properties"]["ends_at"]) - starts_at == timedelta(hours=3)
    assert feature["properties"]["kind"] == "line"
    assert feature["geometry"] == KING_FAHD

    listed = cli("closure", "list", "--json").json()
    assert listed["count"] == 1
    [item] = listed["closures"]
    assert item["id"] == feature["id"]
    assert item["title"] == KING_FAHD_TITLE
    assert item["phase"] == "scheduled"
    assert instant(item["starts_at"]) == starts_at


def test_closure_end_may_be_an_arabic_duration(cli: Cli) -> None:
    props = add_closure(cli, "--end", "٣ ساعات")["properties"]
    assert instant(props["ends_at"]) - instant(props["starts_at"]) == timedelta(hours=3)


def test_closure_list_json_gives_each_closure_id_title_distance_and_compass(cli: Cli) -> None:
    add_closure(cli, "--end", "3h")
    add_closure(cli, "--end", "open", geometry="24.7114, 46.6744", title="نقطة")
    listed = cli("closure", "list", "--json").json()
    assert listed["count"] == len(listed["closures"]) == 2
    for item in listed["closures"]:
        assert {"id", "title", "distance_m", "compass"} <= item.keys()
        assert item["distance_m"] is None  # no --near: nothing to measure from
        assert item["compass"] is None


@pytest.mark.parametrize(
    ("azimuth", "metres"), [(0.0, 0.0), (45.0, 900.0), (200.0, 1500.0), (100.0, 2500.0), (300.0, 12_000.0)]
)
def test_closure_list_near_measures_every_closure_as_geod_does(
    cli: Cli, three_closures: dict[int, tuple[BaseGeometry, float | None]], azimuth: float, metres: float
) -> None:
    lon, lat = offset(*KINGDOM_CENTRE, azimuth, metres)
    listed = cli("closure", "list", "--near", f"{lat:.6f},{lon:.6f}", "--json").json()
    assert sorted(item["id"] for item in listed["closures"]) == sorted(three_closures)
    origin = Point(round(lon, 6), round(lat, 6))
    for item in listed["closures"]:
        assert item["distance_m"] is not None, "every listed closure is measured, however far ahead"
        assert_geodesic(item, origin, *three_closures[item["id"]])


def test_closure_list_near_reads_arabic_digits(
    cli: Cli, three_closures: dict[int, tuple[BaseGeometry, float | None]]
) -> None:
    ascii_digits = cli("closure", "list", "--near", "24.7114,46.6744", "--json").json()
    arabic = cli("closure", "list", "--near", "٢٤٫٧١١٤،٤٦٫٦٧٤٤", "--json").json()
    assert arabic == ascii_digits


def test_extend_moves_the_end_by_a_duration_from_the_current_end(cli: Cli) -> None:
    feature = add_closure(cli, "--end", "3h")
    old_end = instant(feature["properties"]["ends_at"])
    out = cli("closure", "extend", str(feature["id"]), "2h").ok()
    assert f"closure {feature['id']} now ends" in out
    [item] = cli("closure", "list", "--json").json()["closures"]
    assert instant(item["ends_at"]) == old_end + timedelta(hours=2)
    assert item["version"] == 2


def test_lift_reopens_the_road_and_the_history_tells_the_whole_story(cli: Cli) -> None:
    closure_id = str(add_closure(cli, "--end", "3h")["id"])
    cli("closure", "extend", closure_id, "ساعتين").ok()
    assert "lifted" in cli("closure", "lift", closure_id).ok()

    history = cli("closure", "history", closure_id, "--json").json()
    assert history["closure_id"] == int(closure_id)
    assert [e["action"] for e in history["events"]] == ["registered", "extended", "lifted"]
    assert [e["version"] for e in history["events"]] == [1, 2, 3]
    assert history["events"][1]["changed"] == ["ends_at"]
    assert all(e["actor"] == "cli" for e in history["events"])

    assert cli("closure", "list", "--json").json()["count"] == 0, "a lifted closure is no longer open"
    [item] = cli("closure", "list", "--all", "--json").json()["closures"]
    assert item["phase"] == "lifted"


def test_cancel_withdraws_a_closure_that_has_not_started(cli: Cli) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    closure_id = str(add_closure(cli, "--start", riyadh_local(later), "--end", "3h")["id"])
    lifted = cli("closure", "lift", closure_id)
    assert lifted.code == 1, "a closure that has not started is cancelled, not lifted"
    assert "cancelled" in cli("closure", "cancel", closure_id).ok()
    [item] = cli("closure", "list", "--all", "--json").json()["closures"]
    assert item["phase"] == "cancelled"
    assert cli("closure", "cancel", closure_id).code == 1, "cancelled once is enough"


# --- what a driver is told -------------------------------------------------------------------------------


@pytest.mark.parametrize(("azimuth", "metres"), [(0.0, 0.0), (120.0, 700.0), (250.0, 1800.0)])
def test_near_reports_every_closure_within_the_radius_nearest_first_as_geod_measures(
    cli: Cli, three_closures: dict[int, tuple[BaseGeometry, float | None]], azimuth: float, metres: float
) -> None:
    lon, lat = offset(*KINGDOM_CENTRE, azimuth, metres)
    lon, lat = round(lon, 6), round(lat, 6)
    origin = Point(lon, lat)
    radius = 2000.0
    result = cli("near", str(lat), str(lon), "--radius", str(radius), "--json").json()
    assert (result["lat"], result["lon"], result["radius_m"]) == (lat, lon, radius)

    expected = {
        cid: geodesic_edge_m(origin, geometry, r)
        for cid, (geometry, r) in three_closures.items()
        # the point closure starts in two days, beyond the 24 h horizon drivers are told about
        if r is None and geodesic_edge_m(origin, geometry, r) <= radius
    }
    assert all(abs(d - radius) > 0.01 * radius for d in expected.values()), "no case on the edge"
    assert result["count"] == len(result["closures"])
    assert sorted(item["id"] for item in result["closures"]) == sorted(expected)
    distances = [item["distance_m"] for item in result["closures"]]
    assert distances == sorted(distances)
    for item in result["closures"]:
        assert {"id", "title", "distance_m", "compass"} <= item.keys()
        assert item["title"]
        assert_geodesic(item, origin, *three_closures[item["id"]])


@pytest.mark.parametrize(
    "argv",
    [
        ("٢٤٫٧١١٤", "٤٦٫٦٧٤٤"),
        ("٢٤٫٧١١٤، ٤٦٫٦٧٤٤",),  # the whole pair in one argument, as the README shows
        ("۲۴٫۷۱۱۴", "۴۶٫۶۷۴۴"),  # Persian digits
        ("24.7114,46.6744",),
    ],
)
def test_near_reads_arabic_indic_digits_and_a_pair_in_one_argument(
    cli: Cli, three_closures: dict[int, tuple[BaseGeometry, float | None]], argv: tuple[str, ...]
) -> None:
    expected = cli("near", "24.7114", "46.6744", "--json").json()
    assert expected["count"] == 2
    assert cli("near", *argv, "--json").json() == expected


def test_near_in_plain_text_names_each_closure(
    cli: Cli, three_closures: dict[int, tuple[BaseGeometry, float | None]]
) -> None:
    out = cli("near", "24.7114", "46.6744", "--radius", "3000").ok()
    assert KING_FAHD_TITLE in out
    assert "منطقة" in out
    assert "no closures here" in cli("near", "21.5", "39.2", "--radius", "500").ok()


# --- in and out ------------------------------------------------------------------------------------------


def test_export_then_import_into_a_fresh_database_gives_the_same_closures_and_reimport_adds_none(
    cli: Cli,
    workdir: Path,
    sqlite_template: Path,
    capsys: pytest.CaptureFixture[str],
    three_closures: dict[int, tuple[BaseGeometry, float | None]],
) -> None:
    exported = workdir / "closures.geojson"
    assert cli("export", "-o", str(exported)).ok() == f"wrote 3 closures to {exported}\n"
    source = json.loads(exported.read_text(encoding="utf-8"))
    assert all(f["properties"]["ref"] for f in source["features"]), "every exported closure has a ref"

    other = migrated(workdir / "other.sqlite", sqlite_template, capsys)
    first = other("import", str(exported), "--json").json()
    nothing = {"lifted": 0, "cancelled": 0, "skipped": 0, "removed": 0, "rejected": []}
    assert first == {"added": 3, "updated": 0, "unchanged": 0, **nothing}
    second = other("import", str(exported))
    assert second.ok() == "imported 0 new, 0 updated, 3 unchanged\n"
    assert second.err == "", "no progress bar when stderr is not a terminal"

    def comparable(feature: dict) -> tuple:
        p = feature["properties"]
        keys = ("ref", "municipality", "kind", "radius_m", "reason", "title_ar", "starts_at", "ends_at")
        return (json.dumps(feature["geometry"], sort_keys=True), *(p[k] for k in keys))

    copy = json.loads(other("export").ok())
    assert sorted(map(comparable, copy["features"])) == sorted(map(comparable, source["features"]))
    assert other("closure", "list", "--json").json()["count"] == 3


def test_import_from_standard_input(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    sample = (DATA / "sample_closures.geojson").read_text(encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO(sample))
    assert cli("import", "-", "--json").json()["added"] == 29


def test_demo_loads_the_sample_closures_and_answers_each_spot_nearest_first(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = workdir / "demo.sqlite"
    result = Cli(f"sqlite:///{workdir / 'unused.sqlite'}", capsys)(
        "demo", "--database", str(database), "--json"
    )
    report = result.json()
    assert report["database"] == str(database)
    assert report["imported"] == {
        "added": 29, "updated": 0, "unchanged": 0, "lifted": 0, "cancelled": 0, "skipped": 0, "removed": 0,
        "rejected": [],
    }  # fmt: skip
    features = {
        f["properties"]["ref"]: f
        for f in json.loads((DATA / "sample_closures.geojson").read_text(encoding="utf-8"))["features"]
    }
    assert sum(len(spot["found"]) for spot in report["spots"]) > 0
    for spot in report["spots"]:
        distances = [f["distance_m"] for f in spot["found"]]
        assert distances == sorted(distances), spot["name_en"]
        origin = Point(spot["lon"], spot["lat"])
        for found in spot["found"]:
            feature = features[found["ref"]]
            expected = geodesic_edge_m(origin, shape(feature["geometry"]), feature["properties"]["radius_m"])
            assert found["distance_m"] == pytest.approx(expected, rel=0.005, abs=0.5), found["ref"]
            assert found["distance_m"] <= 3000.0
    for route in report["routes"]:
        positions = [f["position_m"] for f in route["found"]]
        assert positions == sorted(positions), route["name_en"]

    again = Cli(f"sqlite:///{database}", capsys)("closure", "list", "--json").json()
    assert again["count"] > 0, "the demo database stays for the operator to explore"


def test_demo_in_plain_text_tells_what_to_try_next(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = Cli("sqlite:///unused.sqlite", capsys)("demo", "--database", str(workdir / "d.sqlite")).ok()
    assert out.startswith("Loaded 29 sample closures")
    assert "Try: roadbot" in out
