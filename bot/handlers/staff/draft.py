"""The draft of a closure while staff write or edit it in a conversation: plain JSON, so it can be persisted.

Field values use the names of :class:`closures.rules.ClosureDraft`; geometry is GeoJSON text and times are
ISO 8601 in UTC. For an edit, ``base`` holds the closure's values as read (at ``version``), so the changes
sent to the service are exactly the fields the operator touched.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from closures.models import Closure
from closures.rules import ClosureDraft
from closures.views import ClosureView, kind_of

FIELDS = (
    "geometry", "radius_m", "reason", "severity", "lanes_ar", "lanes_en", "direction", "heading",
    "starts_at", "ends_at", "detour_ar", "detour_en", "title_ar", "title_en",
)  # fmt: skip
TIMES = ("starts_at", "ends_at")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]")


@dataclass
class Draft:
    values: dict[str, Any] = field(default_factory=dict)
    municipality_id: int | None = None
    points: list[list[float]] = field(default_factory=list)  # shared locations so far, (lon, lat)
    closure_id: int | None = None  # set when editing
    version: int | None = None
    base: dict[str, Any] = field(default_factory=dict)
    editing: bool = False  # a field is being changed from the preview: return there after it
    past_ok: bool = False  # the operator confirmed a start more than an hour ago
    pending_start: str | None = None  # a start in the past, awaiting that confirmation
    streets: dict[str, str] = field(default_factory=dict)  # the street at the closure, by language
    places: list[list[Any]] = field(default_factory=list)  # place-name candidates offered: [lon, lat, label]

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> Draft:
        return cls(**data) if data else cls()

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of_closure(cls, closure: Closure) -> Draft:
        """A draft holding a stored closure's values, for ``/edit``."""
        values = {name: _encode(name, getattr(closure, _column(name))) for name in FIELDS}
        return cls(
            values=values,
            municipality_id=closure.municipality_id,
            closure_id=closure.id,
            version=closure.version,
            base=dict(values),
        )

    def rebase(self, closure: Closure) -> None:
        """Take a newer version of the closure as the base, keeping the operator's own changes on top."""
        mine = {name: self.values[name] for name in self.changed()}
        fresh = Draft.of_closure(closure)
        self.values, self.base, self.version = {**fresh.values, **mine}, fresh.values, fresh.version

    def set(self, name: str, value: Any) -> None:
        self.values[name] = _encode(name, value)

    def get(self, name: str) -> Any:
        return _decode(name, self.values.get(name))

    def has(self, name: str) -> bool:
        return name in self.values

    def set_text(self, stem: str, text: str | None) -> None:
        """``lanes``, ``detour``: the Arabic or English column by the script it is written in."""
        arabic = bool(text and _ARABIC.search(text))
        self.values[f"{stem}_ar"] = text if arabic else None
        self.values[f"{stem}_en"] = None if arabic else text

    def text(self, stem: str) -> str | None:
        return self.values.get(f"{stem}_ar") or self.values.get(f"{stem}_en")

    @property
    def geometry(self) -> BaseGeometry | None:
        return self.get("geometry")

    def view(self) -> ClosureView:
        """The draft as the read-only view of a closure, to preview it (its geometry must be set)."""
        geometry = self.geometry
        assert geometry is not None
        return ClosureView(
            id=self.closure_id or 0,
            municipality_id=self.municipality_id or 0,
            ref=None,
            kind=kind_of(geometry).value,
            geometry=geometry,
            status="open",
            version=self.version or 0,
            **{name: self.get(name) for name in FIELDS if name != "geometry"},
        )

    def closure_draft(self) -> ClosureDraft:
        return ClosureDraft(**{name: self.get(name) for name in FIELDS})

    def changed(self) -> list[str]:
        return [name for name in FIELDS if self.values.get(name) != self.base.get(name)]

    def changes(self) -> dict[str, Any]:
        """The fields the operator changed, decoded, for ``ClosureService.update``."""
        return {name: self.get(name) for name in self.changed()}


def _column(name: str) -> str:
    return "geometry_geojson" if name == "geometry" else name


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "geometry":
        return value if isinstance(value, str) else shapely.to_geojson(value)
    if name in TIMES:
        return value.isoformat()
    return value


def _decode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "geometry":
        return shapely.from_geojson(value)
    if name in TIMES:
        return datetime.fromisoformat(value)
    return value
