"""emergencies, playbooks, drivers' last locations; outbox rows about a closure or an emergency

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "driverlocation",
        sa.Column("telegram_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("live_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("telegram_user_id"),
    )
    with op.batch_alter_table("driverlocation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_driverlocation_at"), ["at"], unique=False)

    op.create_table(
        "emergency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("hazard", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("cap_category", sa.String(length=16), nullable=False),
        sa.Column("cap_severity", sa.String(length=16), nullable=False),
        sa.Column("cap_urgency", sa.String(length=16), nullable=False),
        sa.Column("cap_certainty", sa.String(length=16), nullable=False),
        sa.Column("cap_response", sa.String(length=16), nullable=False),
        sa.Column("headline_ar", sa.String(length=200), nullable=False),
        sa.Column("headline_en", sa.String(length=200), nullable=False),
        sa.Column("instruction_ar", sa.Text(), nullable=False),
        sa.Column("instruction_en", sa.Text(), nullable=False),
        sa.Column("area_desc_ar", sa.String(length=100), nullable=False),
        sa.Column("area_desc_en", sa.String(length=100), nullable=False),
        sa.Column("area_geojson", sa.Text(), nullable=False),
        sa.Column("area_source", sa.String(length=16), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("clipped_share", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("source_sender", sa.String(length=200), nullable=True),
        sa.Column("source_identifier", sa.String(length=200), nullable=True),
        sa.Column("source_sent", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["emergency.id"],
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"],
            ["emergency.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identifier"),
    )
    with op.batch_alter_table("emergency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergency_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_emergency_municipality_id"), ["municipality_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_emergency_sent_at"), ["sent_at"], unique=False)
        batch_op.create_index("ix_emergency_series", ["first_id", "version"], unique=False)
        batch_op.create_index(batch_op.f("ix_emergency_state"), ["state"], unique=False)

    op.create_table(
        "playbook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name_ar", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("hazard", sa.String(length=16), nullable=True),
        sa.Column("area_geojson", sa.Text(), nullable=True),
        sa.Column("area_desc_ar", sa.String(length=100), nullable=True),
        sa.Column("area_desc_en", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("municipality_id", "slug"),
    )
    with op.batch_alter_table("playbook", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_playbook_municipality_id"), ["municipality_id"], unique=False)

    op.create_table(
        "emergencyclosure",
        sa.Column("emergency_id", sa.Integer(), nullable=False),
        sa.Column("closure_id", sa.Integer(), nullable=False),
        sa.Column("playbook_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("follows_expiry", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["closure_id"],
            ["closure.id"],
        ),
        sa.ForeignKeyConstraint(
            ["emergency_id"],
            ["emergency.id"],
        ),
        sa.ForeignKeyConstraint(
            ["playbook_id"],
            ["playbook.id"],
        ),
        sa.PrimaryKeyConstraint("emergency_id", "closure_id"),
    )
    op.create_table(
        "emergencyevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("emergency_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before_json", sa.Text(), nullable=True),
        sa.Column("after_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["emergency_id"],
            ["emergency.id"],
        ),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["emergency.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("emergencyevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergencyevent_emergency_id"), ["emergency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_emergencyevent_first_id"), ["first_id"], unique=False)

    op.create_table(
        "emergencyrecipient",
        sa.Column("emergency_id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("first_version", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["emergency_id"],
            ["emergency.id"],
        ),
        sa.PrimaryKeyConstraint("emergency_id", "telegram_user_id"),
    )
    op.create_table(
        "playbookclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playbook_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("geometry_geojson", sa.Text(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("lanes_ar", sa.String(length=200), nullable=True),
        sa.Column("lanes_en", sa.String(length=200), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("heading", sa.String(length=3), nullable=True),
        sa.Column("title_ar", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=True),
        sa.Column("description_ar", sa.Text(), nullable=True),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("detour_ar", sa.Text(), nullable=True),
        sa.Column("detour_en", sa.Text(), nullable=True),
        sa.Column("duration_min", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["playbook_id"],
            ["playbook.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("playbookclosure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_playbookclosure_playbook_id"), ["playbook_id"], unique=False)

    with op.batch_alter_table("outboxitem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emergency_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("emergency_version", sa.Integer(), nullable=True))
        batch_op.alter_column("closure_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("closure_version", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            "ix_outboxitem_emergency_sequence", ["emergency_id", "destination", "due_at"], unique=False
        )
        batch_op.create_foreign_key("fk_outboxitem_emergency_id", "emergency", ["emergency_id"], ["id"])
        batch_op.create_check_constraint(
            "ck_outboxitem_subject", "(closure_id IS NULL) <> (emergency_id IS NULL)"
        )


def downgrade() -> None:
    # posts about emergencies have no closure: they go with the emergencies
    op.execute("DELETE FROM outboxitem WHERE emergency_id IS NOT NULL")
    with op.batch_alter_table("outboxitem", schema=None) as batch_op:
        batch_op.drop_constraint("ck_outboxitem_subject", type_="check")
        batch_op.drop_constraint("fk_outboxitem_emergency_id", type_="foreignkey")
        batch_op.drop_index("ix_outboxitem_emergency_sequence")
        batch_op.alter_column("closure_version", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("closure_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("emergency_version")
        batch_op.drop_column("emergency_id")

    with op.batch_alter_table("playbookclosure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playbookclosure_playbook_id"))

    op.drop_table("playbookclosure")
    op.drop_table("emergencyrecipient")
    with op.batch_alter_table("emergencyevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergencyevent_first_id"))
        batch_op.drop_index(batch_op.f("ix_emergencyevent_emergency_id"))

    op.drop_table("emergencyevent")
    op.drop_table("emergencyclosure")
    with op.batch_alter_table("playbook", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playbook_municipality_id"))

    op.drop_table("playbook")
    with op.batch_alter_table("emergency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_state"))
        batch_op.drop_index("ix_emergency_series")
        batch_op.drop_index(batch_op.f("ix_emergency_sent_at"))
        batch_op.drop_index(batch_op.f("ix_emergency_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_expires_at"))

    op.drop_table("emergency")
    with op.batch_alter_table("driverlocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_driverlocation_at"))

    op.drop_table("driverlocation")
