"""Tables of emergencies, playbooks and drivers' last locations, and the value sets their columns draw from.

An emergency is a series of *versions*, one row each, like the messages of a CAP alert: the first version
(``msg_type`` alert), then updates and at most one end (cancel), each referencing the first (``first_id``;
the first version references itself). A version is what a CAP ``<alert>`` is made of:

=====================  =========================================================================
column                 CAP 1.2
=====================  =========================================================================
identifier             ``identifier`` (unique, fixed when the row is written, never reused)
sent_at                ``sent`` (None while the version is a draft)
msg_type               ``msgType`` Alert / Update / Cancel
first_id               ``references`` (with the first version's identifier and sent_at)
exercise               ``status`` Test (else Actual)
hazard                 ``category`` and ``event`` (see ``closures.emergency_rules.cap_terms``)
level                  the Saudi four-colour level; ``cap_severity/urgency/certainty`` derive from it
headline_*             ``headline`` of the ar-SA and en-US ``<info>``
instruction_*          ``instruction``
area_desc_*            ``<area><areaDesc>`` (under 50 characters)
area_geojson           ``<area><polygon>`` (clipped to the municipality, WGS84 lon/lat)
expires_at             ``expires``
source                 "staff", or "cap:<sender>" for an alert imported from a partner
source_*               the imported alert's ``sender``, ``identifier`` and ``sent``
=====================  =========================================================================

``state`` is ``draft`` for a version awaiting a staff member's confirmation (an imported alert: nothing
is posted), ``issued`` once declared, ``discarded`` when a draft was turned down. The current version of
a series is its issued row that no later version superseded (``superseded_by`` is None).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from closures.columns import timestamp, utcnow


class Hazard(StrEnum):
    FLOOD = "flood"
    SANDSTORM = "sandstorm"
    FIRE = "fire"
    SECURITY = "security"
    OTHER = "other"


class AlertLevel(StrEnum):
    """The Saudi early-warning scale, lowest first (colours and wording: ``closures.emergency_rules``)."""

    ADVICE = "advice"  # green
    ALERT = "alert"  # yellow
    WARNING = "warning"  # orange
    ALARM = "alarm"  # red


class MessageType(StrEnum):
    """CAP's msgType for a version."""

    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"


