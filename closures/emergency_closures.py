"""The closures an emergency brings: registered from its playbooks with it, following its expiry, lifted
at its end — always in the caller's session, so they commit (or roll back) with the emergency itself.

Their own posts are planned as skipped ("announced with emergency N"): the emergency's post announces
them, and a driver hears of a flood once, not once per underpass. They are real closures otherwise:
queries, the map and the feeds show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from closures.emergency_models import Emergency, EmergencyClosure
from closures.lifecycle import Phase, phase_at
from closures.models import Closure, Municipality
from closures.playbooks import PlaybookView, drafts_for
from closures.service import Actor, ClosureService


def register(
    session: Session, service: ClosureService, muni: Municipality, row: Emergency,
    books: Sequence[PlaybookView], actor: Actor, now: datetime,
) -> list[Closure]:  # fmt: skip
    """Register the playbooks' closures for this version: from now until the emergency's expiry (or for
    the playbook's own duration)."""
    assert row.first_id is not None
    assert muni.id is not None
    out = []
    for book in books:
        for draft, follows in drafts_for(book, starts_at=now, ends_at=row.expires_at):
            quiet = f"announced with emergency {row.first_id}"
            closure = service.register(muni.id, draft, actor, session=session, quiet=quiet)
            assert closure.id is not None
            session.add(
                EmergencyClosure(
                    emergency_id=row.first_id, closure_id=closure.id, playbook_id=book.id,
                    version=row.version, follows_expiry=follows,
                )
            )  # fmt: skip
            out.append(closure)
    return out


def follow_expiry(
    session: Session,
    service: ClosureService,
    first_id: int,
    expires_at: datetime,
    actor: Actor,
    now: datetime,
) -> list[Closure]:
    """Move the end of every open closure that follows the emergency to its new expiry."""
    out = []
    quiet = f"changed with emergency {first_id}"
    for closure in _followers(session, first_id):
        if phase_at(closure, now) not in (Phase.SCHEDULED, Phase.ACTIVE) or closure.ends_at == expires_at:
            continue
        assert closure.id is not None
        if closure.ends_at is not None and expires_at > closure.ends_at:
            changed = service.extend(closure.id, expires_at, actor, session=session, quiet=quiet)
        else:
            changes = {"ends_at": expires_at}
            changed = service.update(
                closure.id, closure.version, changes, actor, session=session, quiet=quiet
            )
        out.append(changed)
    return out


def lift_followers(
    session: Session, service: ClosureService, first_id: int, actor: Actor, now: datetime
) -> list[Closure]:
    """Reopen the roads the emergency closed for its duration (cancel those not started yet)."""
    out = []
    quiet = f"ended with emergency {first_id}"
    for closure in _followers(session, first_id):
        assert closure.id is not None
        phase = phase_at(closure, now)
        if phase is Phase.ACTIVE:
            out.append(service.lift(closure.id, actor, session=session, quiet=quiet))
        elif phase is Phase.SCHEDULED:
            out.append(service.cancel(closure.id, actor, session=session, quiet=quiet))
    return out


def _followers(session: Session, first_id: int) -> list[Closure]:
    query = (
        select(Closure)
        .join(EmergencyClosure, col(EmergencyClosure.closure_id) == col(Closure.id))
        .where(
            col(EmergencyClosure.emergency_id) == first_id, col(EmergencyClosure.follows_expiry) == sa.true()
        )
        .order_by(col(Closure.id))
    )
    return list(session.exec(query))
