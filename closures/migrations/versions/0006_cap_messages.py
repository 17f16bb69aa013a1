"""CAP messages read from partners, per municipality: what each became here

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capmessage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("thread", sa.String(length=401), nullable=False),
        sa.Column("msg_type", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("emergency_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("description_ar", sa.Text(), nullable=True),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["emergency_id"], ["emergency.id"]),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender", "identifier", "municipality_id"),
    )
    with op.batch_alter_table("capmessage", schema=None) as batch_op:
        batch_op.create_index("ix_capmessage_key", ["sender", "identifier"], unique=False)
        batch_op.create_index("ix_capmessage_thread", ["thread", "municipality_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_capmessage_municipality_id"), ["municipality_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_capmessage_emergency_id"), ["emergency_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("capmessage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capmessage_emergency_id"))
        batch_op.drop_index(batch_op.f("ix_capmessage_municipality_id"))
        batch_op.drop_index("ix_capmessage_thread")
        batch_op.drop_index("ix_capmessage_key")
    op.drop_table("capmessage")
