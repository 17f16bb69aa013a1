"""The flood day's data, seeded: who is where when the operator declares a flood over central Riyadh.

* the **area**: a square of 4 km a side over central Riyadh (Al Olaya), drawn by the operator, with a
  playbook of six underpasses inside it that the declaration activates;
* **subscribers**: every one has a saved place inside the area or a saved route starting inside it, so
  every one is reached (radius 300 m-2 km);
* **drivers** with a location shared within the last 100 minutes (some still sharing live): ``inside`` of
  them inside the area, the rest at least 1.5 km beyond it (500 m past ``EMERGENCY_MARGIN_M``), across
  the city and up to 35 km out; a quarter of the drivers inside are subscribers too (reached once). Also
  drivers inside whose last location is older than the window: they must not be reached;
* the **senders**: drivers outside the area who ask the bot about closures near them during the day
  (each from the spot where they are stuck, within a few metres, so every update is a location query);
* the **import**: closures across the city, at least 3.5 km from the area (beyond every subscriber's
  reach: they alert nobody, so the drain is the emergency's), as a GeoJSON file a partner would send.

Who must be reached is known by construction (:attr:`Scenario.expected`), not asked of the code under test.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine

from bench import feeds
from bench.databases import DATA, add_municipalities
from bot.localapi import FakeUser
from closures import municipalities
from closures.emergency_models import DriverLocation
from closures.emergency_versions import EmergencyDraft
from closures.formats.geojson import exported_feature, feature_collection, read_closures
from closures.importing import apply_import
from closures.models import Closure, Staff, Subscription
from closures.playbooks import PlannedClosure, PlaybookDraft, PlaybookService
from closures.service import Actor, ClosureService
from closures.store import session_scope, upgrade
from geo.projection import Projection

CENTRE = (46.6850, 24.7050)  # lon, lat: Al Olaya, central Riyadh
HALF_SIDE_M = 2_000.0
DRIVERS_BEYOND_M = 3_500.0  # from the centre, at least: the area's edge + the 1 km margin + 500 m
IMPORT_CLEAR_M = 3_500.0  # from the area: beyond every subscriber's place or route and its radius
CITY_HALF_SIDE_M = 35_000.0
OPERATOR_ID = 900_001
SUBSCRIBER_IDS = 10_000_000
DRIVER_IDS = 20_000_000
STALE_IDS = 30_000_000
PLAYBOOK = "olaya-underpasses"
type Sender = tuple[FakeUser, float, float]  # a driver, and the latitude and longitude where they are
_PROJECTION = Projection.for_geometry(Point(CENTRE))


@dataclass(frozen=True, slots=True)
class Size:
    subscribers: int
    drivers: int
    inside: int
    senders: int
    imported: int

    @property
    def stale(self) -> int:
        return max(1, self.inside // 5)


FULL = Size(subscribers=10_000, drivers=20_000, inside=1_000, senders=1_000, imported=1_000)
QUICK = Size(subscribers=300, drivers=600, inside=60, senders=40, imported=40)


@dataclass(frozen=True)
class Scenario:
    area: Polygon
    expected: frozenset[int]  # everyone the emergency must reach, once
    senders: tuple[Sender, ...]  # drivers asking about closures near them, where they are
    import_text: str  # the partner's GeoJSON file
    imported: int

    def declaration(self, now: datetime) -> EmergencyDraft:
        return declaration(self.area, now)


def declaration(area: Polygon, now: datetime) -> EmergencyDraft:
    """The operator's flood over ``area``: an alarm for six hours, bringing the playbook's closures."""
    return EmergencyDraft(
        hazard="flood", level="alarm",
        headline_ar="سيول في وسط الرياض", headline_en="Flooding in central Riyadh",
        instruction_ar="تجنب الأنفاق والأودية والزم مكانك إن أمكن",
        instruction_en="Avoid underpasses and wadis; stay where you are if you can",
        expires_at=now + timedelta(hours=6), area=area, playbooks=(PLAYBOOK,),
    )  # fmt: skip


def metric_square(half_side_m: float) -> Polygon:
    x, y = _PROJECTION.point_to_metric(*CENTRE)
    return shapely.box(x - half_side_m, y - half_side_m, x + half_side_m, y + half_side_m)


def _to_lonlat(xy: np.ndarray) -> np.ndarray:
    return _PROJECTION.to_wgs84_xy(xy)


def _inside(rng: np.random.Generator, n: int, half_side_m: float) -> np.ndarray:
    """``n`` points (metric) uniformly in the square of ``half_side_m`` around the centre."""
    x, y = _PROJECTION.point_to_metric(*CENTRE)
    return np.column_stack([rng.uniform(-1, 1, n) * half_side_m + x, rng.uniform(-1, 1, n) * half_side_m + y])


def _beyond(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` points (metric) in the city's square but farther than DRIVERS_BEYOND_M from the centre on
    either axis (rejection sampling)."""
    x, y = _PROJECTION.point_to_metric(*CENTRE)
    out: list[np.ndarray] = []
    while sum(len(part) for part in out) < n:
        xy = rng.uniform(-CITY_HALF_SIDE_M, CITY_HALF_SIDE_M, (2 * n, 2))
        out.append(xy[np.abs(xy).max(axis=1) > DRIVERS_BEYOND_M])
    return np.concatenate(out)[:n] + np.array([x, y])


