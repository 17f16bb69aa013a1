"""What every command shares: the context (settings, engine, services) and plain output helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from bot.config import Settings
from closures import municipalities
from closures.emergencies import EmergencyService
from closures.models import Municipality
from closures.queries import ClosureQueries
from closures.reach import Reach
from closures.service import ClosureService
from closures.store import alembic_config, current_revision, make_engine
from geo.parse import Limits

MAX_INPUT_BYTES = 10 * 1024 * 1024


class CliError(Exception):
    """Bad usage or unreadable input, said in one line."""


class NotInitialised(CliError):
    """The database has no schema, or an old one."""


@dataclass
class Context:
    settings: Settings
    _checked: bool = field(default=False, init=False)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    def ready_engine(self) -> Engine:
        """The engine, after checking the schema is at the newest migration."""
        if not self._checked:
            head = ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()
            if current_revision(self.engine) != head:
                raise NotInitialised(
                    "the database is not initialised or is out of date: run `roadbot db upgrade`"
                )
            self._checked = True
        return self.engine

    @cached_property
    def service(self) -> ClosureService:
        limits = Limits(
            max_line_m=self.settings.max_line_km * 1000, max_area_m2=self.settings.max_area_km2 * 1e6
        )
        return ClosureService(
            self.ready_engine(),
            limits=limits,
            boundary_tolerance_m=self.settings.boundary_tolerance_m,
            destinations_for=self.settings.destinations_for,  # posts of CLI changes go out like the bot's
        )

    @cached_property
    def emergencies(self) -> EmergencyService:
        """Emergencies and their playbooks, reaching drivers as the settings say (like the bot's)."""
        window = timedelta(hours=self.settings.emergency_recent_h)
        reach = Reach(recent=window, margin_m=self.settings.emergency_margin_m)
        return EmergencyService(self.ready_engine(), closures=self.service, reach=reach)

    @cached_property
    def queries(self) -> ClosureQueries:
        return ClosureQueries(self.ready_engine(), horizon=timedelta(hours=self.settings.horizon_hours))

    def timezones(self) -> dict[int, ZoneInfo]:
        return municipalities.zones(self.ready_engine())

    def municipality(self, slug: str) -> Municipality:
        muni = municipalities.find(self.ready_engine(), slug)
        if muni is None:
            raise CliError(f"no municipality {slug!r} (see `roadbot municipality list`)")
        return muni


def read_text_arg(value: str) -> str:
    """The text of ``value``: a file's content when it names a file ('-' is stdin), else the value itself."""
    if value == "-":
        return sys.stdin.read(MAX_INPUT_BYTES + 1)
    path = Path(value)
    try:
        if len(value) < 4096 and path.is_file():
            if path.stat().st_size > MAX_INPUT_BYTES:
                raise CliError(f"{value}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MB")
            return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{value}: not UTF-8 text") from exc
    except OSError as exc:
        raise CliError(f"{value}: {exc.strerror}") from exc
    return value


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def km(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def local(when: datetime | None, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%a %d %b %H:%M") if when else "open-ended"