class EmergencyState(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    DISCARDED = "discarded"


class EmergencyAction(StrEnum):
    """The emergencies' audit trail actions; declared, updated, ended and expired also cause posts."""

    DRAFTED = "drafted"
    DECLARED = "declared"
    UPDATED = "updated"
    ENDED = "ended"
    EXPIRED = "expired"
    DISCARDED = "discarded"


class AreaSource(StrEnum):
    """Where an emergency's area came from."""

    DRAWN = "drawn"  # tapped points, pasted GeoJSON or WKT
    PLAYBOOK = "playbook"
    MUNICIPALITY = "municipality"
    IMPORTED = "imported"  # a partner's CAP alert


class ReachReason(StrEnum):
    """Why a person is messaged about an emergency (the first reason found, in this order of priority)."""

    STAFF = "staff"  # an exercise reaches the municipality's staff only
    SUBSCRIBER = "subscriber"  # a saved place or route touches the area
    DRIVER = "driver"  # a live or recent location inside the area or near it


class Emergency(SQLModel, table=True):
    """One version of an emergency (see the module docstring for the CAP meaning of each column)."""

    __table_args__ = (sa.Index("ix_emergency_series", "first_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(unique=True, max_length=200)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    first_id: int | None = Field(default=None, foreign_key="emergency.id")
    version: int = Field(default=1)
    msg_type: str = Field(default=MessageType.ALERT.value, max_length=8)
    state: str = Field(default=EmergencyState.ISSUED.value, max_length=16, index=True)
    superseded_by: int | None = Field(default=None, foreign_key="emergency.id")
    exercise: bool = Field(default=False)
    hazard: str = Field(max_length=16)
    level: str = Field(max_length=16)
    cap_category: str = Field(max_length=16)
    cap_severity: str = Field(max_length=16)
    cap_urgency: str = Field(max_length=16)
    cap_certainty: str = Field(max_length=16)
    cap_response: str = Field(max_length=16)
    headline_ar: str = Field(max_length=200)
    headline_en: str = Field(max_length=200)
    instruction_ar: str = Field(sa_type=sa.Text)
    instruction_en: str = Field(sa_type=sa.Text)
    area_desc_ar: str = Field(max_length=100)
    area_desc_en: str = Field(max_length=100)
    area_geojson: str = Field(sa_type=sa.Text)
    area_source: str = Field(default=AreaSource.DRAWN.value, max_length=16)
    area_m2: float = Field(default=0.0)  # after clipping, on the municipality's metric projection
    clipped_share: float = Field(default=0.0)  # the share of the area given that lay outside and was cut
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    sent_at: datetime | None = timestamp(default=None, index=True)
    expires_at: datetime = timestamp(index=True)
    source: str = Field(default="staff", max_length=120)
    source_sender: str | None = Field(default=None, max_length=200)
    source_identifier: str | None = Field(default=None, max_length=200)
    source_sent: datetime | None = timestamp(default=None)
    created_by: str = Field(max_length=64)
    created_at: datetime = timestamp(default_factory=utcnow)
    updated_at: datetime = timestamp(default_factory=utcnow)


class EmergencyEvent(SQLModel, table=True):
    """One line of an emergency's audit trail: who did what, with the version before and after."""

    id: int | None = Field(default=None, primary_key=True)
    emergency_id: int = Field(foreign_key="emergency.id", index=True)  # the version acted on
    first_id: int = Field(foreign_key="emergency.id", index=True)
    version: int
    action: str = Field(max_length=16)
    actor: str = Field(max_length=64)
    at: datetime = timestamp(default_factory=utcnow)
    before_json: str | None = Field(default=None, sa_type=sa.Text)
    after_json: str = Field(sa_type=sa.Text)


class EmergencyClosure(SQLModel, table=True):
    """A closure an emergency brought (from a playbook or drawn with it), registered in its transaction."""

    emergency_id: int = Field(foreign_key="emergency.id", primary_key=True)  # the series (first version)
    closure_id: int = Field(foreign_key="closure.id", primary_key=True)
    playbook_id: int | None = Field(default=None, foreign_key="playbook.id")
    version: int  # the emergency version that brought it
    follows_expiry: bool = Field(default=True)  # its end moves with the emergency's; lifted at the end


class EmergencyRecipient(SQLModel, table=True):
    """A person messaged about an emergency: later versions reach them again, as replies to ``message_id``."""

    emergency_id: int = Field(foreign_key="emergency.id", primary_key=True)  # the series (first version)
    telegram_user_id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    language: str = Field(max_length=8)
    reason: str = Field(max_length=16)
    first_version: int
    message_id: str | None = Field(default=None, max_length=100)  # their first message, once sent
    created_at: datetime = timestamp(default_factory=utcnow)


class Playbook(SQLModel, table=True):
    """A municipality's named, pre-drafted set of closures for an emergency, e.g. "Khurais Rd underpasses"."""

    __table_args__ = (sa.UniqueConstraint("municipality_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    slug: str = Field(max_length=64)  # the handle in commands: lower-case letters, digits and dashes
    name_ar: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    hazard: str | None = Field(default=None, max_length=16)  # the hazard it is drafted for, if any
    area_geojson: str | None = Field(default=None, sa_type=sa.Text)
    area_desc_ar: str | None = Field(default=None, max_length=100)
    area_desc_en: str | None = Field(default=None, max_length=100)
    created_by: str = Field(max_length=64)
    created_at: datetime = timestamp(default_factory=utcnow)
    updated_at: datetime = timestamp(default_factory=utcnow)


class PlaybookClosure(SQLModel, table=True):
    """One pre-drafted closure of a playbook: a closure draft without its times."""

    id: int | None = Field(default=None, primary_key=True)
    playbook_id: int = Field(foreign_key="playbook.id", index=True)
    position: int = Field(default=0)
    geometry_geojson: str = Field(sa_type=sa.Text)
    radius_m: float | None = None
    reason: str = Field(max_length=16)
    severity: str = Field(max_length=8)
    lanes_ar: str | None = Field(default=None, max_length=200)
    lanes_en: str | None = Field(default=None, max_length=200)
    direction: str = Field(max_length=8)
    heading: str | None = Field(default=None, max_length=3)
    title_ar: str = Field(max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    description_ar: str | None = Field(default=None, sa_type=sa.Text)
    description_en: str | None = Field(default=None, sa_type=sa.Text)
    detour_ar: str | None = Field(default=None, sa_type=sa.Text)
    detour_en: str | None = Field(default=None, sa_type=sa.Text)
    # None: the closure ends when the emergency does; else it lasts this long from activation
    duration_min: int | None = Field(default=None)


class DriverLocation(SQLModel, table=True):
    """A driver's last shared (or live) location, kept ``EMERGENCY_RECENT_H`` so an emergency can reach them.

    Written in batches by each bot process; ``/forget`` deletes it; rows older than the window are purged.
    """

    telegram_user_id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    lon: float
    lat: float
    at: datetime = timestamp(index=True)
    live_until: datetime | None = timestamp(default=None)  # a live location is shared until then
    language: str = Field(default="ar", max_length=8)
