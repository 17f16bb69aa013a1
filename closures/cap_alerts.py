"""Emergencies as CAP 1.2 messages: one ``<alert>`` per issued version, and which of them the feed lists.

Every issued version of an emergency is one CAP message, its ``identifier`` the version's own (fixed when
the version was written). The first is an Alert; an update is an Update and the end a Cancel, each with
``references`` naming every earlier issued version (sender, identifier, sent). Drafts and discarded drafts
never went out, so they are neither messages nor references. An exercise is ``status`` Test, anything
else Actual; ``scope`` is always Public.

Each message has one ``<info>`` per language (``ar-SA``, then ``en-US``) with the version's own category,
severity, urgency, certainty and response (derived from the Saudi four-level scale when the version was
written), headline and instruction; the event name comes from the caller (the bot's catalogues: words for
people live there). An emergency confirmed from a partner's alert carries that alert's description. The
area is the version's, as few-vertex polygons inside the municipality (``geo.outline``): a multi-polygon
becomes several ``<polygon>``\\ s of one ``<area>``, whose ``areaDesc`` is cut under 50 characters.

The feed (:func:`cap_snapshot`) lists, per emergency, its latest issued message while the emergency is in
force, and its Cancel for a day after the end (so a consumer polling the feed sees the withdrawal instead
of guessing from an absence). Blocking (database): callers use a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from closures.cap_models import CapMessage
from closures.emergency_models import Emergency, EmergencyState, MessageType
from closures.formats.cap import (
    DECIMALS,
    CapAlert,
    CapArea,
    CapInfo,
    CapReference,
    CapStatus,
    MsgType,
    short_text,
)
from closures.formats.common import FeedMunicipality
from closures.models import Municipality
from closures.store import change_counter, session_scope
from geo.outline import outlines_within

CANCEL_LISTED_FOR = timedelta(hours=24)
LANGUAGES = (("ar", "ar-SA"), ("en", "en-US"))
_MSG_TYPES = {
    MessageType.ALERT: MsgType.ALERT,
    MessageType.UPDATE: MsgType.UPDATE,
    MessageType.CANCEL: MsgType.CANCEL,
}
EventName = Callable[[str, str], str]  # (hazard, language "ar" | "en") -> the event's name in that language


@dataclass(frozen=True, slots=True)
class CapSeries:
    """One emergency's issued versions, oldest first, with what its messages need besides them."""

    versions: tuple[Emergency, ...]
    municipality: FeedMunicipality
    boundary_geojson: str
    descriptions: tuple[str | None, str | None] = (
        None,
        None,
    )  # a partner alert's (ar, en), if confirmed from one

    @property
    def current(self) -> Emergency:
        return self.versions[-1]


@dataclass(frozen=True, slots=True)
class CapSnapshot:
    """What the CAP feed lists, read once per change of the store (see ``closures.feeds.FeedCache``)."""

    series: list[CapSeries]
    counter: int
    as_of: datetime  # the latest message sent, or the latest expiry passed: from the data alone
    taken_at: datetime
    valid_until: datetime | None  # the next expiry among the listed: the listing changes then

    def find(self, identifier: str) -> tuple[CapSeries, int] | None:
        """The series holding the message ``identifier`` and its position, if it is listed."""
        for series in self.series:
            for i, version in enumerate(series.versions):
                if version.identifier == identifier:
                    return series, i
        return None


def alert_of(series: CapSeries, position: int, *, sender: str, web: str, event_name: EventName) -> CapAlert:
    """The CAP message of ``series.versions[position]``."""
    version = series.versions[position]
    tz = series.municipality.timezone
    assert version.sent_at is not None  # issued versions have been sent
    sent = version.sent_at.astimezone(tz)
    area = _area_polygons(version.area_geojson, series.boundary_geojson)
    infos = []
    for (lang, language), description in zip(LANGUAGES, series.descriptions, strict=True):
        infos.append(
            CapInfo(
                language=language,
                categories=(version.cap_category,),
                event=event_name(version.hazard, lang),
                response_types=(version.cap_response,),
                urgency=version.cap_urgency,
                severity=version.cap_severity,
                certainty=version.cap_certainty,
                effective=sent,
                expires=max(version.expires_at, version.sent_at).astimezone(tz),
                sender_name=getattr(series.municipality, f"name_{lang}"),
                headline=getattr(version, f"headline_{lang}"),
                description=description,
                instruction=getattr(version, f"instruction_{lang}"),
                web=web,
                areas=(CapArea(short_text(getattr(version, f"area_desc_{lang}")), area),),
            )
        )
    return CapAlert(
        identifier=version.identifier,
        sender=sender,
        sent=sent,
        status=CapStatus.TEST if version.exercise else CapStatus.ACTUAL,
        msg_type=_MSG_TYPES[MessageType(version.msg_type)],
        references=tuple(
            CapReference(sender, v.identifier, v.sent_at.astimezone(tz))
            for v in series.versions[:position]
            if v.sent_at is not None
        ),
        infos=tuple(infos),
    )


