"""The store: migrations build exactly the schema the models describe, on SQLite and PostgreSQL; PostGIS
agrees with the in-memory index; times come back aware and in UTC; the change counter moves with commits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from closures.models import Municipality, Staff, StoreState
from closures.queries import ClosureQueries
from closures.service import Actor
from closures.store import (
    alembic_config,
    bump_change_counter,
    change_counter,
    current_revision,
    make_engine,
    session_scope,
    upgrade,
)
from tests.closures.conftest import DRIVER, offset

POSTGIS_OWN = {"spatial_ref_sys"}  # tables the extension brings with it
POSTGIS_OURS = {"geog", "ix_closure_geog"}  # the generated column and its index, added by the migration only
ONLY_POSTGRES = pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _head(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - POSTGIS_OWN


def _model_tables() -> set[str]:
    return set(SQLModel.metadata.tables)


# --- migrations -------------------------------------------------------------------------------------


def test_upgrade_on_an_empty_database_creates_every_table_at_head(blank):
    assert current_revision(blank) is None

    upgrade(blank)

    assert _tables(blank) == _model_tables() | {"alembic_version"}
    assert current_revision(blank) == _head(blank)
    assert change_counter(blank) == 0
    with session_scope(blank) as session:
        assert session.get(StoreState, 1) is not None  # the counter's row is there from the start


def test_downgrade_to_base_and_upgrade_again_restores_the_schema(blank):
    upgrade(blank)
    config = alembic_config(blank)

    with blank.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert _tables(blank) == {"alembic_version"}
    assert current_revision(blank) is None

    with blank.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert _tables(blank) == _model_tables() | {"alembic_version"}
    assert current_revision(blank) == _head(blank)
    assert change_counter(blank) == 0


def test_upgrade_at_head_is_a_no_op(engine):
    before = _tables(engine)
    upgrade(engine)
    assert _tables(engine) == before
    assert current_revision(engine) == _head(engine)


def _include(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table" and reflected and compare_to is None and name in POSTGIS_OWN:
        return False
    return name not in POSTGIS_OURS


@pytest.mark.filterwarnings("ignore:Did not recognize type 'geography'")
def test_models_match_the_migrated_schema(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": _include, "target_metadata": SQLModel.metadata},
        )
        diffs = compare_metadata(context, SQLModel.metadata)
    assert diffs == []


# --- PostGIS as an oracle for the index -------------------------------------------------------------


@ONLY_POSTGRES
def test_postgis_geography_column_is_generated_from_the_geojson(engine):
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT udt_name, is_generated FROM information_schema.columns "
                "WHERE table_name = 'closure' AND column_name = 'geog'"
            )
        ).one()
    assert tuple(row) == ("geography", "ALWAYS")


def _random_closures(rng: np.random.Generator, count: int) -> list[tuple[object, float | None]]:
    """Seeded points (with radii), lines and areas within 4 km of the driver."""
    out: list[tuple[object, float | None]] = []
    for _ in range(count):
        base = offset(DRIVER, rng.uniform(0, 360), 4000 * np.sqrt(rng.uniform()))
        kind = rng.uniform()
        if kind < 0.5:
            out.append((Point(base), float(rng.uniform(10, 500))))
        elif kind < 0.85:
            heading = rng.uniform(0, 360)
            coords = [base]
            for _ in range(int(rng.integers(1, 4))):
                coords.append(offset(coords[-1], heading, rng.uniform(100, 900)))
                heading += rng.uniform(-40, 40)
            out.append((LineString(coords), None))
        else:
            turn, size = rng.uniform(0, 90), rng.uniform(60, 400)
            out.append((Polygon([offset(base, turn + 90 * k, size) for k in range(4)]), None))
    return out


@ONLY_POSTGRES
def test_st_dwithin_over_geog_finds_the_same_closures_as_the_index(engine, clock, service, make_draft):
    rng = np.random.default_rng(20261127)
    for geometry, radius in _random_closures(rng, 30):
        draft = make_draft(geometry=geometry, radius_m=radius, starts_at=clock.now)
        service.register("riyadh", draft, Actor.system("test"))
    queries = ClosureQueries(engine, clock=clock)
    probes = [DRIVER] + [offset(DRIVER, rng.uniform(0, 360), rng.uniform(0, 4500)) for _ in range(7)]
    sql = sa.text(
        "SELECT id, ST_DWithin(geog, p.g, :r + COALESCE(radius_m, 0)) AS within,"
        " ST_Distance(geog, p.g) - COALESCE(radius_m, 0) AS d"
        " FROM closure, (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g) AS p"
    )
    compared = 0

    for lon, lat in probes:
        for radius in (300.0, 1000.0, 2500.0):
            found = {f.closure.id: f.distance_m for f in queries.near(Point(lon, lat), radius)}
            with engine.connect() as conn:
                rows = conn.execute(sql, {"lon": lon, "lat": lat, "r": radius}).all()
            postgis = {row.id for row in rows if row.within}
            boundary = {row.id for row in rows if abs(max(row.d, 0.0) - radius) <= 1.0}
            assert set(found) - boundary == postgis - boundary, (lon, lat, radius)
            distances = {row.id: max(row.d, 0.0) for row in rows}
            for closure_id, metres in found.items():
                assert metres == pytest.approx(distances[closure_id], rel=0.005, abs=1.0)
            compared += len(postgis)
    assert compared > 50  # the probes really do find closures


# --- types, counter, engine -------------------------------------------------------------------------


def _store_municipality(engine: Engine, created_at: datetime) -> int:
    with session_scope(engine) as session:
        muni = Municipality(slug="test", name_ar="اختبار", name_en="Test", boundary_geojson="{}")
        muni.created_at = created_at
        session.add(muni)
        session.flush()
        assert muni.id is not None
        return muni.id


def test_utc_datetime_round_trips_an_aware_time_as_utc(engine):
    riyadh = datetime(2026, 11, 27, 13, 5, 7, 123456, tzinfo=timezone(timedelta(hours=3)))

    muni_id = _store_municipality(engine, riyadh)

    with session_scope(engine) as session:
        stored = session.get(Municipality, muni_id).created_at
    assert stored == riyadh
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 11, 27, 10, 5, 7, 123456, tzinfo=UTC)


def test_utc_datetime_refuses_a_naive_time(engine):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        _store_municipality(engine, datetime(2026, 11, 27, 10, 0))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Municipality)).scalar_one() == 0


def test_change_counter_moves_only_when_the_transaction_commits(engine):
    assert change_counter(engine) == 0
    with session_scope(engine) as session:
        bump_change_counter(session)
    assert change_counter(engine) == 1
    with pytest.raises(RuntimeError):
        _bump_then_fail(engine)
    assert change_counter(engine) == 1


def _bump_then_fail(engine: Engine) -> None:
    with session_scope(engine) as session:
        bump_change_counter(session)
        raise RuntimeError("rolled back")


def test_foreign_keys_are_enforced(engine):
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(Staff(telegram_user_id=1, municipality_id=999))


def test_sqlite_files_use_wal_so_readers_and_a_writer_can_share_them(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'roadbot.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
