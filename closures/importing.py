"""Closures read from a file or a partner's feed, applied to the registry through ``ClosureService``.

Each item is matched to a stored closure by ``ref`` within its municipality:

* no match: registered (announced like any new closure), unless the feed says it is already lifted or
  cancelled, when it is skipped;
* a match whose fields differ: updated (audit + outbox like any edit); the same fields: left alone, so
  importing the same feed again writes nothing, no audit event and no post. A field the feed does not
  give (a point's radius) keeps its stored value;
* a match the feed marks lifted or cancelled: lifted if it is active, cancelled if it has not started;
* a match already lifted or cancelled here stays so (an import never reopens a road).

With ``prune_source`` (partner polling; ``roadbot import --prune``) the feed is the whole truth for that
source: an open closure of that source and municipality that the feed no longer lists is lifted (active)
or cancelled (not started yet). Only a feed that was read whole prunes; an unreadable one changes nothing.

One item the service refuses (outside the municipality, an end before its start…) is reported in
``rejected`` and the others are still applied. Blocking (database): async callers use a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import sqlalchemy.exc
from sqlmodel import select

from closures.errors import ClosureError, Refusal, ValidationError
from closures.formats.cifs import read_incidents
from closures.formats.geojson import ImportedClosure, read_closures
from closures.formats.wzdx import read_work_zone_feed
from closures.lifecycle import Phase, phase_at
from closures.models import Closure, Municipality, Status
from closures.rules import ClosureDraft, geometry_of
from closures.service import Actor, ClosureService
from closures.store import session_scope
from geo.errors import GeometryError

FORMATS = ("geojson", "wzdx", "cifs")
READERS = {"geojson": read_closures, "wzdx": read_work_zone_feed, "cifs": read_incidents}


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    lifted: int = 0
    cancelled: int = 0
    skipped: int = 0  # over already (lifted or cancelled in the feed) and never seen here
    removed: int = 0  # no longer in the partner's feed: lifted or cancelled here
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"ref", "error"}

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.lifted or self.cancelled or self.removed)


def apply_import(
    service: ClosureService,
    items: Sequence[ImportedClosure],
    actor: Actor,
    *,
    default_municipality: str | None = None,
    municipality: str | None = None,
    source: str | None = None,
    prune_source: str | None = None,
    progress: Callable[[Iterable[ImportedClosure], int], Iterable[ImportedClosure]] | None = None,
) -> ImportReport:
    """Apply ``items``; ``municipality`` overrides what they name, ``default_municipality`` fills it in.

    ``source`` replaces each draft's own source (a partner's label, so its closures can be told apart).
    """
    report = ImportReport()
    seen: dict[str, set[str]] = {}
    for item in progress(items, len(items)) if progress else items:
        slug = municipality or item.municipality or default_municipality
        ref = item.draft.ref or ""
        if slug is None:
            report.rejected.append({"ref": ref, "error": "names no municipality"})
            continue
        seen.setdefault(slug, set()).add(ref)
        draft = replace(item.draft, source=source) if source else item.draft
        try:
            _apply_one(service, slug, draft, item.status, actor, report, only_source=prune_source)
        except (ClosureError, GeometryError) as exc:
            report.rejected.append({"ref": ref, "error": str(exc)})
        except sqlalchemy.exc.IntegrityError:
            # another process registered the same ref a moment ago (two pollers over one database)
            report.rejected.append({"ref": ref, "error": "registered meanwhile by another process"})
    if prune_source is not None:
        defaults: set[str] = {default_municipality} if default_municipality else set()
        for slug in {municipality} if municipality else set(seen) | defaults:
            _prune(service, slug, prune_source, seen.get(slug, set()), actor, report)
    return report


def _apply_one(
    service: ClosureService,
    slug: str,
    draft: ClosureDraft,
    status: str,
    actor: Actor,
    report: ImportReport,
    *,
    only_source: str | None,
) -> None:
    existing = _by_ref(service, slug, draft.ref) if draft.ref else None
    if existing is not None and only_source is not None and existing.source != only_source:
        raise ValidationError(
            Refusal.BAD_VALUE, field="ref", detail=f"taken here by source {existing.source}"
        )
    over = status in (Status.LIFTED, Status.CANCELLED)
    if existing is None:
        if over:
            report.skipped += 1
            return
        service.register(slug, draft, actor, allow_past_start=True)
        report.added += 1
        return
    if existing.status != Status.OPEN:
        report.unchanged += 1
        return
    if over:
        counter = _end(service, existing, actor, status)
        setattr(report, counter, getattr(report, counter) + 1)
        return
    changes = {
        name: value
        for name, value in _draft_values(draft).items()
        if not (name == "radius_m" and value is None) and _differs(existing, name, value)
    }
    if not changes:
        report.unchanged += 1
        return
    assert existing.id is not None
    after = service.update(existing.id, existing.version, changes, actor, allow_past_start=True)
    if after.version != existing.version:
        report.updated += 1
    else:
        report.unchanged += 1  # the differences were only of form (spaces around a title, say)


def _end(service: ClosureService, closure: Closure, actor: Actor, status: str) -> str:
    """Lift an active closure, cancel one not started; which counter of the report that moves."""
    assert closure.id is not None
    phase = phase_at(closure, service.clock())
    if phase is Phase.ACTIVE and status == Status.LIFTED:
        service.lift(closure.id, actor, expected_version=closure.version)
        return "lifted"
    if phase in (Phase.ACTIVE, Phase.SCHEDULED):
        service.cancel(closure.id, actor, expected_version=closure.version)
        return "cancelled"
    return "unchanged"  # ended by its own time already


def _prune(
    service: ClosureService, slug: str, source: str, listed: set[str], actor: Actor, report: ImportReport
) -> None:
    now = service.clock()
    with session_scope(service.engine) as session:
        rows = session.exec(
            select(Closure)
            .join(Municipality)
            .where(Municipality.slug == slug, Closure.source == source, Closure.status == Status.OPEN.value)
        ).all()
    for closure in rows:
        if closure.ref in listed or phase_at(closure, now) not in (Phase.ACTIVE, Phase.SCHEDULED):
            continue
        try:
            _end(service, closure, actor, Status.LIFTED.value)
            report.removed += 1
        except ClosureError as exc:
            report.rejected.append({"ref": closure.ref or "", "error": f"not lifted: {exc}"})


def _by_ref(service: ClosureService, slug: str, ref: str) -> Closure | None:
    with session_scope(service.engine) as session:
        query = select(Closure).join(Municipality).where(Municipality.slug == slug, Closure.ref == ref)
        return session.exec(query).first()


def _draft_values(draft: ClosureDraft) -> dict[str, Any]:
    return {f.name: getattr(draft, f.name) for f in fields(draft) if f.name not in ("ref", "source")}


def _differs(closure: Closure, name: str, value: Any) -> bool:
    if name == "geometry":
        return not geometry_of(closure).equals_exact(value, 1e-9)
    return getattr(closure, name) != value
