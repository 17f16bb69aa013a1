"""Shared fixtures: a migrated database on SQLite and, where a server is given, on PostgreSQL.

Every test that takes ``engine`` runs twice: on a fresh SQLite file and on a real PostgreSQL+PostGIS
database (``ROADBOT_TEST_POSTGRES_URL``, which ``.ci/run`` sets after starting a server). Off CI, without
that variable, the PostgreSQL half is skipped with a reason; on CI (``CI=true``) it fails instead, so the
PostgreSQL tests can never silently not run there.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from closures.formats.geojson import read_municipalities
from closures.models import Municipality
from closures.store import make_engine, session_scope, upgrade

pytest_plugins = ["tests.fakes.telegram", "tests.fakes.nominatim", "tests.routing_fixtures"]

ROOT = Path(__file__).resolve().parent.parent  # the repository
DATA = ROOT / "data"
PG_URL_VAR = "ROADBOT_TEST_POSTGRES_URL"


class FakeClock:
    """An injected clock: tests move it instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Ticks:
    """A monotonic clock in seconds that moves only when told (for intervals and TTLs)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test would be slower)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file, so a copy is complete
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the test server, migrated once; dropped at the end of the session."""
    url = os.environ.get(PG_URL_VAR)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_URL_VAR} is not set on CI: .ci/run must start PostgreSQL")
        pytest.skip(f"no PostgreSQL: set {PG_URL_VAR} (scripts/postgres-test-server prints one)")
    name = f"roadbot_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db_url = sa.make_url(url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    yield db_url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database (SQLite file or PostgreSQL), one per test."""
    if request.param == "sqlite":
        path = tmp_path / "roadbot.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
    else:
        engine = make_engine(request.getfixturevalue("postgres_database"))
        _empty_postgres(engine)
    yield engine
    engine.dispose()


def _empty_postgres(engine: Engine) -> None:
    tables = [t.name for t in SQLModel.metadata.sorted_tables if t.name != "storestate"]
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("UPDATE storestate SET change_counter = 0")


@pytest.fixture
def municipalities(engine: Engine) -> dict[str, Municipality]:
    """Riyadh and Jeddah from the sample data, stored."""
    out = {}
    with session_scope(engine) as session:
        for item in read_municipalities((DATA / "municipalities.geojson").read_text(encoding="utf-8")):
            muni = Municipality(
                slug=item.slug,
                name_ar=item.name_ar,
                name_en=item.name_en,
                boundary_geojson=item.boundary_geojson,
                timezone=item.timezone,
                default_radius_m=item.default_radius_m,
                epsg=item.epsg,
            )
            session.add(muni)
            session.flush()
            out[item.slug] = muni
    return out
