"""Migration 0005 (emergencies): closure posts queued before it survive it, an outbox row is about exactly
one closure or one emergency, and going back to 0004 takes only the emergencies' rows away.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from closures.columns import UTCDateTime
from closures.store import alembic_config, current_revision, upgrade

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SQUARE = '{"type":"Polygon","coordinates":[[[46.6,24.6],[46.8,24.6],[46.8,24.8],[46.6,24.8],[46.6,24.6]]]}'


def _insert(conn: sa.Connection, table: str, **values: object) -> int:
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    statement = sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id").bindparams(
        *(sa.bindparam(k, type_=UTCDateTime) for k, v in values.items() if isinstance(v, datetime))
    )  # times bound as the models bind them (SQLite's default datetime adapter is deprecated)
    return int(conn.execute(statement, values).scalar_one())


def _closure_post(conn: sa.Connection, closure_id: int, key: str) -> int:
    return _insert(
        conn, "outboxitem", idempotency_key=key, closure_id=closure_id, closure_version=1, event="announced",
        destination="telegram:@roads", status="pending", due_at=T0, attempts=0, created_at=T0, updated_at=T0,
    )  # fmt: skip


def _seed_at_0004(engine: Engine) -> int:
    """A municipality, a closure and its queued channel post, written as the 0004 schema had them."""
    with engine.begin() as conn:
        muni = _insert(
            conn, "municipality", slug="riyadh", name_ar="الرياض", name_en="Riyadh", boundary_geojson=SQUARE,
            timezone="Asia/Riyadh", default_radius_m=5000, created_at=T0,
        )  # fmt: skip
        closure = _insert(
            conn, "closure", municipality_id=muni, source="staff", kind="point", radius_m=100.0,
            geometry_geojson='{"type":"Point","coordinates":[46.7,24.7]}', min_lon=46.7, min_lat=24.7,
            max_lon=46.7, max_lat=24.7, reason="flood", severity="full", direction="both", starts_at=T0,
            title_ar="مغلق", status="open", version=1, created_by="test", created_at=T0, updated_at=T0,
        )  # fmt: skip
        _closure_post(conn, closure, "1:1:announced:telegram:@roads")
    return muni


def _emergency(conn: sa.Connection, muni: int) -> int:
    return _insert(
        conn, "emergency", identifier="riyadh-test-1", municipality_id=muni, version=1, msg_type="alert",
        state="issued", exercise=False, hazard="flood", level="alarm", cap_category="Met",
        cap_severity="Extreme", cap_urgency="Immediate", cap_certainty="Likely", cap_response="Avoid",
        headline_ar="سيول", headline_en="Floods", instruction_ar="ابتعد", instruction_en="Keep away",
        area_desc_ar="الرياض", area_desc_en="Riyadh", area_geojson=SQUARE, area_source="drawn", area_m2=1.0,
        clipped_share=0.0, min_lon=46.6, min_lat=24.6, max_lon=46.8, max_lat=24.8, sent_at=T0, expires_at=T0,
        source="staff", created_by="test", created_at=T0, updated_at=T0,
    )  # fmt: skip


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_closure_posts_queued_before_0005_are_kept_and_still_name_their_closure(blank):
    upgrade(blank, "0004")
    _seed_at_0004(blank)

    upgrade(blank, "0005")

    with blank.connect() as conn:
        rows = conn.execute(sa.text("SELECT closure_id, closure_version, emergency_id FROM outboxitem")).all()
    assert [tuple(r) for r in rows] == [(1, 1, None)]


def test_an_outbox_row_is_about_exactly_one_closure_or_one_emergency(blank):
    upgrade(blank, "0004")
    muni = _seed_at_0004(blank)
    upgrade(blank, "0005")
    with blank.begin() as conn:
        emergency = _emergency(conn, muni)
        _insert(
            conn, "outboxitem", idempotency_key="em:1:1:emergency-telegram:@roads", emergency_id=emergency,
            emergency_version=1, event="declared", destination="emergency-telegram:@roads", status="pending",
            due_at=T0, attempts=0, created_at=T0, updated_at=T0,
        )  # fmt: skip

    for subject in ({}, {"closure_id": 1, "closure_version": 1, "emergency_id": emergency}):
        with pytest.raises(sa.exc.IntegrityError), blank.begin() as conn:
            _insert(
                conn, "outboxitem", idempotency_key=f"bad-{len(subject)}", event="declared",
                destination="x", status="pending", due_at=T0, attempts=0, created_at=T0, updated_at=T0,
                **subject,
            )  # fmt: skip


def test_downgrade_to_0004_drops_the_emergencies_posts_and_keeps_the_closures(blank):
    upgrade(blank, "0004")
    muni = _seed_at_0004(blank)
    upgrade(blank, "0005")
    with blank.begin() as conn:
        emergency = _emergency(conn, muni)
        _insert(
            conn, "outboxitem", idempotency_key="em:1:1:x:roads", emergency_id=emergency, emergency_version=1,
            event="declared", destination="emergency-x:roads", status="pending", due_at=T0, attempts=0,
            created_at=T0, updated_at=T0,
        )  # fmt: skip

    _downgrade(blank, "0004")

    assert current_revision(blank) == "0004"
    with blank.connect() as conn:
        keys = conn.execute(sa.text("SELECT idempotency_key FROM outboxitem")).scalars().all()
        tables = set(sa.inspect(conn).get_table_names())
    assert keys == ["1:1:announced:telegram:@roads"]
    assert not tables & {"emergency", "playbook", "driverlocation", "emergencyrecipient"}
    with pytest.raises(sa.exc.IntegrityError), blank.begin() as conn:  # closure_id is required again
        _insert(
            conn, "outboxitem", idempotency_key="no-closure", event="announced", destination="x",
            status="pending", due_at=T0, attempts=0, created_at=T0, updated_at=T0,
        )  # fmt: skip
