"""SQLModel tables and the value sets their text columns draw from.

Geometry is stored as GeoJSON text in WGS84 (lon, lat) with its bounds beside it, so the same schema works
on SQLite and PostgreSQL; on PostgreSQL with PostGIS the migration adds a generated geography column too.
Times are UTC-aware everywhere (``UTCDateTime``); they are shown in the municipality's zone at the edge.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from closures.cap_models import CapMessage, CapOutcome  # noqa: F401  (re-exported, like the emergencies)
from closures.columns import UTCDateTime, utcnow  # noqa: F401  (UTCDateTime: re-exported, as before)
from closures.columns import timestamp as _ts
from closures.emergency_models import (  # noqa: F401  (re-exported: one import registers every table)
    AlertLevel,
    AreaSource,
    DriverLocation,
    Emergency,
    EmergencyAction,
    EmergencyClosure,
    EmergencyEvent,
    EmergencyRecipient,
    EmergencyState,
    Hazard,
    MessageType,
    Playbook,
    PlaybookClosure,
    ReachReason,
)


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
    """One post to one destination, written in the same transaction as the change that causes it.

    A post is about a closure (``closure_id`` and ``closure_version``) or about an emergency (the series'
    first version ``emergency_id`` and ``emergency_version``), never both.
    """

    # the worker keeps each (closure or emergency, destination) in order: these indexes find predecessors
    __table_args__ = (
        sa.Index("ix_outboxitem_sequence", "closure_id", "destination", "due_at"),
        sa.Index("ix_outboxitem_emergency_sequence", "emergency_id", "destination", "due_at"),
        # one chat at a time, and when it was last posted to (migration 0007)
        sa.Index("ix_outboxitem_destination", "destination", "status"),
        sa.CheckConstraint("(closure_id IS NULL) <> (emergency_id IS NULL)", name="ck_outboxitem_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)
    closure_id: int | None = Field(default=None, foreign_key="closure.id", index=True)
    closure_version: int | None = None
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
    # emergencies (migration 0005)
    emergency_id: int | None = Field(default=None, foreign_key="emergency.id")
    emergency_version: int | None = None


class StoreState(SQLModel, table=True):
    """A single row whose counter moves with every closure write, so indexes in any process can follow."""

    id: int = Field(default=1, primary_key=True)
    change_counter: int = Field(default=0, sa_type=sa.BigInteger)
    # moved by triggers on every write to the subscriptions (migration 0010): ``closures.subscribers``
    subscription_counter: int = Field(
        default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"}
    )


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


class UsedKey(SQLModel, table=True):
    """A key that may be used once (a Mini App's signed initData, by its hash), kept until it expires:
    past ``expires_at`` the key is refused for its age anyway, so the row can go."""

    key: str = Field(primary_key=True, max_length=128)
    purpose: str = Field(max_length=32)  # what it was used for, e.g. "webapp-drawing"
    telegram_user_id: int = Field(sa_type=sa.BigInteger)
    used_at: datetime = _ts(default_factory=utcnow)
    expires_at: datetime = _ts(index=True)


# --- publishing at the platform's limit, with workers that can die (migration 0006) -----------------------


class OutboxWorkerRow(SQLModel, table=True):
    """A running outbox worker: its heartbeat tells the others it is alive (see ``closures.workers``)."""

    __tablename__ = "outboxworker"

    name: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=255)
    pid: int
    started_at: datetime = _ts()
    heartbeat_at: datetime = _ts()


class SendSlot(SQLModel, table=True):
    """How many messages the bot's processes together took in one wall-clock second (closures.sendrate)."""

    budget: str = Field(primary_key=True, max_length=32)
    second: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})
    used: int = Field(default=0)


class SendPause(SQLModel, table=True):
    """Until when (epoch seconds) the platform asked every process of the bot to send nothing (a 429)."""

    budget: str = Field(primary_key=True, max_length=32)
    until: float = Field(default=0.0)
