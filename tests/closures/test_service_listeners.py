"""After-commit listeners of the service: told of every write once it has committed, never of a refused or
empty one; a failing listener is logged and the write stands."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import pytest

from closures.changes import ClosureChange
from closures.errors import ConflictError, ValidationError
from closures.models import Action, Closure
from closures.service import Actor, ClosureService
from closures.store import session_scope

SYSTEM = Actor.system("test")
pytestmark = pytest.mark.usefixtures("staff")


class Heard:
    """A listener that records what it is told, and the closure's version as a new session reads it then."""

    def __init__(self, service: ClosureService) -> None:
        self.service = service
        self.changes: list[ClosureChange] = []
        self.seen_versions: list[int | None] = []

    def __call__(self, changes: Sequence[ClosureChange]) -> None:
        self.changes.extend(changes)
        for change in changes:
            with session_scope(self.service.engine) as session:  # committed, so another session sees it
                row = session.get(Closure, change.closure_id)
                self.seen_versions.append(row.version if row else None)

    def told(self) -> list[tuple[int, int, Action]]:
        return [(c.closure_id, c.version, c.action) for c in self.changes]


def test_every_write_is_told_after_it_committed(service, clock, make_draft):
    heard = Heard(service)
    service.add_listener(heard)
    closure = service.register("riyadh", make_draft(starts_at=clock()), SYSTEM)
    cid = closure.id
    service.update(cid, 1, {"title_en": "King Fahd Rd: two lanes"}, SYSTEM)
    service.extend(cid, clock() + timedelta(hours=9), SYSTEM)
    service.lift(cid, SYSTEM)
    scheduled = service.register("riyadh", make_draft(), SYSTEM)
    service.cancel(scheduled.id, SYSTEM)
    assert heard.told() == [
        (cid, 1, Action.REGISTERED),
        (cid, 2, Action.UPDATED),
        (cid, 3, Action.EXTENDED),
        (cid, 4, Action.LIFTED),
        (scheduled.id, 1, Action.REGISTERED),
        (scheduled.id, 2, Action.CANCELLED),
    ]
    assert heard.seen_versions == [1, 2, 3, 4, 1, 2]


def test_refused_conflicting_and_empty_writes_tell_nothing(service, clock, make_draft):
    closure = service.register("riyadh", make_draft(), SYSTEM)
    heard = Heard(service)
    service.add_listener(heard)
    with pytest.raises(ValidationError):
        service.register("riyadh", make_draft(ends_at=clock() - timedelta(hours=1)), SYSTEM)
    with pytest.raises(ValidationError):
        service.lift(closure.id, SYSTEM)  # not started yet
    service.update(closure.id, 1, {"title_en": "new"}, SYSTEM)
    with pytest.raises(ConflictError):
        service.update(closure.id, 1, {"title_en": "stale"}, SYSTEM)
    service.update(closure.id, 2, {"title_en": "new"}, SYSTEM)  # the same value: nothing to write
    assert heard.told() == [(closure.id, 2, Action.UPDATED)]


def test_a_failing_listener_is_logged_and_the_write_stands(service, make_draft, caplog):
    def broken(changes: Sequence[ClosureChange]) -> None:
        raise RuntimeError("the event loop is gone")

    heard = Heard(service)
    service.add_listener(broken)
    service.add_listener(heard)
    with caplog.at_level(logging.ERROR, logger="closures.changes"):
        closure = service.register("riyadh", make_draft(), SYSTEM)
    assert service.get(closure.id).version == 1
    assert heard.told() == [(closure.id, 1, Action.REGISTERED)]  # the next listener is still told
    (record,) = caplog.records
    assert "after-commit listener" in record.getMessage()
    assert record.exc_info is not None


def test_a_removed_listener_hears_no_more(service, make_draft):
    heard, other = Heard(service), Heard(service)
    remove = service.add_listener(heard)
    service.add_listener(other)
    first = service.register("riyadh", make_draft(), SYSTEM)
    remove()
    second = service.register("riyadh", make_draft(), SYSTEM)
    assert heard.told() == [(first.id, 1, Action.REGISTERED)]
    assert other.told() == [(first.id, 1, Action.REGISTERED), (second.id, 1, Action.REGISTERED)]
