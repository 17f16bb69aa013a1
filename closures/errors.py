"""The typed error family of ``closures``: codes and values, never sentences for users."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Refusal(StrEnum):
    """Why the service refused a change."""

    NOT_AUTHORISED = "not_authorised"
    OUTSIDE_MUNICIPALITY = "outside_municipality"
    END_BEFORE_START = "end_before_start"
    START_IN_PAST = "start_in_past"
    END_IN_PAST = "end_in_past"
    MISSING_FIELD = "missing_field"
    TEXT_TOO_LONG = "text_too_long"
    BAD_VALUE = "bad_value"
    NOT_OPEN = "not_open"
    NOT_STARTED = "not_started"
    NOT_LATER = "not_later"
    ALREADY_ENDED = "already_ended"
    # emergencies and playbooks
    NOT_AN_AREA = "not_an_area"
    EXPIRY_IN_PAST = "expiry_in_past"
    EXPIRY_TOO_SOON = "expiry_too_soon"
    EXPIRY_TOO_FAR = "expiry_too_far"
    NO_AREA = "no_area"  # "the playbook's area" was asked for, and none of the playbooks has one
    NOT_A_DRAFT = "not_a_draft"
    DUPLICATE = "duplicate"  # a playbook of that name exists already


class ClosureError(Exception):
    """Base of every error the closures package raises on purpose."""


class ValidationError(ClosureError):
    """A change the service will not make; ``code`` says why, ``field`` names the input at fault."""

    def __init__(self, code: Refusal, *, field: str | None = None, detail: str = "") -> None:
        self.code = code
        self.field = field
        self.detail = detail
        where = f" ({field})" if field else ""
        super().__init__(f"{code.value}{where}: {detail}" if detail else f"{code.value}{where}")


class NotFound(ClosureError):
    """No such closure, municipality or staff member."""

    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key!r} not found")


class ConflictError(ClosureError):
    """Someone else changed the closure since the version the caller read.

    ``changes`` maps each field changed meanwhile to its (then, now) values, so a caller can show them.
    """

    def __init__(
        self, closure_id: int, expected: int, current: int, changes: dict[str, tuple[Any, Any]]
    ) -> None:
        self.closure_id = closure_id
        self.expected = expected
        self.current = current
        self.changes = changes
        changed = ", ".join(changes) or "-"
        super().__init__(f"closure {closure_id} is at version {current}, not {expected}; changed: {changed}")


class EmergencyConflict(ClosureError):
    """Someone else issued a version of the emergency since the one the caller read."""

    def __init__(self, first_id: int, expected: int, current: int) -> None:
        self.first_id = first_id
        self.expected = expected
        self.current = current
        super().__init__(f"emergency {first_id} is at version {current}, not {expected}")
