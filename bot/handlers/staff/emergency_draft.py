"""The draft of an emergency while staff declare (or change) it in ``/emergency``: plain JSON in user data,
so it survives a restart like the closures' drafts. Times are ISO 8601 in UTC, the area GeoJSON text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import shapely

from bot.context import BotContext
from closures.emergencies import EmergencyDraft
from closures.emergency_models import AreaSource, Emergency

KEY = "emergency_draft"  # the user-data key (bot.handlers.last_location skips drivers holding one)
TEXTS = ("headline_ar", "headline_en", "instruction_ar", "instruction_en")
# an update's groups of fields → the change it sends to the service
GROUP_FIELDS = {
    "level": ("level",),
    "expiry": ("expires_at",),
    "area": ("area", "area_from"),
    "headline": ("headline_ar", "headline_en"),
    "instruction": ("instruction_ar", "instruction_en"),
    "playbooks": ("playbooks",),
}


@dataclass
class Declaration:
    mode: str = "declare"  # declare | update | end
    municipality_id: int | None = None
    exercise: bool = False
    points: list[list[float]] = field(default_factory=list)  # corners shared so far, (lon, lat)
    area: str | None = None  # GeoJSON
    area_from: str = AreaSource.DRAWN.value
    offered: list[str] = field(default_factory=list)  # playbook slugs behind the numbered buttons
    offered_names: list[str] = field(default_factory=list)
    playbooks: list[str] = field(default_factory=list)  # chosen for activation
    hazard: str | None = None
    level: str | None = None
    texts: dict[str, str] = field(default_factory=dict)  # headline_ar … instruction_en
    expires_at: str | None = None
    first_id: int | None = None  # update / end: the emergency, at the version read
    version: int | None = None
    changed: list[str] = field(default_factory=list)  # update: the groups changed
    group: str | None = None  # update: the group being answered

    @classmethod
    def load(cls, context: BotContext) -> Declaration | None:
        data = context.user_data.get(KEY) if context.user_data is not None else None
        return cls(**data) if data else None

    def keep(self, context: BotContext) -> None:
        if context.user_data is not None:
            context.user_data[KEY] = asdict(self)

    @staticmethod
    def clear(context: BotContext) -> None:
        if context.user_data is not None:
            context.user_data.pop(KEY, None)

    @classmethod
    def of(cls, version: Emergency, mode: str) -> Declaration:
        """A draft holding an emergency's current version, to change or end it."""
        return cls(
            mode=mode, municipality_id=version.municipality_id, exercise=version.exercise,
            area=version.area_geojson, hazard=version.hazard, level=version.level,
            texts={name: getattr(version, name) for name in TEXTS}, expires_at=version.expires_at.isoformat(),
            first_id=version.first_id, version=version.version,
        )  # fmt: skip

    @property
    def expiry(self) -> datetime | None:
        return datetime.fromisoformat(self.expires_at) if self.expires_at else None

    def declaration(self) -> EmergencyDraft:
        """What the service declares (every answer given: the preview comes last)."""
        expiry = self.expiry
        assert self.hazard is not None
        assert self.level is not None
        assert expiry is not None
        return EmergencyDraft(
            hazard=self.hazard, level=self.level, expires_at=expiry,
            area=shapely.from_geojson(self.area) if self.area else None, area_from=self.area_from,
            playbooks=tuple(self.playbooks), exercise=self.exercise,
            headline_ar=self.texts.get("headline_ar", ""), headline_en=self.texts.get("headline_en", ""),
            instruction_ar=self.texts.get("instruction_ar", ""),
            instruction_en=self.texts.get("instruction_en", ""),
        )  # fmt: skip

    def changes(self) -> dict[str, Any]:
        """An update's changes, as ``EmergencyService.update`` takes them."""
        full = self.declaration()
        names = [name for group in self.changed for name in GROUP_FIELDS[group]]
        return {name: getattr(full, name) for name in names}
