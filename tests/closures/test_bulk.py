"""The fan-outs' bulk INSERT (``closures.bulk``): a row holds exactly what the ORM row with the same values
holds, to the stored bytes; a fan-out row (``fanned_out``) what the ORM would have defaulted; a row that
breaks a unique key is left alone; and a column left out, unknown or given twice is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from closures.bulk import insert_new
from closures.emergency_models import EmergencyRecipient
from closures.models import OutboxItem
from closures.outbox import fanned_out
from closures.service import Actor
from closures.store import session_scope
from tests.closures.conftest import RIYADH_STAFF

STAFF = Actor.telegram(RIYADH_STAFF)
# a whole second and a time with microseconds: SQLite keeps times as text, and a driver's own conversion
# would write the first without its ".000000", which sorts before the ORM's
WHOLE = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
FRACTION = datetime(2026, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("staff")


@pytest.fixture
def first_id(emergencies, declare) -> int:
    return emergencies.declare("riyadh", declare(), STAFF).emergency.first_id


def _stored(engine, table: str, where: str) -> list[tuple]:
    """The rows as the database holds them (no SQLAlchemy type on the way back)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} WHERE {where}")]


def _values(first_id: int, now: datetime, key: str) -> dict:
    return {
        "idempotency_key": key, "closure_id": None, "closure_version": None, "emergency_id": first_id,
        "emergency_version": 1, "event": "declared", "destination": f"emergency-dm:{key}",
        "status": "pending",
        "due_at": now, "attempts": 0, "lease_until": None, "remote_id": None, "last_error": None,
        "created_at": now, "updated_at": now + timedelta(seconds=1), "claim_token": None, "intent_at": None,
        "done_at": None, "payload_json": '{"chat_id": 1, "language": "ar", "reason": "driver"}',
    }  # fmt: skip


def _bulk(session, model, rows: list[dict], varying: tuple[str, ...]) -> None:
    same = {k: v for k, v in rows[0].items() if k not in varying}
    insert_new(session, model, same=same, each={k: [row[k] for row in rows] for k in varying})


@pytest.mark.parametrize("now", [WHOLE, FRACTION], ids=["whole-second", "microseconds"])
def test_a_bulk_outbox_row_is_stored_as_the_orm_row_with_the_same_values(engine, first_id, now):
    with session_scope(engine) as session:
        session.add(OutboxItem(**_values(first_id, now, "orm")))
    with session_scope(engine) as session:
        _bulk(session, OutboxItem, [_values(first_id, now, "bulk")], ("idempotency_key", "destination"))

    orm, bulk = (
        _stored(engine, "outboxitem", f"idempotency_key = '{key}'")[0] for key in ("orm", "bulk")
    )  # fmt: skip
    names = [c.name for c in OutboxItem.__table__.columns]
    differ = {n: (a, b) for n, a, b in zip(names, orm, bulk, strict=True) if a != b}
    assert set(differ) == {"id", "idempotency_key", "destination"}
    with session_scope(engine) as session:  # and read back through the model, times UTC-aware
        read = {r.idempotency_key: r for r in session.scalars(sa.select(OutboxItem))}
    assert read["bulk"].due_at == read["orm"].due_at == now
    assert read["bulk"].updated_at == now + timedelta(seconds=1)


def test_a_fanned_out_row_holds_what_the_orm_would_have_defaulted(engine, first_id):
    """``fanned_out`` against an ORM row given only what the ORM fan-out used to set."""
    with session_scope(engine) as session:
        session.add(
            OutboxItem(
                idempotency_key="orm", emergency_id=first_id, emergency_version=1, event="declared",
                destination="emergency-dm:7", status="pending", due_at=FRACTION, attempts=0,
                payload_json="{}", created_at=FRACTION, updated_at=FRACTION,
            )
        )  # fmt: skip
        session.flush()
        insert_new(
            session, OutboxItem,
            same=fanned_out(FRACTION, "declared", emergency_id=first_id, emergency_version=1),
            each={"idempotency_key": ["bulk"], "destination": ["emergency-dm:8"], "payload_json": ["{}"]},
        )  # fmt: skip

    orm, bulk = (_stored(engine, "outboxitem", f"idempotency_key = '{key}'")[0] for key in ("orm", "bulk"))
    names = [c.name for c in OutboxItem.__table__.columns]
    assert {n for n, a, b in zip(names, orm, bulk, strict=True) if a != b} == {
        "id",
        "idempotency_key",
        "destination",
    }


