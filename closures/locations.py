"""Drivers' last locations, kept for a few hours so that an emergency can reach whoever is in the area.

Every location a driver shares (or a live location's every move) is noted here. Under a flood's load a
write per update would cost more than the answer, so :class:`LocationLog` keeps the newest location per
driver in memory and writes them all in ONE executemany upsert per interval (``flush``, called by the bot
every second or so from a worker thread). A row is only ever replaced by a newer location, so processes
flushing in any order agree. What a crash can lose: the locations noted since the last flush (at most one
interval); the rows already written stay, so a driver is at worst found where they were a second earlier.

Rows older than the window (``EMERGENCY_RECENT_H``, unless a live location is still being shared) are
deleted by :meth:`LocationLog.purge`, and ``/forget`` deletes a driver's row at once: the bot tells drivers
so at /start. Blocking (database) except :meth:`LocationLog.note`, which is a dictionary write.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from closures.emergency_models import DriverLocation
from closures.store import rows_matched, session_scope
from geo.projection import Projection

_EARTH_DEG_M = 111_320.0  # metres per degree of latitude


@dataclass(frozen=True, slots=True)
class Located:
    user_id: int
    language: str
    distance_m: float  # 0 inside the area


class LocationLog:
    """The newest location per driver, noted at no cost and written in batches (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._pending: dict[int, dict[str, Any]] = {}  # by user: the columns of a DriverLocation row
        self._flush_lock = threading.Lock()  # one flush at a time, so a newer batch never races an older

    def note(
        self, user_id: int, lon: float, lat: float, *, at: datetime, language: str,
        live_until: datetime | None = None,
    ) -> None:  # fmt: skip
        """Keep this as the driver's location for the next flush (no I/O)."""
        row = {"telegram_user_id": user_id, "lon": lon, "lat": lat, "at": at, "live_until": live_until}
        row["language"] = language
        with self._lock:
            current = self._pending.get(user_id)
            if current is None or current["at"] <= at:
                self._pending[user_id] = row

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write every noted location in one statement; how many rows were written."""
        with self._flush_lock:
            with self._lock:
                rows, self._pending = list(self._pending.values()), {}
            if not rows:
                return 0
            try:
                with session_scope(self.engine, write=True) as session:
                    _upsert(session, rows)
            except BaseException:
                with self._lock:  # keep them for the next flush, unless newer ones came meanwhile
                    for row in rows:
                        self._pending.setdefault(row["telegram_user_id"], row)
                raise
            return len(rows)

    def discard(self, user_id: int) -> None:
        """Drop a driver's unwritten location (``/forget``: the caller deletes the row in the same step)."""
        with self._lock:
            self._pending.pop(user_id, None)

    def purge(self, *, now: datetime, keep: timedelta) -> int:
        """Delete the locations older than ``keep`` whose live sharing (if any) has ended."""
        with session_scope(self.engine, write=True) as session:
            result = session.execute(
                sa.delete(DriverLocation).where(
                    col(DriverLocation.at) < now - keep,
                    sa.or_(col(DriverLocation.live_until).is_(None), col(DriverLocation.live_until) < now),
                )
            )
            return rows_matched(result)


def _upsert(session: Session, rows: list[dict[str, object]]) -> None:
    dialect = session.get_bind().dialect.name
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(DriverLocation)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["telegram_user_id"],
            set_={name: statement.excluded[name] for name in ("lon", "lat", "at", "live_until", "language")},
            where=col(DriverLocation.at)
            <= statement.excluded.at,  # never replace a newer location by an older
        ),
        rows,
    )


def forget_user(engine: Engine, user_id: int) -> int:
    """Delete the driver's stored location (they blocked the bot: no emergency is to try them again)."""
    with session_scope(engine, write=True) as session:
        return forget(session, user_id)


def forget(session: Session, user_id: int) -> int:
    """Delete the driver's stored location in the caller's transaction."""
    result = session.execute(sa.delete(DriverLocation).where(col(DriverLocation.telegram_user_id) == user_id))
    return rows_matched(result)


def located_near(
    session: Session, area: BaseGeometry, *, now: datetime, recent: timedelta, margin_m: float
) -> list[Located]:
    """Drivers sharing a live location, or who shared one within ``recent``, inside ``area`` or within
    ``margin_m`` of it; nearest first."""
    minx, miny, maxx, maxy = area.bounds
    lat_margin = margin_m / _EARTH_DEG_M
    lon_margin = lat_margin / max(float(np.cos(np.radians(min(max(abs(miny), abs(maxy)), 80.0)))), 0.1)
    rows = session.execute(
        sa.select(
            col(DriverLocation.telegram_user_id),
            col(DriverLocation.lon),
            col(DriverLocation.lat),
            col(DriverLocation.language),
        ).where(
            sa.or_(col(DriverLocation.at) >= now - recent, col(DriverLocation.live_until) >= now),
            col(DriverLocation.lon).between(minx - lon_margin, maxx + lon_margin),
            col(DriverLocation.lat).between(miny - lat_margin, maxy + lat_margin),
        )
    ).all()
    if not rows:
        return []
    projection = Projection.for_geometry(area)
    xy = projection.many_to_metric(shapely.points([(r.lon, r.lat) for r in rows]))
    distances = shapely.distance(xy, projection.to_metric(area))
    out = [
        Located(row.telegram_user_id, row.language, float(d))
        for row, d in zip(rows, distances, strict=True)
        if d <= margin_m
    ]
    return sorted(out, key=lambda x: (x.distance_m, x.user_id))
