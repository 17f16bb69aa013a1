"""Register, update, extend, lift and cancel closures.

Every change is validated first, then written with its audit event and its outbox rows in ONE transaction,
bumping the closure's version and the store's change counter. Two staff editing the same version: the
second gets a ``ConflictError`` naming what changed meanwhile, and nothing of theirs is written.

After a write transaction commits, the service tells its after-commit listeners what it changed
(``closures.changes``): the bot wakes its outbox worker so that the posts just planned go out at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from closures import municipalities, rules
from closures.changes import AfterCommit, ClosureChange, Listeners
from closures.errors import ConflictError, NotFound, Refusal, ValidationError
from closures.lifecycle import Clock, Phase, phase_at, system_clock
from closures.models import Action, Closure, ClosureEvent, Municipality, PostEvent, Staff, Status
from closures.outbox import NO_DESTINATIONS, Destinations, plan_posts
from closures.rules import ClosureDraft
from closures.store import bump_change_counter, rows_matched, session_scope
from geo.parse import Limits


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a Telegram user (checked against Staff) or a trusted system path (CLI, import)."""

    name: str
    telegram_user_id: int | None = None

    @classmethod
    def telegram(cls, user_id: int) -> Actor:
        return cls(name=f"tg:{user_id}", telegram_user_id=user_id)

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(name=label)


EDITABLE = frozenset(f.name for f in fields(ClosureDraft)) - {"ref", "source"}
_CHANGES = "roadbot_closure_changes"  # session.info key: the changes of the transaction, told after commit


