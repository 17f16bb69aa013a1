"""Declare, update and end emergencies — each a new version, audited, with its closures and posts in ONE
transaction.

Declaring validates the emergency (hazard, level, texts, expiry; the area clipped to the municipality,
the share cut off reported back), registers the closures of the playbooks it activates (starting now,
ending with the emergency unless the playbook says otherwise), writes the version, its audit event and its
outbox rows, and commits all of it at once: a failure anywhere leaves nothing behind. An update is a new
version referencing the first; closures that follow the emergency's expiry follow a new one, and newly
activated playbooks bring theirs. Ending is a last version (CAP Cancel): the closures that followed the
emergency are lifted (or cancelled, if not started); those with their own duration run on.

Only active staff of the municipality (or a system actor: the CLI, an import) may act. An exercise (CAP
status Test) registers no closures and reaches staff only. A draft (an imported alert) posts nothing until
a staff member confirms it. Blocking (database); the bot calls it from a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlmodel import Session

from closures import emergency_closures as brought
from closures import emergency_outbox, municipalities, reach, rules
from closures import emergency_versions as versions
from closures.emergency_models import (
    Emergency,
    EmergencyAction,
    EmergencyState,
    MessageType,
)
from closures.emergency_reads import EmergencyRecords
from closures.emergency_rules import (
    MAX_AREA_DESC,
    MAX_HEADLINE,
    MAX_INSTRUCTION,
    ClippedArea,
    cap_terms,
    check_expiry,
    clean_text,
    clip_area,
)
from closures.emergency_versions import EmergencyDraft, Issued, Plan
from closures.errors import EmergencyConflict, Refusal, ValidationError
from closures.models import Closure, Municipality
from closures.playbooks import PlaybookService, drafts_for
from closures.rules import ClosureDraft
from closures.service import Actor, ClosureService, authorise
from closures.store import bump_change_counter, session_scope

log = logging.getLogger(__name__)
_ISSUED = "roadbot_emergencies_issued"  # session.info key: the versions issued, told after commit


@dataclass
class EmergencyService(EmergencyRecords):
    """Declares, updates and ends emergencies (reading them: ``EmergencyRecords``)."""

    closures: ClosureService = field(kw_only=True)
    reach: reach.Reach = field(default_factory=reach.Reach, kw_only=True)

    def __post_init__(self) -> None:
        self._listeners: tuple[Callable[[Emergency], None], ...] = ()
        self.playbooks = PlaybookService(
            self.engine, clock=self.clock, limits=self.closures.limits,
            boundary_tolerance_m=self.closures.boundary_tolerance_m,
        )  # fmt: skip

    # -- reading -----------------------------------------------------------------------------------

    def plan(self, municipality: str | int, draft: EmergencyDraft, actor: Actor) -> Plan:
        """Validate a declaration and say what it would do, writing nothing."""
        now = self.clock()
        with session_scope(self.engine) as session:
            muni = municipalities.by_key(session, municipality)
            authorise(session, muni, actor)
            return self._plan(session, muni, draft, now, with_reach=True)

    # -- changing ----------------------------------------------------------------------------------

    def declare(self, municipality: str | int, draft: EmergencyDraft, actor: Actor) -> Issued:
        """Issue the first version, register its closures and plan its posts, all in one transaction."""
        now = self.clock()
        with self._writing() as session:
            muni = municipalities.by_key(session, municipality)
            authorise(session, muni, actor)
            plan = self._plan(session, muni, draft, now)
            row = _first_version(session, muni, draft, plan, actor, now, EmergencyState.ISSUED)
            return self._issue(session, muni, row, plan, actor, now, before=None)

    def draft(self, municipality: str | int, draft: EmergencyDraft, actor: Actor) -> Emergency:
        """Keep a validated declaration as a draft (an imported alert): nothing is posted or closed."""
        now = self.clock()
        with self._writing() as session:
            muni = municipalities.by_key(session, municipality)
            authorise(session, muni, actor)
            plan = self._plan(session, muni, replace(draft, playbooks=()), now)
            row = _first_version(session, muni, draft, plan, actor, now, EmergencyState.DRAFT)
            versions.audit(session, row, EmergencyAction.DRAFTED, actor, now, before=None)
            return row

    def confirm(self, draft_id: int, actor: Actor, *, playbooks: Sequence[str] = ()) -> Issued:
        """Issue a draft as it stands (with the playbooks chosen now): from here on it is a declaration."""
        now = self.clock()
        with self._writing() as session:
            row, muni = versions.draft_for_change(session, draft_id, actor)
            check_expiry(row.expires_at, now)
            draft = replace(versions.draft_of(row), playbooks=tuple(playbooks))
            plan = self._plan(session, muni, draft, now)
            versions.claim_draft(session, row, EmergencyState.ISSUED, now)
            row.sent_at = now
            return self._issue(session, muni, row, plan, actor, now, before=None)

    def discard(self, draft_id: int, actor: Actor) -> Emergency:
        now = self.clock()
        with self._writing() as session:
            row, _ = versions.draft_for_change(session, draft_id, actor)
            versions.claim_draft(session, row, EmergencyState.DISCARDED, now)
            versions.audit(session, row, EmergencyAction.DISCARDED, actor, now, before=None)
            return row

    def check_area(self, municipality: str | int, area: BaseGeometry) -> ClippedArea:
        """The area cut to the municipality (refused like a declaration would refuse it), at once."""
        with session_scope(self.engine) as session:
            muni = municipalities.by_key(session, municipality)
        boundary, projection = rules.boundary_of(muni)
        return clip_area(area, boundary, projection)

    def plan_update(self, first_id: int, changes: Mapping[str, Any], actor: Actor) -> Plan:
        """Validate an update and say what it would do (whom it would reach now), writing nothing."""
        now = self.clock()
        with session_scope(self.engine) as session:
            current, muni = self._for_change(session, first_id, None, actor, now)
            draft = versions.updated_draft(session, current, changes, now)
            return self._plan(session, muni, draft, now, check_times=False, with_reach=True)

    def update(
        self, first_id: int, changes: Mapping[str, Any], actor: Actor, *, expected_version: int | None = None
    ) -> Issued:
        """Issue a new version with ``changes`` (see ``EDITABLE``); earlier closures follow a new expiry."""
        now = self.clock()
        with self._writing() as session:
            current, muni = self._for_change(session, first_id, expected_version, actor, now)
            draft = versions.updated_draft(session, current, changes, now)
            plan = self._plan(session, muni, draft, now, check_times=False)
            row = versions.new_version(
                muni,
                draft,
                plan.area,
                plan.descs,
                actor,
                now,
                msg_type=MessageType.UPDATE,
                state=EmergencyState.ISSUED,
            )
            row.first_id, row.version, row.exercise = first_id, current.version + 1, current.exercise
            if not {"area", "area_from"} & set(changes):  # the same area, exactly as it was
                for name in versions.AREA_COLUMNS:
                    setattr(row, name, getattr(current, name))
            session.add(row)
            session.flush()
            versions.supersede(session, current, row)
            changed = (
                brought.follow_expiry(session, self.closures, first_id, row.expires_at, actor, now)
                if row.expires_at != current.expires_at
                else ()
            )
            issued = self._issue(session, muni, row, plan, actor, now, before=current)
            return replace(issued, changed=tuple(changed))

    def end(self, first_id: int, actor: Actor, *, expected_version: int | None = None) -> Issued:
        """Issue the last version (CAP Cancel); lift the closures that followed the emergency."""
        now = self.clock()
        with self._writing() as session:
            current, muni = self._for_change(session, first_id, expected_version, actor, now)
            row = Emergency(**versions.copied(current), identifier=versions.identifier(muni, now))
            row.version, row.msg_type, row.sent_at = current.version + 1, MessageType.CANCEL.value, now
            row.created_by, row.created_at, row.updated_at = actor.name, now, now
            session.add(row)
            session.flush()
            versions.supersede(session, current, row)
            changed = brought.lift_followers(session, self.closures, first_id, actor, now)
            versions.audit(session, row, EmergencyAction.ENDED, actor, now, before=current)
            emergency_outbox.plan_version(
                session, row, now=now, destinations=self.closures.destinations_of(muni)
            )
            bump_change_counter(session)
            session.info.setdefault(_ISSUED, []).append(row)
            return Issued(row, changed=tuple(changed))

    def add_listener(self, listener: Callable[[Emergency], None]) -> Callable[[], None]:
        """Tell ``listener`` of every version issued from now on, after its commit (the bot wakes its
        outbox worker); returns its remover."""
        self._listeners = (*self._listeners, listener)

        def remove() -> None:
            self._listeners = tuple(known for known in self._listeners if known is not listener)

        return remove

    def tell(self, row: Emergency) -> None:
        """Tell the listeners of a write about ``row`` committed elsewhere: a CAP import's notices to staff,
        planned in the outbox with the message they are about (``closures.cap_records``)."""
        for listener in self._listeners:
            try:
                listener(row)
            except Exception:  # best effort (waking a worker): the write stands
                log.exception("emergency listener %r failed", listener)

    # -- internals ---------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction; once it has committed, the closures' listeners hear of the closures it
        changed, and ours of the version it issued (nothing is told of a transaction rolled back)."""
        with session_scope(self.engine, write=True) as session:
            yield session
            changes = self.closures.take_changes(session)
            issued = session.info.pop(_ISSUED, [])
        self.closures.tell(changes)
        for row in issued:
            self.tell(row)

    def _plan(
        self,
        session: Session,
        muni: Municipality,
        draft: EmergencyDraft,
        now: datetime,
        *,
        check_times: bool = True,
        with_reach: bool = False,
    ) -> Plan:
        cap_terms(draft.hazard, draft.level)  # checks both choices
        if check_times:
            check_expiry(draft.expires_at, now)
        for name, limit in (("headline", MAX_HEADLINE), ("instruction", MAX_INSTRUCTION)):
            for lang in ("ar", "en"):
                clean_text(f"{name}_{lang}", getattr(draft, f"{name}_{lang}"), limit)
        assert muni.id is not None
        books = tuple(self.playbooks.get(muni.id, slug) for slug in dict.fromkeys(draft.playbooks))
        boundary, projection = rules.boundary_of(muni)
        area = versions.area_of(draft, books, boundary)
        clipped = clip_area(area, boundary, projection)
        desc = {}
        for lang in ("ar", "en"):
            given = clean_text(
                f"area_desc_{lang}", getattr(draft, f"area_desc_{lang}"), MAX_AREA_DESC, required=False
            )
            desc[lang] = given or versions.default_desc(lang, muni, books, draft.area_from)
        closures: tuple[ClosureDraft, ...] = ()
        if not draft.exercise:
            closures = tuple(
                d for book in books for d, _ in drafts_for(book, starts_at=now, ends_at=draft.expires_at)
            )
        count = None  # counted for a preview only: declaring holds the write lock meanwhile
        if with_reach:
            count = reach.count(
                session, clipped.geometry, municipality_id=muni.id or 0, exercise=draft.exercise, now=now,
                reach=self.reach,
            )  # fmt: skip
        return Plan(clipped, desc["ar"], desc["en"], books, closures, count, draft, muni)

    def _issue(
        self, session: Session, muni: Municipality, row: Emergency, plan: Plan, actor: Actor, now: datetime,
        *, before: Emergency | None,
    ) -> Issued:  # fmt: skip
        """Register the plan's closures, audit the version and plan its posts (in the caller's session)."""
        registered: list[Closure] = []
        if not row.exercise:
            registered = brought.register(session, self.closures, muni, row, plan.playbooks, actor, now)
        action = EmergencyAction.DECLARED if before is None else EmergencyAction.UPDATED
        versions.audit(session, row, action, actor, now, before=before)
        emergency_outbox.plan_version(session, row, now=now, destinations=self.closures.destinations_of(muni))
        bump_change_counter(session)
        session.flush()
        session.info.setdefault(_ISSUED, []).append(row)
        return Issued(row, tuple(registered))

    def _for_change(
        self, session: Session, first_id: int, expected: int | None, actor: Actor, now: datetime
    ) -> tuple[Emergency, Municipality]:
        current = versions.current(session, first_id)
        muni = session.get(Municipality, current.municipality_id)
        assert muni is not None
        authorise(session, muni, actor)
        if expected is not None and current.version != expected:
            raise EmergencyConflict(first_id, expected, current.version)
        if current.msg_type == MessageType.CANCEL.value:
            raise ValidationError(Refusal.ALREADY_ENDED, detail="ended")
        if current.expires_at <= now:
            raise ValidationError(Refusal.ALREADY_ENDED, detail="expired")
        return current, muni


def _first_version(
    session: Session,
    muni: Municipality,
    draft: EmergencyDraft,
    plan: Plan,
    actor: Actor,
    now: datetime,
    state: EmergencyState,
) -> Emergency:
    """Version 1 of a new emergency (declared, or kept as a draft), added and flushed: its own first."""
    row = versions.new_version(
        muni, draft, plan.area, plan.descs, actor, now, msg_type=MessageType.ALERT, state=state
    )
    session.add(row)
    session.flush()
    row.first_id = row.id
    return row
