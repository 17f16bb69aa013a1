"""subscription counter: a number that moves with every write to the subscriptions, whoever writes

An expansion of subscribers' alerts reads and parses every active subscription; an import of 1,000 closures
did that 1,000 times over 10,000 subscriptions. With this counter a process keeps the parsed subscriptions
and reads them again only when it moved. Triggers move it, so no writer (the bot, the CLI, a forget, a
hand-made SQL fix) can change a subscription without the readers knowing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = "UPDATE storestate SET subscription_counter = subscription_counter + 1 WHERE id = 1"
_SQLITE_EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    with op.batch_alter_table("storestate", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subscription_counter", sa.BigInteger(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION roadbot_subscription_changed() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER subscription_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON subscription FOR EACH STATEMENT EXECUTE FUNCTION roadbot_subscription_changed()"
        )
    else:  # SQLite has row triggers only
        for event in _SQLITE_EVENTS:
            op.execute(
                f"CREATE TRIGGER subscription_{event.lower()}d AFTER {event} ON subscription "
                f"BEGIN {_BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS subscription_changed ON subscription")
        op.execute("DROP FUNCTION IF EXISTS roadbot_subscription_changed()")
    else:
        for event in _SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS subscription_{event.lower()}d")
    with op.batch_alter_table("storestate", schema=None) as batch_op:
        batch_op.drop_column("subscription_counter")
