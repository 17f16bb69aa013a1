"""Shared pieces of the emergency tests: areas in Riyadh placed with pyproj.Geod, a playbook of the
Khurais Rd underpasses, declaration drafts, and the rows an emergency writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pyproj import Geod
from shapely.geometry import Point, Polygon
from sqlalchemy.engine import Engine

from closures.emergencies import EmergencyDraft, EmergencyService
from closures.emergency_models import (
    Emergency,
    EmergencyClosure,
    EmergencyEvent,
    EmergencyRecipient,
    Playbook,
    PlaybookClosure,
)
from closures.models import Closure, OutboxItem
from closures.playbooks import PlannedClosure, PlaybookDraft
from closures.service import Actor, ClosureService
from closures.store import change_counter, session_scope
from tests.conftest import FakeClock

GEOD = Geod(ellps="WGS84")
SYSTEM = Actor.system("cli")
DESTINATIONS = {"telegram": "@riyadh_roads", "x": "riyadh", "alerts": "subscribers"}
CENTRE = (46.7100, 24.6900)  # central Riyadh, south of Al Olaya
KHURAIS = (46.7900, 24.7300)  # Khurais Rd, east of the centre


def offset(origin: tuple[float, float], azimuth: float, metres: float) -> tuple[float, float]:
    """The (lon, lat) ``metres`` from ``origin`` along the geodesic leaving at ``azimuth``."""
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], azimuth, metres)
    return float(lon), float(lat)


def square(centre: tuple[float, float], half_side_m: float) -> Polygon:
    """A square of ``2 * half_side_m`` a side around ``centre`` (corners placed on the ellipsoid)."""
    corners = [offset(centre, azimuth, half_side_m * 2**0.5) for azimuth in (45, 135, 225, 315)]
    return Polygon(corners)


def underpasses() -> list[PlannedClosure]:
    """Three underpasses of Khurais Rd, 600 m apart; the last one closes for two hours only."""
    points = [offset(KHURAIS, 90, 600 * i) for i in range(3)]
    return [
        PlannedClosure(
            geometry=Point(p), reason="flood", title_ar=f"نفق خريص {i + 1}",
            title_en=f"Khurais underpass {i + 1}",
            detour_ar="استخدم الطريق الدائري الشرقي", detour_en="Use the Eastern Ring Rd",
            duration_min=120 if i == 2 else None,
        )
        for i, p in enumerate(points)
    ]  # fmt: skip


def khurais_playbook(**overrides: Any) -> PlaybookDraft:
    values: dict[str, Any] = {
        "slug": "khurais-underpasses",
        "name_ar": "أنفاق طريق خريص",
        "name_en": "Khurais Rd underpasses",
        "hazard": "flood",
        "area": square(offset(KHURAIS, 90, 600), 1500),
        "closures": underpasses(),
    }
    return PlaybookDraft(**(values | overrides))


def declaration(clock: FakeClock) -> Callable[..., EmergencyDraft]:
    """A red flood alarm over a 2 km square in central Riyadh for six hours; keywords override."""

    def make(**overrides: Any) -> EmergencyDraft:
        values: dict[str, Any] = {
            "hazard": "flood",
            "level": "alarm",
            "headline_ar": "سيول في وسط الرياض",
            "headline_en": "Flooding in central Riyadh",
            "instruction_ar": "تجنب الأنفاق والأودية",
            "instruction_en": "Avoid underpasses and wadis",
            "expires_at": clock.now + timedelta(hours=6),
            "area": square(CENTRE, 1000),
        }
        return EmergencyDraft(**(values | overrides))

    return make


@pytest.fixture
def declare(clock: FakeClock) -> Callable[..., EmergencyDraft]:
    return declaration(clock)


@pytest.fixture
def posting_closures(engine: Engine, clock: FakeClock, municipalities: dict) -> ClosureService:
    return ClosureService(engine, clock=clock, destinations=DESTINATIONS)


@pytest.fixture
def emergencies(engine: Engine, clock: FakeClock, posting_closures: ClosureService) -> EmergencyService:
    return EmergencyService(engine, clock=clock, closures=posting_closures)


def emergency_rows(engine: Engine, first_id: int | None = None) -> list[OutboxItem]:
    with session_scope(engine) as session:
        query = sa.select(OutboxItem).where(OutboxItem.emergency_id.is_not(None)).order_by(OutboxItem.id)
        if first_id is not None:
            query = query.where(OutboxItem.emergency_id == first_id)
        return list(session.scalars(query))


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows of every table an emergency writes, and the change counter."""
    with engine.connect() as conn:
        out = {
            model.__name__: int(conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())
            for model in (
                Emergency, EmergencyEvent, EmergencyClosure, EmergencyRecipient, Closure, OutboxItem,
                Playbook, PlaybookClosure,
            )
        }  # fmt: skip
    return out | {"counter": change_counter(engine)}