@lru_cache(maxsize=256)
def _area_polygons(area_geojson: str, boundary_geojson: str) -> tuple[Polygon, ...]:
    """The area as CAP polygons inside the boundary, at the precision written on the wire (so the values
    are what a reader gets back); cached: every version of a series and every rebuild asks again."""
    area: BaseGeometry = shapely.from_geojson(area_geojson)
    outlines = outlines_within(area, shapely.from_geojson(boundary_geojson))
    rounded = [shapely.make_valid(shapely.transform(p, _on_the_wire)) for p in outlines]
    # rounding a thin corner can make a ring touch itself: made valid, it is then one or more polygons
    return tuple(p for shape in rounded for p in getattr(shape, "geoms", [shape]) if isinstance(p, Polygon))


def _on_the_wire(coords: np.ndarray) -> np.ndarray:
    return np.array([[float(f"{v:.{DECIMALS}f}") for v in row] for row in coords.tolist()])


def cap_snapshot(engine: Engine, now: datetime) -> CapSnapshot:
    """The series the feed lists: in force, or ended by a Cancel less than a day ago."""
    counter = change_counter(engine)  # first: a write landing during the read moves it again
    with session_scope(engine) as session:
        issued = session.exec(
            select(Emergency)
            .where(Emergency.state == EmergencyState.ISSUED.value)
            .order_by(col(Emergency.first_id), col(Emergency.version))
        ).all()
        by_series: dict[int, list[Emergency]] = {}
        for version in issued:
            by_series.setdefault(version.first_id or version.id or 0, []).append(version)
        listed = {k: v for k, v in by_series.items() if _listed(v[-1], now)}
        munis = {m.id: m for m in session.exec(select(Municipality))}
        descriptions = _descriptions(session, list(listed))
    series = [
        CapSeries(
            tuple(versions),
            _feed_municipality(munis[versions[0].municipality_id]),
            munis[versions[0].municipality_id].boundary_geojson,
            descriptions.get(first, (None, None)),
        )
        for first, versions in sorted(listed.items())
    ]
    moments = [v.sent_at for s in series for v in s.versions if v.sent_at is not None]
    moments += [v[-1].expires_at for v in by_series.values() if v[-1].expires_at <= now]
    ends = [_listed_until(s.current) for s in series]
    return CapSnapshot(
        series,
        counter,
        max(moments, default=datetime(1970, 1, 1, tzinfo=now.tzinfo)),
        now,
        min(ends, default=None),
    )


def cap_series_of(engine: Engine, identifier: str) -> tuple[CapSeries, int] | None:
    """The series of the issued message ``identifier`` (listed or not) and its position; None if unknown."""
    with session_scope(engine) as session:
        version = session.exec(select(Emergency).where(Emergency.identifier == identifier)).first()
        if version is None or version.state != EmergencyState.ISSUED.value:
            return None
        first = version.first_id or version.id
        versions = session.exec(
            select(Emergency)
            .where(Emergency.first_id == first, Emergency.state == EmergencyState.ISSUED.value)
            .order_by(col(Emergency.version))
        ).all()
        muni = session.get(Municipality, version.municipality_id)
        assert muni is not None
        assert first is not None
        descriptions = _descriptions(session, [first]).get(first, (None, None))
    series = CapSeries(tuple(versions), _feed_municipality(muni), muni.boundary_geojson, descriptions)
    return series, [v.identifier for v in versions].index(identifier)


def _listed(current: Emergency, now: datetime) -> bool:
    return now < _listed_until(current)


def _listed_until(current: Emergency) -> datetime:
    if current.msg_type == MessageType.CANCEL.value:
        assert current.sent_at is not None
        return current.sent_at + CANCEL_LISTED_FOR
    return current.expires_at


def _descriptions(session: sa.orm.Session, firsts: Sequence[int]) -> dict[int, tuple[str | None, str | None]]:
    """The latest partner description of each series confirmed from an imported alert."""
    if not firsts:
        return {}
    rows = session.execute(
        sa.select(
            col(CapMessage.emergency_id), col(CapMessage.description_ar), col(CapMessage.description_en)
        )
        .where(col(CapMessage.emergency_id).in_(firsts))
        .order_by(col(CapMessage.sent))
    ).all()
    return {int(first): (ar, en) for first, ar, en in rows if first is not None}


def _feed_municipality(muni: Municipality) -> FeedMunicipality:
    return FeedMunicipality(muni.slug, muni.name_ar, muni.name_en, ZoneInfo(muni.timezone))
