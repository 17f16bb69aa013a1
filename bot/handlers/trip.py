"""A driver's live-location trip: heading and speed from successive fixes, and which closures to warn of.

Pure logic (no Telegram): a warning goes out for a closure within ``ALERT_DISTANCE_M`` that the driver is
moving towards, faster than walking pace, at most once per closure per trip and one message per 30 s. A
closure not yet in force is worth a warning only if it starts before the driver can get there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import Point

from closures.lifecycle import Phase
from closures.views import Found
from geo.measure import COMPASS_CODES, bearing_deg, geodesic_m

ALERT_DISTANCE_M = 2_000.0
MIN_SPEED_KMH = 10.0
MIN_MOVE_M = 15.0  # below this, GPS jitter would make up a heading
TOWARDS_DEG = 60.0  # the closure lies within this angle of the heading
MESSAGE_GAP = timedelta(seconds=30)
# Arrival is estimated without a route: roads in a city grid wind about 1.3 m for every metre of straight
# line (a common circuity figure for urban networks), driven at the trip's own speed, and never faster than
# an urban 60 km/h (a fast fix between two lights would otherwise make every closure "already reached").
CIRCUITY = 1.3
MAX_URBAN_KMH = 60.0


@dataclass(frozen=True, slots=True)
class Movement:
    heading_deg: float | None
    speed_kmh: float | None

    @property
    def moving(self) -> bool:
        return self.heading_deg is not None and (self.speed_kmh or 0.0) >= MIN_SPEED_KMH


@dataclass
class Trip:
    """One live-location sharing session (one Telegram message being edited)."""

    message_id: int
    last_point: Point | None = None
    last_at: datetime | None = None
    movement: Movement = field(default_factory=lambda: Movement(None, None))
    alerted: set[int] = field(default_factory=set)
    last_message_at: datetime | None = None

    def advance(self, point: Point, at: datetime) -> Movement:
        """Take a new fix; heading and speed come from the previous one (kept until the driver moves)."""
        if self.last_point is not None and self.last_at is not None:
            moved = geodesic_m(self.last_point, point)
            seconds = (at - self.last_at).total_seconds()
            if moved < MIN_MOVE_M or seconds <= 0:
                return self.movement  # no new information; keep the previous point as the reference
            self.movement = Movement(bearing_deg(self.last_point, point), moved / seconds * 3.6)
        self.last_point, self.last_at = point, at
        return self.movement

    def to_warn(self, found: Sequence[Found], at: datetime) -> list[Found]:
        """Closures to warn of now: ahead, near, not warned of before, and no message in the last 30 s."""
        if not self.movement.moving or self.movement.heading_deg is None:
            return []
        if self.last_message_at is not None and at - self.last_message_at < MESSAGE_GAP:
            return []
        heading = self.movement.heading_deg
        return [
            f
            for f in found
            if f.closure.id not in self.alerted
            and f.distance_m <= ALERT_DISTANCE_M
            and f.direction is not None
            and _angle(heading, _bearing(f)) <= TOWARDS_DEG
            and (f.phase is Phase.ACTIVE or f.closure.starts_at <= at + arrival(f.distance_m, self.speed))
        ]

    @property
    def speed(self) -> float | None:
        return self.movement.speed_kmh

    def warned(self, found: Sequence[Found], at: datetime) -> None:
        self.alerted.update(f.closure.id for f in found)
        self.last_message_at = at


TRIP_KEY = "trip"
TRIP_FRESH = timedelta(minutes=2)  # a trip with no fix for this long no longer says where the driver heads


def moving_heading(data: Mapping[str, Any], now: datetime) -> float | None:
    """The heading of the driver's live trip in ``data`` (user data), if it is moving and recent."""
    trip = data.get(TRIP_KEY)
    if not isinstance(trip, Trip) or not trip.movement.moving or trip.last_at is None:
        return None
    return trip.movement.heading_deg if now - trip.last_at <= TRIP_FRESH else None


def arrival(distance_m: float, speed_kmh: float | None) -> timedelta:
    """How long the driver needs to reach a closure ``distance_m`` away (straight line) at their speed."""
    kmh = min(speed_kmh or MAX_URBAN_KMH, MAX_URBAN_KMH)
    return timedelta(hours=distance_m * CIRCUITY / 1000.0 / kmh)


def _bearing(found: Found) -> float:
    """The bearing the query measured, else the centre of its compass sector."""
    if found.bearing_deg is not None:
        return found.bearing_deg
    assert found.direction is not None
    return COMPASS_CODES.index(found.direction) * 22.5


def _angle(a: float, b: float) -> float:
    diff = abs(a - b) % 360.0
    return min(diff, 360.0 - diff)