@dataclass
class ClosureService:
    """The only way closures change. Blocking (database); the bot calls it from a worker thread."""

    engine: Engine
    clock: Clock = system_clock
    destinations: Destinations = field(default_factory=lambda: dict(NO_DESTINATIONS))
    # per municipality (by slug), when set: where its posts go; ``destinations`` is then unused
    destinations_for: Callable[[str], Destinations] | None = None
    limits: Limits = field(default_factory=Limits)
    boundary_tolerance_m: float = 500.0
    max_past_start: timedelta = timedelta(hours=1)
    after_commit: Listeners = field(default_factory=Listeners)

    def add_listener(self, listener: AfterCommit) -> Callable[[], None]:
        """Tell ``listener`` of every write from now on (see ``closures.changes``); returns its remover."""
        return self.after_commit.add(listener)

    def register(
        self,
        municipality: str | int,
        draft: ClosureDraft,
        actor: Actor,
        *,
        allow_past_start: bool = False,
        session: Session | None = None,
        quiet: str | None = None,
    ) -> Closure:
        """Validate and store a new closure, its audit event and its announcement posts.

        ``session``: join the caller's transaction (an emergency registers its closures with itself)
        instead of committing one of its own. ``quiet``: the posts are planned as skipped, for that
        reason (the emergency's own post announces them), so that no follow-up is posted either.
        """
        now = self.clock()
        with self._writing(session) as session:
            muni = municipalities.by_key(session, municipality)
            self._authorise(session, muni, actor)
            values = self._checked(draft, muni, now, allow_past_start=allow_past_start)
            assert muni.id is not None  # read from the table
            closure = Closure(municipality_id=muni.id, created_by=actor.name, version=1, **values)
            closure.created_at = closure.updated_at = now
            session.add(closure)
            session.flush()
            self._record(session, closure, Action.REGISTERED, actor, now, before=None)
            plan_posts(
                session, closure, PostEvent.ANNOUNCED, now=now, destinations=self._targets(muni),
                skip_reason=quiet,
            )  # fmt: skip
            return closure

    def update(
        self,
        closure_id: int,
        expected_version: int,
        changes: Mapping[str, Any],
        actor: Actor,
        *,
        allow_past_start: bool = False,
        session: Session | None = None,
        quiet: str | None = None,
    ) -> Closure:
        """Change any editable fields; the whole closure is validated again as if new."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValidationError(Refusal.BAD_VALUE, field=sorted(unknown)[0], detail="not an editable field")
        now = self.clock()
        with self._writing(session) as session:
            closure, muni = self._load_for_change(session, closure_id, expected_version, actor)
            if phase_at(closure, now) in (Phase.LIFTED, Phase.CANCELLED):
                raise ValidationError(Refusal.NOT_OPEN, detail=closure.status)
            draft = replace(rules.draft_of(closure), **changes)
            past_ok = allow_past_start or "starts_at" not in changes
            values = self._checked(draft, muni, now, allow_past_start=past_ok)
            # past_ok spares a start already behind us, never a new end put in the past
            new_end = values["ends_at"] if "ends_at" in changes else None
            if not allow_past_start and new_end is not None and new_end <= now:
                raise ValidationError(Refusal.END_IN_PAST, field="ends_at")
            action = Action.UPDATED
            if set(changes) == {"ends_at"} and _later(values["ends_at"], closure.ends_at):
                action = Action.EXTENDED
            return self._apply(session, closure, values, action, actor, now, quiet=quiet)

    def extend(
        self,
        closure_id: int,
        new_end: datetime | None,
        actor: Actor,
        *,
        expected_version: int | None = None,
        session: Session | None = None,
        quiet: str | None = None,
    ) -> Closure:
        """Move the end later (a closure that runs longer than planned); None makes it open-ended."""
        now = self.clock()
        with self._writing(session) as session:
            closure, _ = self._load_for_change(session, closure_id, expected_version, actor)
            if phase_at(closure, now) not in (Phase.SCHEDULED, Phase.ACTIVE):
                raise ValidationError(Refusal.NOT_OPEN, detail=phase_at(closure, now).value)
            if not _later(new_end, closure.ends_at):
                raise ValidationError(Refusal.NOT_LATER, field="ends_at")
            if new_end is not None and new_end <= now:
                raise ValidationError(Refusal.END_IN_PAST, field="ends_at")
            values = {"ends_at": new_end}
            return self._apply(session, closure, values, Action.EXTENDED, actor, now, quiet=quiet)

    def lift(
        self,
        closure_id: int,
        actor: Actor,
        *,
        expected_version: int | None = None,
        session: Session | None = None,
        quiet: str | None = None,
    ) -> Closure:
        """Reopen the road now."""
        now = self.clock()
        with self._writing(session) as session:
            closure, _ = self._load_for_change(session, closure_id, expected_version, actor)
            phase = phase_at(closure, now)
            if phase is Phase.SCHEDULED:
                raise ValidationError(Refusal.NOT_STARTED, detail="cancel a closure that has not started")
            if phase is not Phase.ACTIVE:
                raise ValidationError(Refusal.NOT_OPEN, detail=phase.value)
            values = {"status": Status.LIFTED.value, "lifted_at": now}
            return self._apply(session, closure, values, Action.LIFTED, actor, now, quiet=quiet)

    def cancel(
        self,
        closure_id: int,
        actor: Actor,
        *,
        expected_version: int | None = None,
        session: Session | None = None,
        quiet: str | None = None,
    ) -> Closure:
        """Withdraw a closure that should never have been (or will not be) in force."""
        now = self.clock()
        with self._writing(session) as session:
            closure, _ = self._load_for_change(session, closure_id, expected_version, actor)
            phase = phase_at(closure, now)
            if phase not in (Phase.SCHEDULED, Phase.ACTIVE):
                raise ValidationError(Refusal.NOT_OPEN, detail=phase.value)
            values = {"status": Status.CANCELLED.value}
            return self._apply(session, closure, values, Action.CANCELLED, actor, now, quiet=quiet)

    def get(self, closure_id: int) -> Closure:
        with session_scope(self.engine) as session:
            closure = session.get(Closure, closure_id)
            if closure is None:
                raise NotFound("closure", closure_id)
            return closure

    def history(self, closure_id: int) -> list[ClosureEvent]:
        """The audit trail, oldest first."""
        with session_scope(self.engine) as session:
            self_check = session.get(Closure, closure_id)
            if self_check is None:
                raise NotFound("closure", closure_id)
            query = (
                select(ClosureEvent)
                .where(ClosureEvent.closure_id == closure_id)
                .order_by(col(ClosureEvent.id))
            )
            return list(session.exec(query))

    # -- internals -------------------------------------------------------------------------------------

    @contextmanager
    def _writing(self, joined: Session | None = None) -> Iterator[Session]:
        """One write transaction; once it has committed, the listeners hear what it changed.

        Joining the caller's session (``joined``), its transaction commits or rolls back everything, and
        the caller tells the listeners once it has committed (``take_changes``, then ``tell``).
        """
        if joined is not None:
            yield joined
            return
        with session_scope(self.engine, write=True) as session:
            yield session
            changes = self.take_changes(session)
        self.after_commit.tell(changes)

    def take_changes(self, session: Session) -> list[ClosureChange]:
        """The changes written in ``session`` so far, no longer kept there (tell them after the commit)."""
        changes: list[ClosureChange] = session.info.pop(_CHANGES, [])
        return changes

    def tell(self, changes: list[ClosureChange]) -> None:
        self.after_commit.tell(changes)

    def destinations_of(self, muni: Municipality) -> Destinations:
        """Where the municipality's posts go."""
        return self.destinations_for(muni.slug) if self.destinations_for else self.destinations

    _targets = destinations_of

    def _checked(
        self, draft: ClosureDraft, muni: Municipality, now: datetime, *, allow_past_start: bool
    ) -> dict[str, Any]:
        return rules.checked(
            draft,
            muni,
            now=now,
            limits=self.limits,
            allow_past_start=allow_past_start,
            max_past_start=self.max_past_start,
            tolerance_m=self.boundary_tolerance_m,
        )

    def _authorise(self, session: Session, muni: Municipality, actor: Actor) -> None:
        authorise(session, muni, actor)

    def _load_for_change(
        self, session: Session, closure_id: int, expected_version: int | None, actor: Actor
    ) -> tuple[Closure, Municipality]:
        closure = session.get(Closure, closure_id)
        if closure is None:
            raise NotFound("closure", closure_id)
        muni = session.get(Municipality, closure.municipality_id)
        assert muni is not None
        self._authorise(session, muni, actor)
        if expected_version is not None and closure.version != expected_version:
            raise _conflict(session, closure, expected_version)
        return closure, muni

    def _apply(
        self,
        session: Session,
        closure: Closure,
        values: Mapping[str, Any],
        action: Action,
        actor: Actor,
        now: datetime,
        *,
        quiet: str | None = None,
    ) -> Closure:
        before = rules.snapshot(closure)
        changed = {k: v for k, v in values.items() if getattr(closure, k) != v}
        if not changed:
            return closure
        read_version = closure.version
        # The version check lives in the UPDATE itself, so a concurrent writer cannot slip in between.
        result = session.execute(
            sa.update(Closure)
            .where(col(Closure.id) == closure.id, col(Closure.version) == read_version)
            .values(**changed, version=read_version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if rows_matched(result) != 1:
            raise _conflict(session, closure, read_version)
        session.expire(closure)
        session.refresh(closure)
        self._record(session, closure, action, actor, now, before=before)
        muni = session.get(Municipality, closure.municipality_id)
        assert muni is not None
        plan_posts(
            session, closure, _POST_FOR[action], now=now, destinations=self._targets(muni), skip_reason=quiet
        )
        return closure

    def _record(
        self,
        session: Session,
        closure: Closure,
        action: Action,
        actor: Actor,
        now: datetime,
        *,
        before: dict | None,
    ) -> None:
        assert closure.id is not None
        session.add(
            ClosureEvent(
                closure_id=closure.id,
                version=closure.version,
                action=action.value,
                actor=actor.name,
                at=now,
                before_json=json.dumps(before, ensure_ascii=False) if before is not None else None,
                after_json=json.dumps(rules.snapshot(closure), ensure_ascii=False),
            )
        )
        bump_change_counter(session)
        session.info.setdefault(_CHANGES, []).append(ClosureChange(closure.id, closure.version, action))


_POST_FOR = {
    Action.REGISTERED: PostEvent.ANNOUNCED,
    Action.UPDATED: PostEvent.UPDATED,
    Action.EXTENDED: PostEvent.EXTENDED,
    Action.LIFTED: PostEvent.LIFTED,
    Action.CANCELLED: PostEvent.CANCELLED,
}


def authorise(session: Session, muni: Municipality, actor: Actor) -> None:
    """Refuse (``NOT_AUTHORISED``) a Telegram user who is not active staff of the municipality."""
    if actor.telegram_user_id is None:
        return  # a system path (CLI, import) runs with the operator's own rights on the machine
    staff = session.exec(
        select(Staff).where(
            Staff.telegram_user_id == actor.telegram_user_id,
            Staff.municipality_id == muni.id,
            Staff.active == True,  # noqa: E712  (SQL expression, not a Python comparison)
        )
    ).first()
    if staff is None:
        raise ValidationError(Refusal.NOT_AUTHORISED, detail=f"{actor.name} is not staff of {muni.slug}")


def _later(new: datetime | None, old: datetime | None) -> bool:
    """Is ``new`` a later end than ``old``? An open end (None) is the latest of all."""
    if old is None:
        return False
    return new is None or new > old


def _conflict(session: Session, closure: Closure, expected: int) -> ConflictError:
    session.refresh(closure)
    assert closure.id is not None
    then = session.exec(
        select(ClosureEvent).where(ClosureEvent.closure_id == closure.id, ClosureEvent.version == expected)
    ).first()
    old = json.loads(then.after_json) if then else {}
    now = rules.snapshot(closure)
    changes = {
        k: (old.get(k), v) for k, v in now.items() if old.get(k) != v and k not in ("version", "updated_at")
    }
    return ConflictError(closure.id, expected, closure.version, changes)