def build(engine: Engine, size: Size, *, now: datetime, seed: int) -> Scenario:
    """Write the day's data into the (empty) database of ``engine``; what the bench needs to know of it."""
    upgrade(engine)
    rng = np.random.default_rng(seed)
    area = _PROJECTION.to_wgs84(metric_square(HALF_SIDE_M))
    with session_scope(engine, write=True) as session:
        add_municipalities(session)
    service = ClosureService(engine, clock=lambda: now)  # no destinations: the calm days posted already
    with session_scope(engine, write=True) as session:
        riyadh = municipalities.by_key(session, "riyadh").id
        assert riyadh is not None
        session.add(Staff(telegram_user_id=OPERATOR_ID, municipality_id=riyadh, added_by="bench"))
    sample = (DATA / "sample_closures.geojson").read_text(encoding="utf-8")
    apply_import(service, read_closures(sample, now=now), Actor.system("setup"))
    PlaybookService(engine, clock=lambda: now).save("riyadh", _playbook(), Actor.system("setup"))
    subscribers = _subscribers(rng, size, now)
    drivers, inside, senders = _drivers(rng, size, now)
    with session_scope(engine, write=True) as session:
        session.execute(sa.insert(Subscription), subscribers)
        session.execute(sa.insert(DriverLocation), drivers)
    expected = frozenset(int(row["telegram_user_id"]) for row in subscribers) | inside
    text, imported = _import_file(area, size.imported, now, seed)
    return Scenario(area, expected, senders, text, imported)


def _playbook() -> PlaybookDraft:
    """Six underpasses on King Fahd Rd and Olaya St inside the area, each with its detour."""
    x, y = _PROJECTION.point_to_metric(*CENTRE)
    spots = [
        (x + dx, y + dy)
        for dx, dy in ((-900, -1200), (-900, 0), (-900, 1200), (600, -800), (600, 400), (600, 1500))
    ]
    return PlaybookDraft(
        slug=PLAYBOOK, name_ar="أنفاق العليا", name_en="Olaya underpasses", hazard="flood",
        closures=[
            PlannedClosure(
                geometry=Point(_PROJECTION.point_to_wgs84(*spot)), radius_m=150.0, reason="flood",
                title_ar=f"نفق العليا {i + 1}", title_en=f"Olaya underpass {i + 1}",
                detour_ar="استخدم طريق الملك عبدالعزيز", detour_en="Use King Abdulaziz Rd",
            )
            for i, spot in enumerate(spots)
        ],
    )  # fmt: skip


