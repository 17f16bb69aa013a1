"""Subscriber alerts: which saved places and routes a closure affects, queued as one outbox row per driver.

A closure's "alerts" row (planned with its announced and started posts) is expanded here, when the worker
takes it: every active subscription whose place lies within its radius of the closure, or whose route
passes within its radius, yields one ``alert:<user>`` row — one per driver (their nearest subscription),
nearest first — in the same transaction that marks the "alerts" row done. Keys are idempotent, so a
crash and a second expansion add nothing twice. A driver who blocked the bot is marked inactive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from closures import subscribers
from closures.bulk import insert_new
from closures.models import OutboxItem, OutboxStatus, Subscription
from closures.outbox import Claimed, fanned_out, idempotency_key
from closures.store import rows_matched, session_scope
from closures.views import ClosureView
from geo.measure import directions_from
from geo.projection import Projection

_EARTH_DEG_M = 111_320.0  # metres per degree of latitude, for a generous first cut


@dataclass(frozen=True, slots=True)
class Affected:
    subscription_id: int
    user_id: int
    name: str
    language: str
    distance_m: float
    direction: str | None


def affected(session: Session, closure: ClosureView) -> list[Affected]:
    """Active subscriptions the closure touches, one per driver (the nearest), nearest first."""
    return affected_by(session, closure.geometry, reach_m=closure.radius_m or 0.0)


def affected_by(session: Session, geometry: BaseGeometry, *, reach_m: float = 0.0) -> list[Affected]:
    """Active subscriptions within their radius of ``geometry`` (grown by ``reach_m``: a point closure's
    radius), one per driver (the nearest), nearest first; a place inside an area is at distance 0."""
    near = _nearest(session, geometry, reach_m)
    if near is None:
        return []
    (ids, users, names, languages), chosen, distances, geoms, projection = near
    origins = [_origin(geoms[i]) for i in chosen]  # one vectorised pass for every driver's direction
    directions = directions_from(origins, geometry, projection=projection)
    found = [
        Affected(ids[i], users[i], names[i], languages[i], float(distances[i]), d)
        for i, d in zip(chosen, directions, strict=True)
    ]
    return sorted(found, key=lambda a: (a.distance_m, a.user_id))


def reached_by(session: Session, area: BaseGeometry) -> list[tuple[int, str]]:
    """``affected_by`` for an emergency's area, which needs no distance, direction or order: each driver
    reached (once, by their nearest subscription) and that subscription's language."""
    near = _nearest(session, area, 0.0)
    if near is None:
        return []
    (_, users, _, languages), chosen = near[0], near[1]
    return [(users[i], languages[i]) for i in chosen]


# the columns read (ids, drivers, names, languages), the chosen rows, distances, geometries, projection
type _Near = tuple[tuple[Sequence[Any], ...], list[int], np.ndarray, np.ndarray, Projection]


def _nearest(session: Session, geometry: BaseGeometry, reach_m: float) -> _Near | None:
    """The active subscriptions within their radius of ``geometry`` grown by ``reach_m``, one per driver
    (the nearest; of equals, the first read): the columns read, the chosen rows' positions in them, every
    row's distance (metres, inf where not measured), geometry, and the projection measured in."""
    subs = subscribers.active(session)  # read and parsed once per change of the subscriptions
    if not len(subs):
        return None
    ids, users, names, languages = subs.ids, subs.users, subs.names, subs.languages
    geoms, radii = subs.geoms, subs.radii
    reach = radii + reach_m
    # a first cut in degrees (longitude degrees shrink towards the poles: stay generous), then metres
    lat = abs(shapely.get_coordinates(geometry)[:, 1]).max()
    margin = (reach / _EARTH_DEG_M) / max(np.cos(np.radians(min(lat, 80.0))), 0.1)
    near = shapely.distance(geoms, geometry) <= margin
    if not near.any():
        return None
    projection = Projection.for_geometry(geometry)
    target = projection.to_metric(geometry)
    distances = np.full(len(subs), np.inf)
    distances[near] = shapely.distance(projection.many_to_metric(geoms[near]), target)
    distances = np.maximum(0.0, distances - reach_m)
    within = np.flatnonzero(distances <= radii)
    # per driver the nearest row: sorted by driver, then distance, then position; each driver's first
    drivers = np.array(users, dtype=np.int64)[within]
    order = np.lexsort((within, distances[within], drivers))
    first = np.ones(len(order), dtype=bool)
    first[1:] = drivers[order][1:] != drivers[order][:-1]
    chosen: list[int] = within[order[first]].tolist()
    return (ids, users, names, languages), chosen, distances, geoms, projection


def _origin(place: BaseGeometry) -> Point:
    """Where a direction is told from: the saved place, or where a saved route starts."""
    return place if isinstance(place, Point) else Point(place.coords[0])


def queue_alerts(engine: Engine, item: Claimed, closure: ClosureView, *, now: datetime) -> int | None:
    """Expand an "alerts" row into one row per affected driver and mark it done; None if the lease is lost."""
    with session_scope(engine, write=True) as session:
        mine = session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id) == item.id, col(OutboxItem.claim_token) == item.token)
            .values(
                status=OutboxStatus.DONE.value,
                claim_token=None,
                lease_until=None,
                intent_at=None,
                done_at=now,
                updated_at=now,
                last_error=None,
            )
        )
        if not rows_matched(mine):
            return None
        found = affected(session, closure)
        destinations = [f"alert:{a.user_id}" for a in found]
        if found:
            insert_new(
                session,
                OutboxItem,
                same=fanned_out(
                    now, item.event.value, closure_id=item.closure_id, closure_version=item.closure_version
                ),
                each={
                    "idempotency_key": [
                        idempotency_key(item.closure_id, item.closure_version, item.event, d)
                        for d in destinations
                    ],
                    "destination": destinations,
                    "payload_json": [_alert_payload(a) for a in found],
                },
            )
        session.execute(
            sa.update(OutboxItem)
            .where(col(OutboxItem.id) == item.id)
            .values(remote_id=f"{len(found)} alerts")
        )
        return len(found)


def _alert_payload(a: Affected) -> str:
    """What an "alert" row tells its sender: whom, about which saved place, how far and which way."""
    return json.dumps(
        {
            "chat_id": a.user_id,
            "subscription_id": a.subscription_id,
            "name": a.name,
            "language": a.language,
            "distance_m": round(a.distance_m, 1),
            "direction": a.direction,
        },
        ensure_ascii=False,
    )


def deactivate_subscriber(engine: Engine, user_id: int) -> int:
    """The driver blocked the bot: stop alerting them (their subscriptions stay, inactive)."""
    with session_scope(engine, write=True) as session:
        result = session.execute(
            sa.update(Subscription)
            .where(col(Subscription.telegram_user_id) == user_id, col(Subscription.active) == sa.true())
            .values(active=False)
        )
        return rows_matched(result)
