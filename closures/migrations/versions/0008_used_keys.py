"""used keys (replay protection for the Mini App's signed initData)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usedkey",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("usedkey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usedkey_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usedkey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usedkey_expires_at"))
    op.drop_table("usedkey")
