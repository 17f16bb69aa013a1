"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "municipality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name_ar", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("boundary_geojson", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("default_radius_m", sa.Integer(), nullable=False),
        sa.Column("epsg", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_municipality_slug"), ["slug"], unique=True)

    op.create_table(
        "storestate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("geometry_geojson", sa.Text(), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_telegram_user_id"), ["telegram_user_id"], unique=False
        )

    op.create_table(
        "closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("geometry_geojson", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("lanes_ar", sa.String(length=200), nullable=True),
        sa.Column("lanes_en", sa.String(length=200), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("heading", sa.String(length=3), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("title_ar", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=True),
        sa.Column("description_ar", sa.Text(), nullable=True),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("detour_ar", sa.Text(), nullable=True),
        sa.Column("detour_en", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("municipality_id", "ref"),
    )
    with op.batch_alter_table("closure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closure_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_closure_municipality_id"), ["municipality_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_closure_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_closure_status"), ["status"], unique=False)

    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_user_id", "municipality_id"),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_municipality_id"), ["municipality_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_telegram_user_id"), ["telegram_user_id"], unique=False)

    op.create_table(
        "closureevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("closure_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before_json", sa.Text(), nullable=True),
        sa.Column("after_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["closure_id"],
            ["closure.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("closureevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closureevent_closure_id"), ["closure_id"], unique=False)

    op.create_table(
        "outboxitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("closure_id", sa.Integer(), nullable=False),
        sa.Column("closure_version", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("destination", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["closure_id"],
            ["closure.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("outboxitem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outboxitem_closure_id"), ["closure_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outboxitem_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outboxitem_status"), ["status"], unique=False)

    op.bulk_insert(
        sa.table("storestate", sa.column("id"), sa.column("change_counter")), [{"id": 1, "change_counter": 0}]
    )
    _postgis_extras()


def _postgis_extras() -> None:
    """On PostgreSQL with PostGIS available, keep a geography column and GiST index in step with the GeoJSON.

    The application queries through its own in-memory index; this column serves SQL users, partner
    tooling and the tests, which check the index against PostGIS's own ST_DWithin.
    """
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).first()
    if available is None:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(
        "ALTER TABLE closure ADD COLUMN geog geography GENERATED ALWAYS AS "
        "(ST_GeomFromGeoJSON(geometry_geojson)::geography) STORED"
    )
    op.execute("CREATE INDEX ix_closure_geog ON closure USING gist (geog)")


def downgrade() -> None:
    with op.batch_alter_table("outboxitem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outboxitem_status"))
        batch_op.drop_index(batch_op.f("ix_outboxitem_due_at"))
        batch_op.drop_index(batch_op.f("ix_outboxitem_closure_id"))

    op.drop_table("outboxitem")
    with op.batch_alter_table("closureevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closureevent_closure_id"))

    op.drop_table("closureevent")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_telegram_user_id"))
        batch_op.drop_index(batch_op.f("ix_staff_municipality_id"))

    op.drop_table("staff")
    with op.batch_alter_table("closure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closure_status"))
        batch_op.drop_index(batch_op.f("ix_closure_starts_at"))
        batch_op.drop_index(batch_op.f("ix_closure_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_closure_ends_at"))

    op.drop_table("closure")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_telegram_user_id"))

    op.drop_table("subscription")
    op.drop_table("storestate")
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_municipality_slug"))

    op.drop_table("municipality")
