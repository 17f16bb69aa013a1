"""publishing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outboxitem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("intent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payload_json", sa.Text(), nullable=True))
        batch_op.create_index("ix_outboxitem_sequence", ["closure_id", "destination", "due_at"], unique=False)
    op.create_table(
        "postbudget",
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "day"),
    )


def downgrade() -> None:
    op.drop_table("postbudget")
    with op.batch_alter_table("outboxitem", schema=None) as batch_op:
        batch_op.drop_index("ix_outboxitem_sequence")
        batch_op.drop_column("payload_json")
        batch_op.drop_column("done_at")
        batch_op.drop_column("intent_at")
        batch_op.drop_column("claim_token")
