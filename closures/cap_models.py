"""The table of CAP messages read from partners (a met service, civil defence): what each became here.

One row per message and municipality its area met: an alert over two municipalities drafts an emergency
in each. The row is what makes an import idempotent (the same sender and identifier again: nothing to do)
and what an Update or Cancel is matched by (its ``references`` name earlier rows' sender and identifier).
The partner's description is kept here for the staff member deciding on the draft; an emergency has no
column for it, since what we publish says what the municipality decided, in its own words.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from closures.columns import timestamp, utcnow


class CapOutcome(StrEnum):
    """What an imported message did to the emergency of its municipality."""

    DRAFTED = "drafted"  # a new draft, sent to the staff to confirm or dismiss
    REPLACED = "replaced"  # an Update that replaced a draft's content
    WITHDRAWN = "withdrawn"  # a Cancel that withdrew a draft
    EXPIRED = "expired"  # read after its own expiry: its draft (if any) was dropped
    NOTED = "noted"  # an Update or Cancel of an alert already confirmed: staff told, nothing changed


class CapMessage(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("sender", "identifier", "municipality_id"),
        sa.Index("ix_capmessage_key", "sender", "identifier"),
        sa.Index("ix_capmessage_thread", "thread", "municipality_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=200)
    identifier: str = Field(max_length=200)
    sent: datetime = timestamp()
    # the first Alert of the messages that follow one another ("<sender> <identifier>"): an Update or
    # Cancel names some earlier messages, and the thread leads from them to the draft in force now
    thread: str = Field(max_length=401)
    msg_type: str = Field(max_length=8)  # CAP msgType: Alert, Update, Cancel
    status: str = Field(max_length=16)  # CAP status: Actual, Exercise, …
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    emergency_id: int | None = Field(default=None, foreign_key="emergency.id", index=True)  # its series
    outcome: str = Field(max_length=16)
    expires_at: datetime | None = timestamp(default=None)
    description_ar: str | None = Field(default=None, sa_type=sa.Text)
    description_en: str | None = Field(default=None, sa_type=sa.Text)
    source: str = Field(max_length=120)  # the import's label, e.g. "cap:ncm.example.sa"
    received_at: datetime = timestamp(default_factory=utcnow)