def test_a_bulk_recipient_is_stored_as_the_orm_row_with_the_same_values(engine, first_id):
    def values(user: int) -> dict:
        return {"emergency_id": first_id, "telegram_user_id": user, "language": "en", "reason": "subscriber",
                "first_version": 1, "message_id": None, "created_at": WHOLE}  # fmt: skip

    with session_scope(engine) as session:
        session.add(EmergencyRecipient(**values(10_000_000_001)))  # a Telegram id beyond 32 bits
    with session_scope(engine) as session:
        _bulk(session, EmergencyRecipient, [values(10_000_000_002)], ("telegram_user_id",))

    orm, bulk = sorted(
        _stored(engine, "emergencyrecipient", f"emergency_id = {first_id}"), key=lambda r: r[1]
    )
    assert (orm[1], bulk[1]) == (10_000_000_001, 10_000_000_002)
    assert orm[:1] + orm[2:] == bulk[:1] + bulk[2:]


def test_rows_breaking_a_unique_key_are_left_alone_and_the_others_inserted(engine, first_id):
    with session_scope(engine) as session:
        session.add(OutboxItem(**{**_values(first_id, WHOLE, "b"), "payload_json": "first"}))
    rows = [{**_values(first_id, WHOLE, key), "payload_json": "second"} for key in ("a", "b", "c")]

    with session_scope(engine) as session:
        _bulk(session, OutboxItem, rows, ("idempotency_key", "destination"))
        _bulk(session, OutboxItem, rows, ("idempotency_key", "destination"))  # again: nothing more

    with session_scope(engine) as session:
        stored = dict(session.execute(sa.select(OutboxItem.idempotency_key, OutboxItem.payload_json)).all())
    assert {k: v for k, v in stored.items() if k in "abc"} == {"a": "second", "b": "first", "c": "second"}


def test_nothing_to_insert_writes_nothing(engine, first_id):
    before = len(_stored(engine, "outboxitem", "1 = 1"))
    with session_scope(engine) as session:
        insert_new(
            session, OutboxItem,
            same=fanned_out(WHOLE, "declared", emergency_id=first_id, emergency_version=1),
            each={"idempotency_key": [], "destination": [], "payload_json": []},
        )  # fmt: skip
    assert len(_stored(engine, "outboxitem", "1 = 1")) == before


@pytest.mark.parametrize(
    ("drop", "add", "each", "message"),
    [
        ("remote_id", {}, {}, "missing ['remote_id']"),
        (None, {"colour": "red"}, {}, "unknown ['colour']"),
        (None, {}, {"destination": ["x"]}, "twice ['destination']"),
        (None, {"id": 5}, {}, "unknown ['id']"),  # the autoincrement key is the database's to give
    ],
)
def test_every_column_is_given_once_and_none_is_left_to_a_default(engine, first_id, drop, add, each, message):
    same = {k: v for k, v in _values(first_id, WHOLE, "x").items() if k not in ("idempotency_key", drop)}
    with session_scope(engine) as session, pytest.raises(ValueError, match=message.replace("[", r"\[")):
        insert_new(session, OutboxItem, same=same | add, each={"idempotency_key": ["x"], **each})


def test_varying_columns_of_different_lengths_are_refused(engine, first_id):
    same = {
        k: v for k, v in _values(first_id, WHOLE, "x").items() if k not in ("idempotency_key", "destination")
    }
    with session_scope(engine) as session, pytest.raises(ValueError, match="differ in length"):
        insert_new(session, OutboxItem, same=same, each={"idempotency_key": ["a", "b"], "destination": ["a"]})
