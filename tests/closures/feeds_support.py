"""Shared pieces of the feed tests: the official validators and closures of every shape the model allows.

The WZDx 4.2 and GeoJSON schemas are copied under ``tests/schemas/`` (see its README). The Waze CIFS XSD
states no licence, so it is read from ``../shared/schemas/`` beside the repository; without it the CIFS
schema tests skip, saying so.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from jsonschema import Draft7Validator
from lxml import etree
from referencing import Registry, Resource
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon

from closures.feeds import FeedSnapshot, feed_snapshot
from closures.formats.geojson import read_closures
from closures.importing import apply_import
from closures.rules import ClosureDraft
from closures.service import Actor, ClosureService
from tests.closures.conftest import DRIVER, KING_FAHD, offset
from tests.conftest import DATA, ROOT, FakeClock

SCHEMAS = ROOT / "tests" / "schemas"
CIFS_XSD = ROOT.parent / "shared" / "schemas" / "waze-cifs" / "cifsv2.xsd"
SAMPLE = (DATA / "sample_closures.geojson").read_text(encoding="utf-8")
SYSTEM = Actor.system("test")


def wzdx_validator() -> Draft7Validator:
    """``Draft7Validator`` for WorkZoneFeed.json, resolving every ``$ref`` offline (no retrieval)."""
    schemas = [
        json.loads(p.read_text(encoding="utf-8"))
        for folder in ("wzdx-4.2", "geojson")
        for p in (SCHEMAS / folder).glob("*.json")
    ]
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    root = json.loads((SCHEMAS / "wzdx-4.2" / "WorkZoneFeed.json").read_text(encoding="utf-8"))
    return Draft7Validator(root, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def wzdx_errors(feed: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in wzdx_validator().iter_errors(feed)
    ]


def cifs_schema() -> etree.XMLSchema:
    if not CIFS_XSD.is_file():
        pytest.skip(
            f"the Waze CIFS XSD is not here ({CIFS_XSD}): it has no licence, so it is not copied into the "
            "project; put Google's cifsv2.xsd at ../shared/schemas/waze-cifs/ to run this test"
        )
    return etree.XMLSchema(etree.parse(str(CIFS_XSD)))


def variety(clock: FakeClock) -> list[ClosureDraft]:
    """One closure of each shape and kind: point, line, area, multi-line, multi-area; full and partial;
    one and both directions; an open end; one not started yet; English missing from one."""
    now = clock.now
    square = Polygon([offset(DRIVER, a, 250) for a in (10, 100, 190, 280)])
    far = offset(DRIVER, 90, 3000)
    return [
        ClosureDraft(
            geometry=Point(offset(DRIVER, 30, 400)), radius_m=150, reason="accident", severity="partial",
            lanes_ar="الحارة اليسرى مغلقة", lanes_en="Left lane closed", direction="one", heading="NNW",
            description_ar="تصادم بين مركبتين", description_en="Two-car crash", detour_ar="طريق العليا",
            detour_en="Olaya St", starts_at=now - timedelta(minutes=20), ends_at=now + timedelta(hours=2),
            title_ar="حادث على طريق الملك فهد", title_en="Crash on King Fahd Rd", ref="t-point",
        ),
        ClosureDraft(
            geometry=KING_FAHD, reason="roadworks", severity="full", direction="one", heading="NNW",
            starts_at=now + timedelta(hours=1), ends_at=None, title_ar="إغلاق طريق الملك فهد شمالًا",
            title_en="King Fahd Rd northbound closed", ref="t-line-open-end",
        ),
        ClosureDraft(
            geometry=square, reason="event", severity="full", starts_at=now + timedelta(hours=26),
            ends_at=now + timedelta(hours=30), title_ar="فعالية في حي العليا", ref="t-area",
            description_ar="إغلاق الشوارع حول الفعالية",
        ),
        ClosureDraft(
            geometry=MultiLineString([KING_FAHD.coords, [DRIVER, offset(DRIVER, 90, 800)]]), reason="flood",
            severity="partial", starts_at=now, ends_at=now + timedelta(hours=6),
            title_ar="تجمع مياه الأمطار", title_en="Standing water", ref="t-multiline",
        ),
        ClosureDraft(
            geometry=MultiPolygon([square, Polygon([offset(far, a, 200) for a in (0, 120, 240)])]),
            reason="security", severity="full", starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=3), title_ar="إغلاق أمني", title_en="Security closure",
            ref="t-multiarea",
        ),
        ClosureDraft(
            geometry=LineString([offset(DRIVER, 180, 300), offset(DRIVER, 0, 300)]), reason="maintenance",
            severity="partial", direction="one", heading="S", starts_at=now,
            ends_at=now + timedelta(days=3), title_ar="صيانة", title_en="Maintenance", ref="t-southbound",
            lanes_en="Right lane closed",
        ),
    ]  # fmt: skip


def load_sample(service: ClosureService, clock: FakeClock) -> None:
    """The sample closures, loaded as the demo loads them (times relative to now)."""
    report = apply_import(service, read_closures(SAMPLE, now=clock.now, source="import"), SYSTEM)
    assert report.rejected == []
    assert report.added == 29


def load_variety(service: ClosureService, clock: FakeClock) -> None:
    for draft in variety(clock):
        service.register("riyadh", draft, SYSTEM, allow_past_start=True)


def snapshot_of(service: ClosureService, clock: FakeClock) -> FeedSnapshot:
    return feed_snapshot(service.engine, clock.now)
