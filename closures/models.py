"""SQLModel tables and the value sets their text columns draw from.

Geometry is stored as GeoJSON text in WGS84 (lon, lat) with its bounds beside it, so the same schema works
on SQLite and PostgreSQL; on PostgreSQL with PostGIS the migration adds a generated geography column too.
Times are UTC-aware everywhere (``UTCDateTime``); they are shown in the municipality's zone at the edge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone, so it is added back on load)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Kind(StrEnum):
    POINT = "point"
    LINE = "line"
    AREA = "area"


class Reason(StrEnum):
    ROADWORKS = "roadworks"
    EVENT = "event"
    FLOOD = "flood"
    ACCIDENT = "accident"
    MAINTENANCE = "maintenance"
    SECURITY = "security"
    OTHER = "other"


class Severity(StrEnum):
    FULL = "full"
    PARTIAL = "partial"


class Direction(StrEnum):
    BOTH = "both"
    ONE = "one"


class Status(StrEnum):
    """What was decided about a closure; whether it is scheduled, active or ended follows from time."""

    OPEN = "open"
    LIFTED = "lifted"
    CANCELLED = "cancelled"


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"


class Action(StrEnum):
    """Audit trail actions; also the events that cause posts."""

    REGISTERED = "registered"
    UPDATED = "updated"
    EXTENDED = "extended"
    LIFTED = "lifted"
    CANCELLED = "cancelled"


class PostEvent(StrEnum):
    """What a follower is told in one post."""

    ANNOUNCED = "announced"
    STARTED = "started"
    UPDATED = "updated"
    EXTENDED = "extended"
    LIFTED = "lifted"
    CANCELLED = "cancelled"
    ENDED = "ended"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"
    DEAD = "dead"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Municipality(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=64)
    name_ar: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    boundary_geojson: str = Field(sa_type=sa.Text)
    timezone: str = Field(default="Asia/Riyadh", max_length=64)
    default_radius_m: int = Field(default=5000)
    epsg: int | None = Field(default=None)
    # The language its public pages open in ("ar" for Saudi municipalities); None: the reader's browser.
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime = _ts(default_factory=utcnow)


class Staff(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("telegram_user_id", "municipality_id"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=sa.BigInteger, index=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    role: str = Field(default=Role.STAFF.value, max_length=16)
    display_name: str | None = Field(default=None, max_length=200)
    active: bool = Field(default=True)
    added_by: str = Field(default="cli", max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)


class Closure(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("municipality_id", "ref"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    ref: str | None = Field(default=None, max_length=200)  # an external or sample id, unique per municipality
    source: str = Field(default="staff", max_length=64)
    geometry_geojson: str = Field(sa_type=sa.Text)
    kind: str = Field(max_length=8)
    radius_m: float | None = None
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    reason: str = Field(max_length=16)
    severity: str = Field(default=Severity.FULL.value, max_length=8)
    lanes_ar: str | None = Field(default=None, max_length=200)
    lanes_en: str | None = Field(default=None, max_length=200)
    direction: str = Field(default=Direction.BOTH.value, max_length=8)
    heading: str | None = Field(default=None, max_length=3)
    starts_at: datetime = _ts(index=True)
    ends_at: datetime | None = _ts(default=None, index=True)
    title_ar: str = Field(max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    description_ar: str | None = Field(default=None, sa_type=sa.Text)
    description_en: str | None = Field(default=None, sa_type=sa.Text)
    detour_ar: str | None = Field(default=None, sa_type=sa.Text)
    detour_en: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(default=Status.OPEN.value, max_length=16, index=True)
    lifted_at: datetime | None = _ts(default=None)
    version: int = Field(default=1)
    created_by: str = Field(max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class ClosureEvent(SQLModel, table=True):
    """One line of the audit trail: who did what to which version, with the fields before and after."""

    id: int | None = Field(default=None, primary_key=True)
    closure_id: int = Field(foreign_key="closure.id", index=True)
    version: int
    action: str = Field(max_length=16)
    actor: str = Field(max_length=64)
    at: datetime = _ts(default_factory=utcnow)
    before_json: str | None = Field(default=None, sa_type=sa.Text)
    after_json: str = Field(sa_type=sa.Text)


class Subscription(SQLModel, table=True):
    """A driver's wish to hear of closures near a saved place or along a saved route."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=sa.BigInteger, index=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=8)  # place | route
    geometry_geojson: str = Field(sa_type=sa.Text)
    radius_m: int = Field(default=1000)
    language: str = Field(default="ar", max_length=8)
    active: bool = Field(default=True)
    created_at: datetime = _ts(default_factory=utcnow)


