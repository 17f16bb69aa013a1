"""Partners' CAP alerts applied to the registry: drafts for staff to confirm, never publications.

For each message (``closures.formats.cap_read`` reads them), by CAP ``msgType``:

* **Alert**: in each municipality its area (polygons, circles) meets, a *draft* emergency of that
  municipality (``EmergencyService.draft``: clipped to the boundary, nothing posted, nothing closed), and
  a direct message to the municipality's staff through the outbox, naming the playbooks whose areas it
  touches, with Confirm and Dismiss. An area that meets no municipality is reported and drafts nothing;
  an alert read after its own expiry drafts nothing either.
* **Update**: its ``references`` name earlier messages read here. A draft is replaced by one with the
  update's content (the old one discarded, the staff told again); an emergency already confirmed from it
  is left as it is and its staff are told, since only they decide what the public hears.
* **Cancel**: a draft is withdrawn (discarded, the staff told); for an emergency already confirmed from
  it, the staff are told and offered a one-tap End — it is never ended on its own.

An Update or Cancel whose references name nothing read here, or that is expired already, is refused in
the report. The same message again (same sender and identifier) writes nothing: importing a feed twice
is harmless, and two processes polling one feed draft once (the table's unique key decides; the loser
discards its draft). Every import also drops the drafts whose source alert expired meanwhile. Only status
Actual and Exercise are drafted (an Exercise as an exercise); Test, System and Draft messages are
reported and left alone. Blocking (database): async callers use a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from closures import cap_records as records
from closures.cap_drafts import DRAFTED_STATUSES, DraftContent, draft_content
from closures.cap_models import CapOutcome
from closures.cap_records import Notice, Record
from closures.emergencies import EmergencyService
from closures.emergency_models import AreaSource, Emergency, EmergencyState
from closures.emergency_versions import EmergencyDraft, is_active
from closures.errors import ClosureError
from closures.formats.cap import CapAlert, MsgType
from closures.models import Municipality
from closures.service import Actor
from geo.errors import GeometryError

IMPORT_ACTOR = Actor.system("cap-import")
EXPIRY_ACTOR = Actor.system("cap-expiry")


@dataclass
class CapImportReport:
    drafted: int = 0
    replaced: int = 0
    withdrawn: int = 0
    expired: int = 0  # drafts dropped as their source expired, and alerts read after their expiry (``late``)
    noted: int = 0  # updates and cancels of alerts confirmed (or dismissed) here: nothing changed
    unchanged: int = 0  # read here before
    outside: list[dict[str, str]] = field(default_factory=list)  # {"alert", "area"}: met no municipality
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"alert", "error"}
    late: list[dict[str, str]] = field(default_factory=list)  # {"alert", "expired"}: read after its expiry

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def changed(self) -> bool:
        return bool(self.drafted or self.replaced or self.withdrawn or self.expired or self.noted)

    def refuse(self, alert: CapAlert, error: str) -> None:
        self.rejected.append({"alert": f"{alert.sender} {alert.identifier}", "error": error})


@dataclass
class CapImporter:
    """Applies CAP messages through the emergency service. ``admins`` are told as well as the staff;
    ``only`` (a municipality's slug) limits the drafts to that municipality (a national feed followed by one
    city)."""

    emergencies: EmergencyService
    admins: Sequence[int] = ()
    only: str | None = None

    def apply(
        self,
        alerts: Sequence[CapAlert],
        *,
        source: str,
        actor: Actor = IMPORT_ACTOR,
        progress: Callable[[Iterable[CapAlert], int], Iterable[CapAlert]] | None = None,
    ) -> CapImportReport:
        """Apply ``alerts``, oldest first (an Update after its Alert); ``source`` labels their drafts."""
        report = CapImportReport()
        report.expired += self.drop_expired_drafts()
        ordered = sorted(alerts, key=lambda a: a.sent)
        for alert in progress(ordered, len(ordered)) if progress else ordered:
            try:
                self._one(alert, source, actor, report)
            except (ClosureError, GeometryError) as exc:
                report.refuse(alert, str(exc))
        return report

    def drop_expired_drafts(self) -> int:
        """Discard the drafts of imported alerts whose expiry has passed; how many."""
        dropped = 0
        for draft_id in records.expired_drafts(self.emergencies.engine, self.emergencies.clock()):
            try:
                self.emergencies.discard(draft_id, EXPIRY_ACTOR)
                dropped += 1
            except ClosureError:  # confirmed or dismissed a moment ago by staff: theirs to keep
                continue
        return dropped

    def _one(self, alert: CapAlert, source: str, actor: Actor, report: CapImportReport) -> None:
        if alert.status not in DRAFTED_STATUSES:
            report.refuse(alert, f"status {alert.status.value}: not for action")
        elif alert.msg_type not in (MsgType.ALERT, MsgType.UPDATE, MsgType.CANCEL):
            report.refuse(alert, f"a CAP {alert.msg_type.value} is not an alert")
        elif records.known(self.emergencies.engine, alert):
            report.unchanged += 1
        elif alert.msg_type is MsgType.ALERT:
            self._alert(alert, source, actor, report)
        elif alert.expires is not None and alert.expires <= self.emergencies.clock():
            report.refuse(
                alert, f"{alert.msg_type.value} expired at {alert.expires.isoformat()}, before it was read"
            )
        else:
            self._follow_up(alert, source, actor, report)

    def _alert(self, alert: CapAlert, source: str, actor: Actor, report: CapImportReport) -> None:
        if not alert.infos:
            report.refuse(alert, "no <info>: nothing to draft")
            return
        content = draft_content(alert)
        if content.expires_at <= self.emergencies.clock():
            report.expired += 1
            name = f"{alert.sender} {alert.identifier}"
            report.late.append({"alert": name, "expired": content.expires_at.isoformat()})
            return
        if content.area.is_empty:
            report.refuse(alert, "no <polygon> or <circle>: an area given by geocodes alone is not matched")
            return
        munis = self._meeting(content.area)
        if not munis:
            names = "; ".join(a.description for a in alert.infos[0].areas if a.description)
            report.outside.append({"alert": f"{alert.sender} {alert.identifier}", "area": names or "-"})
            return
        for muni in munis:
            made = self._draft(muni, alert, content, source, actor, report)
            if made is None:
                continue
            draft, new = made
            thread = records.thread_of(alert)
            books = self._playbooks(muni, draft)
            entry = Record(alert, thread, muni, draft, CapOutcome.DRAFTED, content, Notice.DRAFTED, books)
            if self._record(entry, made_here=new):
                report.drafted += 1

    def _follow_up(self, alert: CapAlert, source: str, actor: Actor, report: CapImportReport) -> None:
        thread, earlier = records.referenced(self.emergencies.engine, alert)
        if not earlier:
            refs = " ".join(f"{r.sender},{r.identifier}" for r in alert.references) or "none"
            report.refuse(alert, f"its references ({refs}) name no alert read here")
            return
        content = draft_content(alert) if alert.infos and alert.msg_type is MsgType.UPDATE else None
        for muni, first_id in earlier:
            head = records.emergency_row(self.emergencies.engine, first_id)
            if head.state == EmergencyState.DRAFT.value:
                self._follow_draft(alert, thread, muni, head, content, source, actor, report)
                continue
            notice = None
            if head.state == EmergencyState.ISSUED.value:
                head = self.emergencies.current(first_id)
                if is_active(head, self.emergencies.clock()):
                    cancelled = alert.msg_type is MsgType.CANCEL
                    notice = Notice.SOURCE_CANCELLED if cancelled else Notice.SOURCE_UPDATED
            if self._record(Record(alert, thread, muni, head, CapOutcome.NOTED, content, notice)):
                report.noted += 1

    def _follow_draft(
        self,
        alert: CapAlert,
        thread: str,
        muni: Municipality,
        draft: Emergency,
        content: DraftContent | None,
        source: str,
        actor: Actor,
        report: CapImportReport,
    ) -> None:
        """An Update replaces a draft (unless its area left the municipality); a Cancel withdraws it."""
        assert draft.id is not None
        stays = content is not None and muni.slug in {m.slug for m in self._meeting(content.area)}
        self.emergencies.discard(draft.id, actor)
        if not stays:
            if self._record(
                Record(alert, thread, muni, draft, CapOutcome.WITHDRAWN, content, Notice.WITHDRAWN)
            ):
                report.withdrawn += 1
            return
        assert content is not None
        made = self._draft(muni, alert, content, source, actor, report)
        if made is None:
            return
        replacement, new = made
        books = self._playbooks(muni, replacement)
        entry = Record(alert, thread, muni, replacement, CapOutcome.REPLACED, content, Notice.REPLACED, books)
        if self._record(entry, made_here=new):
            report.replaced += 1

    def _draft(
        self,
        muni: Municipality,
        alert: CapAlert,
        content: DraftContent,
        source: str,
        actor: Actor,
        report: CapImportReport,
    ) -> tuple[Emergency, bool] | None:
        """The draft for ``alert`` in ``muni`` and whether this call made it; None if refused (reported)."""
        existing = records.draft_by_source(self.emergencies.engine, muni, alert)
        if existing is not None:  # drafted by an import that stopped before recording it, or racing us
            return existing, False
        draft = EmergencyDraft(
            hazard=content.hazard,
            level=content.level,
            headline_ar=content.headline_ar,
            headline_en=content.headline_en,
            instruction_ar=content.instruction_ar,
            instruction_en=content.instruction_en,
            expires_at=content.expires_at,
            area=content.area,
            area_from=AreaSource.IMPORTED.value,
            area_desc_ar=content.area_desc_ar,
            area_desc_en=content.area_desc_en,
            exercise=content.exercise,
            source=source[:120],
            source_sender=alert.sender[:200],
            source_identifier=alert.identifier[:200],
            source_sent=alert.sent,
        )
        try:
            return self.emergencies.draft(muni.slug, draft, actor), True
        except (ClosureError, GeometryError) as exc:
            report.refuse(alert, f"{muni.slug}: {exc}")
            return None

    def _meeting(self, area: BaseGeometry) -> list[Municipality]:
        munis = records.meeting(self.emergencies.engine, area)
        return [m for m in munis if self.only is None or m.slug == self.only]

    def _playbooks(self, muni: Municipality, draft: Emergency) -> tuple[str, ...]:
        area = shapely.from_geojson(draft.area_geojson)
        return tuple(book.slug for book in self.emergencies.playbooks.touching(muni.slug, area))

    def _record(self, entry: Record, *, made_here: bool = False) -> bool:
        engine, now = self.emergencies.engine, self.emergencies.clock()
        done = records.record(engine, entry, now=now, admins=self.admins)
        if done and entry.notice is not None:
            self.emergencies.tell(entry.emergency)  # the bot's outbox worker sends the notices at once
        if not done and made_here:
            # another process recorded this message first; unless it found and recorded our draft, it had
            # one of its own, and ours goes
            kept = records.recorded_emergency(engine, entry.alert, entry.municipality)
            first_id = entry.emergency.first_id or entry.emergency.id
            if kept != first_id:
                assert entry.emergency.id is not None
                self.emergencies.discard(entry.emergency.id, IMPORT_ACTOR)
        return done
