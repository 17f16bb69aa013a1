"""Shared pieces of the closures tests: places in Riyadh, a draft factory, staff rows and row counts.

Every distance here is placed with pyproj.Geod, so the tests know where things are without asking the
code under test; ``geodesic_distance`` is the independent oracle the query tests measure against.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine

from closures.models import Closure, ClosureEvent, Municipality, OutboxItem, Staff
from closures.rules import ClosureDraft
from closures.service import ClosureService
from closures.store import change_counter, make_engine, session_scope
from tests.conftest import PG_URL_VAR, FakeClock

GEOD = Geod(ellps="WGS84")

# King Fahd Road near Al Olaya, running north-north-west (traced from the sample data's riyadh-001).
DRIVER = (46.6753, 24.7136)
KING_FAHD = LineString([(46.683856, 24.688), (46.67522, 24.705), (46.67146, 24.7124)])
TITLE_AR = "إغلاق طريق الملك فهد"
RIYADH_STAFF = 1001
JEDDAH_STAFF = 2002
JEDDAH_POINT = Point(39.1728, 21.5433)  # Al Balad, Jeddah


def offset(origin: tuple[float, float], azimuth: float, metres: float) -> tuple[float, float]:
    """The (lon, lat) ``metres`` from ``origin`` along the geodesic leaving at ``azimuth``."""
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], azimuth, metres)
    return float(lon), float(lat)


def geodesic(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def _densified(geom: BaseGeometry, step_m: float = 2.0) -> list[tuple[float, float]]:
    """Every vertex and a point every ``step_m`` along each geodesic edge of a line or polygon ring."""
    ring = geom.exterior.coords if isinstance(geom, Polygon) else geom.coords
    coords = [tuple(c[:2]) for c in ring]
    out = [coords[0]]
    for a, b in itertools.pairwise(coords):
        n = int(geodesic(a, b) // step_m)
        out.extend((float(lon), float(lat)) for lon, lat in GEOD.npts(a[0], a[1], b[0], b[1], n))
        out.append(b)
    return out


def geodesic_distance(point: tuple[float, float], geom: BaseGeometry) -> float:
    """Metres on the ellipsoid from ``point`` to the nearest part of ``geom`` (0 inside a polygon)."""
    if isinstance(geom, Point):
        return geodesic(point, (geom.x, geom.y))
    if isinstance(geom, Polygon) and geom.covers(Point(point)):
        return 0.0
    return min(geodesic(point, c) for c in _densified(geom))


def nearest_on(point: tuple[float, float], geom: BaseGeometry) -> tuple[float, float]:
    """The densified vertex of ``geom`` nearest ``point`` (a point closure: its centre)."""
    if isinstance(geom, Point):
        return geom.x, geom.y
    return min(_densified(geom), key=lambda c: geodesic(point, c))


def position_on(route: LineString, target: tuple[float, float]) -> float:
    """Geodesic metres along ``route`` to the densified route point nearest ``target``."""
    best, best_d, walked = 0.0, float("inf"), 0.0
    for a, b in itertools.pairwise(route.coords):
        previous = a
        for c in _densified(LineString([a, b]), 1.0)[1:]:
            walked += geodesic(previous, c)
            d = geodesic(target, c)
            if d < best_d:
                best, best_d = walked, d
            previous = c
    return best


@dataclass(frozen=True)
class Counts:
    closures: int
    events: int
    outbox: int
    counter: int


def counts(engine: Engine) -> Counts:
    """How many rows the service has written, and where the change counter stands."""
    with engine.connect() as conn:

        def n(model: type) -> int:
            return int(conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())

        closures, events, outbox = n(Closure), n(ClosureEvent), n(OutboxItem)
    return Counts(closures, events, outbox, change_counter(engine))


def outbox_rows(engine: Engine, closure_id: int) -> list[OutboxItem]:
    with session_scope(engine) as session:
        query = sa.select(OutboxItem).where(OutboxItem.closure_id == closure_id).order_by(OutboxItem.id)
        return list(session.scalars(query))


def add_staff(engine: Engine, user_id: int, muni: Municipality, *, active: bool = True) -> None:
    with session_scope(engine) as session:
        session.add(Staff(telegram_user_id=user_id, municipality_id=muni.id, active=active, added_by="test"))


@pytest.fixture
def service(engine: Engine, clock: FakeClock, municipalities: dict[str, Municipality]) -> ClosureService:
    """A service on the test database with Riyadh and Jeddah stored; no destinations configured."""
    return ClosureService(engine, clock=clock)


@pytest.fixture
def staff(engine: Engine, municipalities: dict[str, Municipality]) -> None:
    """One active staff member in Riyadh (RIYADH_STAFF) and one in Jeddah (JEDDAH_STAFF)."""
    add_staff(engine, RIYADH_STAFF, municipalities["riyadh"])
    add_staff(engine, JEDDAH_STAFF, municipalities["jeddah"])


def draft_factory(clock: FakeClock) -> Callable[..., ClosureDraft]:
    """A valid Riyadh draft on King Fahd Road, starting in an hour for four hours; keywords override."""

    def make(**overrides: object) -> ClosureDraft:
        values: dict[str, object] = {
            "geometry": KING_FAHD,
            "reason": "roadworks",
            "starts_at": clock.now + timedelta(hours=1),
            "ends_at": clock.now + timedelta(hours=5),
            "title_ar": TITLE_AR,
            "title_en": "King Fahd Rd closed",
        }
        return ClosureDraft(**(values | overrides))  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_draft(clock: FakeClock) -> Callable[..., ClosureDraft]:
    return draft_factory(clock)


@pytest.fixture
def other_engine(engine: Engine) -> Iterator[Engine]:
    """A second engine on the same database, as another bot process would have."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new database that no migration has touched."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'new.sqlite'}")
        yield engine
        engine.dispose()
        return
    request.getfixturevalue("postgres_database")  # without a server: skips, or fails on CI, like `engine`
    server = os.environ[PG_URL_VAR]
    name = f"roadbot_blank_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(sa.make_url(server).set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# the emergency tests' fixtures, defined beside their helpers
from tests.closures.emergency_support import declare, emergencies, posting_closures  # noqa: E402, F401
