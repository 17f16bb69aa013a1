"""A claimed outbox row as the worker handles it: a plain copy (no session), of a closure's post or an
emergency's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from closures.models import EmergencyAction, OutboxItem, PostEvent


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed row as the worker needs it (a plain copy: no session)."""

    id: int
    closure_id: int
    closure_version: int
    event: PostEvent
    destination: str
    due_at: datetime
    attempts: int
    token: str
    in_doubt_since: datetime | None  # a previous attempt started sending then and left no outcome
    payload: dict[str, Any] | None
    last_sent_here: datetime | None = None  # the latest post done to this destination (per-chat pacing)

    @property
    def kind(self) -> str:
        return self.destination.partition(":")[0]

    @property
    def target(self) -> str:
        return self.destination.partition(":")[2]


@dataclass(frozen=True, slots=True)
class ClaimedEmergency:
    """A claimed row about an emergency (``emergency_id`` is the series' first version)."""

    id: int
    emergency_id: int
    emergency_version: int
    event: EmergencyAction
    destination: str
    due_at: datetime
    attempts: int
    token: str
    in_doubt_since: datetime | None
    payload: dict[str, Any] | None
    last_sent_here: datetime | None = None  # as for a closure's post

    @property
    def kind(self) -> str:
        return self.destination.partition(":")[0]

    @property
    def target(self) -> str:
        return self.destination.partition(":")[2]


AnyClaimed = Claimed | ClaimedEmergency


def claimed_of(row: OutboxItem, token: str, last_sent: datetime | None = None) -> AnyClaimed:
    """The worker's copy of a row it holds the lease of (``token``); ``last_sent``: when its destination was
    last posted to."""
    assert row.id is not None
    if row.emergency_id is not None:
        assert row.emergency_version is not None
        return ClaimedEmergency(
            id=row.id,
            emergency_id=row.emergency_id,
            emergency_version=row.emergency_version,
            event=EmergencyAction(row.event),
            destination=row.destination,
            due_at=row.due_at,
            attempts=row.attempts,
            token=token,
            in_doubt_since=row.intent_at,
            payload=json.loads(row.payload_json) if row.payload_json else None,
            last_sent_here=last_sent,
        )
    assert row.closure_id is not None
    assert row.closure_version is not None
    return Claimed(
        id=row.id,
        closure_id=row.closure_id,
        closure_version=row.closure_version,
        event=PostEvent(row.event),
        destination=row.destination,
        due_at=row.due_at,
        attempts=row.attempts,
        token=token,
        in_doubt_since=row.intent_at,
        payload=json.loads(row.payload_json) if row.payload_json else None,
        last_sent_here=last_sent,
    )
