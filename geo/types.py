"""Coordinate types at the user edge.

People and Telegram speak (lat, lon); shapely and GeoJSON speak x=lon, y=lat. ``LatLon`` exists so
that the order is named wherever a pair crosses that edge.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import Point


@dataclass(frozen=True, slots=True)
class LatLon:
    """A WGS84 position as a person reads it: latitude first."""

    lat: float
    lon: float

    def to_point(self) -> Point:
        """Return the shapely point (x=lon, y=lat)."""
        return Point(self.lon, self.lat)

    @classmethod
    def from_point(cls, point: Point) -> LatLon:
        """Build from a shapely point in (lon, lat)."""
        return cls(lat=point.y, lon=point.x)

    def __str__(self) -> str:
        return f"{self.lat:.6f},{self.lon:.6f}"
