"""The read model: a closure as queries, texts and posts read it, and one closure answering a query.

``ClosureView`` is a frozen copy of a ``Closure`` row with its geometry parsed, safe to share across threads
and to keep in the spatial index; ``Found`` adds what a query measured (distance, direction, position on a
route) and the phase at the query's moment.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from shapely.geometry.base import BaseGeometry

from closures.lifecycle import Phase
from closures.models import Closure, Kind


@dataclass(frozen=True, slots=True)
class ClosureView:
    """A read-only copy of a closure as the index holds it (no session, safe across threads)."""

    id: int
    municipality_id: int
    ref: str | None
    kind: str
    geometry: BaseGeometry
    radius_m: float | None
    reason: str
    severity: str
    lanes_ar: str | None
    lanes_en: str | None
    direction: str
    heading: str | None
    starts_at: datetime
    ends_at: datetime | None
    status: str
    title_ar: str
    title_en: str | None
    detour_ar: str | None
    detour_en: str | None
    version: int

    @classmethod
    def of(cls, row: Closure, geometry: BaseGeometry) -> ClosureView:
        assert row.id is not None
        return cls(geometry=geometry, **{name: getattr(row, name) for name in VIEW_COLUMNS})


# The columns a view copies from its row (its geometry is parsed once, by whoever builds the view).
VIEW_COLUMNS = tuple(f.name for f in fields(ClosureView) if f.name != "geometry")


@dataclass(frozen=True, slots=True)
class Found:
    """One closure answering a query: how far (to its edge), which way from the driver (an 8-point compass
    code, and the bearing it rounds), where on the route."""

    closure: ClosureView
    phase: Phase
    distance_m: float
    direction: str | None
    position_m: float | None = None
    bearing_deg: float | None = None


_KIND = {"Point": Kind.POINT, "MultiPoint": Kind.POINT, "LineString": Kind.LINE, "MultiLineString": Kind.LINE}


def kind_of(geometry: BaseGeometry) -> Kind:
    """What a geometry makes of a closure: points a point, lines a line, anything else an area."""
    return _KIND.get(geometry.geom_type, Kind.AREA)
