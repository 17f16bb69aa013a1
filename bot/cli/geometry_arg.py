"""``closure add --geometry``: the shape, and the start and end a GeoJSON Feature may carry with it.

A Feature exported by ``roadbot export`` (or drawn in a GIS) has ``starts_at`` / ``ends_at`` properties;
they are used when the command line does not say, and a disagreement with ``--start`` / ``--end`` is refused
with both values named, rather than one of them silently winning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shapely.geometry.base import BaseGeometry

from bot.cli.common import CliError
from bot.handlers.staff.timeinput import parse_end, parse_when
from geo.parse import Limits, parse_geojson_features, parse_geometry

TIME_KEYS = {"starts_at": "--start", "ends_at": "--end"}


@dataclass(frozen=True, slots=True)
class Placed:
    geometry: BaseGeometry
    starts_at: datetime
    ends_at: datetime | None


def read_geometry_arg(
    text: str, start: str | None, end: str | None, *, tz: ZoneInfo, now: datetime, limits: Limits
) -> Placed:
    """The shape of ``text`` with its start and end: the flags', else the Feature's, else now and open."""
    geometry = parse_geometry(text, limits=limits)
    carried = _feature_times(text)

    def when(value: str) -> datetime:
        return parse_when(value, tz=tz, now=now)

    start_text = _chosen("starts_at", start, carried, lambda value: when(value))
    starts_at = when(start_text) if start_text is not None else now

    def until(value: str) -> datetime | None:
        return parse_end(value, start=starts_at, tz=tz, now=now)

    end_text = _chosen("ends_at", end, carried, until)
    return Placed(geometry, starts_at, until(end_text) if end_text is not None else None)


def _feature_times(text: str) -> dict[str, str]:
    """The ``starts_at`` / ``ends_at`` of a GeoJSON Feature (none for any other text)."""
    if not text.lstrip().startswith("{"):
        return {}
    kind = json.loads(text).get("type")  # parse_geometry read it already: it is a JSON object
    features = parse_geojson_features(text)
    carried = [{k: str(p[k]) for k in TIME_KEYS if p.get(k) is not None} for _, p in features]
    if kind == "FeatureCollection" and len(features) > 1 and any(carried):
        raise CliError(
            "the features carry their own times, so they are several closures: register them with "
            "`roadbot import`"
        )
    return carried[0] if carried else {}


def _chosen(key: str, flag: str | None, carried: dict[str, str], read: Callable[[str], object]) -> str | None:
    """The flag's value, or the Feature's; refused when both are given and mean different times."""
    own = carried.get(key)
    if flag is None or own is None:
        return flag if flag is not None else own
    if read(own) != read(flag):
        raise CliError(f"the Feature's {key} ({own}) and {TIME_KEYS[key]} ({flag}) disagree: give one")
    return flag
