"""Every active subscription, read and parsed once per change of the subscriptions, kept per engine.

An import of a thousand closures plans a thousand subscribers' alerts, and each expansion
(``closures.fanout``) needs every active subscription's geometry: read and parsed each time, that was ten
million GeoJSON parses for 10,000 subscriptions. The store's ``subscription_counter`` moves with every write
to the subscriptions (database triggers, migration 0010), so a process reads them again only when it moved;
an expansion in any process sees every subscription committed before it looked.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from closures.models import StoreState, Subscription

_COUNTER = sa.select(col(StoreState.subscription_counter)).where(col(StoreState.id) == 1)
_ROWS = sa.select(
    col(Subscription.id),
    col(Subscription.telegram_user_id),
    col(Subscription.name),
    col(Subscription.language),
    col(Subscription.radius_m),
    col(Subscription.geometry_geojson),
).where(col(Subscription.active) == sa.true())


@dataclass(frozen=True, slots=True)
class Active:
    """The active subscriptions as columns (read-only: shared by every expansion of the process)."""

    counter: int
    ids: Sequence[int]
    users: Sequence[int]
    names: Sequence[str]
    languages: Sequence[str]
    radii: np.ndarray
    geoms: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


_kept: weakref.WeakKeyDictionary[Engine, Active] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def active(session: Session) -> Active:
    """The active subscriptions as of now, from the process's copy when the counter has not moved.

    The counter is read before the rows: a write committing in between is in the rows and moves the
    counter past the copy's, so the next call reads again (never a copy older than its counter).
    """
    connection = session.connection()
    engine = connection.engine
    counter = int(connection.execute(_COUNTER).scalar_one_or_none() or 0)
    kept = _kept.get(engine)
    if kept is not None and kept.counter == counter:
        return kept
    rows = connection.execute(_ROWS).all()  # Core rows: the ORM's loading costs more than the query
    columns: list[Sequence[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 6
    ids, users, names, languages, radii, texts = columns
    geoms = shapely.from_geojson(list(texts)) if rows else np.array([], dtype=object)
    fresh = Active(counter, ids, users, names, languages, np.array(radii, dtype=float), geoms)
    with _lock:
        _kept[engine] = fresh
    return fresh