class OutboxItem(SQLModel, table=True):
    """One post to one destination, written in the same transaction as the change that causes it."""

    # the worker keeps each (closure, destination) in order: this index finds an item's predecessors
    __table_args__ = (sa.Index("ix_outboxitem_sequence", "closure_id", "destination", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)
    closure_id: int = Field(foreign_key="closure.id", index=True)
    closure_version: int
    event: str = Field(max_length=16)
    destination: str = Field(max_length=100)
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16, index=True)
    due_at: datetime = _ts(index=True)
    attempts: int = Field(default=0)
    lease_until: datetime | None = _ts(default=None)
    remote_id: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    # publishing (migration 0004): who holds the lease, when a send was last started without its outcome
    # being recorded yet (an attempt "in doubt" after a crash), and what a subscriber alert says
    claim_token: str | None = Field(default=None, max_length=64)
    intent_at: datetime | None = _ts(default=None)
    done_at: datetime | None = _ts(default=None)
    payload_json: str | None = Field(default=None, sa_type=sa.Text)


class StoreState(SQLModel, table=True):
    """A single row whose counter moves with every closure write, so indexes in any process can follow."""

    id: int = Field(default=1, primary_key=True)
    change_counter: int = Field(default=0, sa_type=sa.BigInteger)


class Driver(SQLModel, table=True):
    """A driver's own settings; absent until they change one. ``/forget`` deletes the row."""

    telegram_user_id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    language: str | None = Field(default=None, max_length=8)
    radius_m: int | None = Field(default=None)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class SavedPlace(SQLModel, table=True):
    """A named place (a point) or route (a line) a driver saved, e.g. "home" or "to work"."""

    __table_args__ = (sa.UniqueConstraint("telegram_user_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=sa.BigInteger, index=True)
    name: str = Field(max_length=64)
    kind: str = Field(max_length=8)  # place | route
    geometry_geojson: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts(default_factory=utcnow)


class StaffEvent(SQLModel, table=True):
    """One line of the staff directory's audit trail: who added, changed or removed whom, where."""

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    telegram_user_id: int = Field(sa_type=sa.BigInteger, index=True)
    action: str = Field(max_length=16)  # added | changed | removed
    role: str | None = Field(default=None, max_length=16)
    actor: str = Field(max_length=64)
    at: datetime = _ts(default_factory=utcnow)


class ConversationState(SQLModel, table=True):
    """Where a bot conversation (e.g. a staff member's ``/new``) stands, so it survives a restart."""

    name: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)  # the conversation key as JSON, e.g. "[42, 42]"
    state: str = Field(sa_type=sa.Text)  # JSON
    updated_at: datetime = _ts(default_factory=utcnow)


class ConversationData(SQLModel, table=True):
    """The part of a user's bot data that must survive a restart (the draft of a half-finished ``/new``)."""

    telegram_user_id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    data_json: str = Field(sa_type=sa.Text)
    updated_at: datetime = _ts(default_factory=utcnow)


class PostBudget(SQLModel, table=True):
    """Posts spent per account and UTC day (X's paid API has a daily cap); reserved before each send."""

    account: str = Field(primary_key=True, max_length=100)
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD (UTC)
    used: int = Field(default=0)