def _subscribers(rng: np.random.Generator, size: Size, now: datetime) -> list[dict[str, Any]]:
    """Saved places inside the area (80 %) and routes starting inside it (20 %)."""
    n = size.subscribers
    starts = _to_lonlat(_inside(rng, n, HALF_SIDE_M * 0.95))
    ends = _to_lonlat(_inside(rng, n, HALF_SIDE_M * 1.4))
    radii = rng.choice([300, 500, 1000, 2000], n)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        route = i % 5 == 0
        shape: BaseGeometry = LineString([starts[i], ends[i]]) if route else Point(starts[i])
        rows.append(
            {
                "telegram_user_id": SUBSCRIBER_IDS + i, "name": "work" if route else "home",
                "kind": "route" if route else "place", "geometry_geojson": shapely.to_geojson(shape),
                "radius_m": int(radii[i]), "language": "ar" if i % 3 else "en", "active": True,
                "created_at": now,
            }
        )  # fmt: skip
    return rows


def _drivers(
    rng: np.random.Generator, size: Size, now: datetime
) -> tuple[list[dict[str, object]], frozenset[int], tuple[Sender, ...]]:
    """Drivers' last locations: ``inside`` in the area (a quarter of them subscribers too), the others
    beyond the margin, all recent; and ``stale`` inside whose location is too old to count. Also who is
    inside, and the senders: drivers beyond the margin not sharing a live location."""
    inside_xy = _to_lonlat(_inside(rng, size.inside, HALF_SIDE_M * 0.95))
    beyond_xy = _to_lonlat(_beyond(rng, size.drivers - size.inside))
    stale_xy = _to_lonlat(_inside(rng, size.stale, HALF_SIDE_M * 0.95))
    rows: list[dict[str, object]] = []
    inside: set[int] = set()
    senders: list[Sender] = []

    def add(user_id: int, lonlat: np.ndarray, minutes_ago: float, live: bool) -> str:
        language = "en" if user_id % 4 == 0 else "ar"
        rows.append(
            {
                "telegram_user_id": user_id, "lon": float(lonlat[0]), "lat": float(lonlat[1]),
                "at": now - timedelta(minutes=minutes_ago),
                "live_until": now + timedelta(minutes=30) if live else None, "language": language,
            }
        )  # fmt: skip
        return language

    ages = rng.uniform(0, 100, size.drivers)
    for i, lonlat in enumerate(inside_xy):
        user_id = SUBSCRIBER_IDS + i if i % 4 == 0 and i < size.subscribers else DRIVER_IDS + i
        inside.add(user_id)
        add(user_id, lonlat, float(ages[i]), live=i % 10 == 1)
    for j, lonlat in enumerate(beyond_xy, start=size.inside):
        language = add(DRIVER_IDS + j, lonlat, float(ages[j]), live=j % 10 == 1)
        if j % 10 != 1 and len(senders) < size.senders:
            user = FakeUser(DRIVER_IDS + j, language_code=language)
            senders.append((user, float(lonlat[1]), float(lonlat[0])))
    for k, lonlat in enumerate(stale_xy):
        add(STALE_IDS + k, lonlat, 180 + 60 * float(rng.random()), live=False)
    return rows, frozenset(inside), tuple(senders)


def _import_file(area: Polygon, n: int, now: datetime, seed: int) -> tuple[str, int]:
    """A partner's GeoJSON file of ``n`` active closures (``bench.feeds``' mix of lines, points and areas)
    lying at least IMPORT_CLEAR_M from the area."""
    clear = _PROJECTION.to_metric(area).buffer(IMPORT_CLEAR_M)
    rng = random.Random(seed)
    features: list[dict[str, object]] = []
    batch = 0
    while len(features) < n:
        for row in feeds.make_closures(2 * n, seed + batch, now):
            closure = Closure(**row)
            shape = shapely.from_geojson(closure.geometry_geojson)
            if _PROJECTION.to_metric(shape).intersects(clear):
                continue
            closure.ref, closure.source = f"partner-{len(features)}", "partner"
            closure.starts_at = now - timedelta(minutes=rng.uniform(1, 50))
            closure.ends_at = None if rng.random() < 0.2 else now + timedelta(hours=rng.uniform(2, 72))
            features.append(exported_feature(closure, "riyadh"))
            if len(features) == n:
                break
        batch += 1
    return json.dumps(feature_collection(features), ensure_ascii=False), len(features)
