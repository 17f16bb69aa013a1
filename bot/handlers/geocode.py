"""Place names for the handlers: look-ups biased to where the person is, run in the geocoder's own threads,
and each failure as one sentence in the person's language.

Drivers' searches lean towards the municipality of the last point they sent (or every municipality the bot
covers) without excluding the rest; staff searches stay inside the operator's municipalities.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from functools import partial

from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from bot.i18n import LANGUAGES, Translator
from bot.services import Services
from geo.errors import GeocoderOff, GeocodingError, GeocodingProblem
from geo.geocoding import Bias, Place
from geo.measure import geodesic_m

log = logging.getLogger(__name__)

MAX_CHOICES = 5
# One name twice within this distance is one place (segments of a road, a mall and its car park).
SAME_PLACE_M = 2_000.0
NEAR_BOX_DEG = 0.25  # outside every municipality: lean towards ~25 km around the driver
_SENTENCE = {
    GeocodingProblem.OFF: "geocode.off",
    GeocodingProblem.TIMEOUT: "geocode.timeout",
    GeocodingProblem.RATE_LIMITED: "geocode.busy",
    GeocodingProblem.UNAVAILABLE: "geocode.unavailable",
    GeocodingProblem.REFUSED: "geocode.unavailable",
}


async def _in_pool[T](services: Services, func: Callable[..., T], *args: object, **kwargs: object) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(services.geocoding_pool, partial(func, *args, **kwargs))


async def find(services: Services, query: str, *, bias: Bias, language: str) -> list[Place]:
    """Distinct candidate places for ``query``, best first. Raises GeocodingError (GeocoderOff when none)."""
    geocoder = services.geocoder
    if geocoder is None:
        raise GeocoderOff("no geocoder is configured")
    found = await _in_pool(services, geocoder.forward, query, bias=bias, language=language, limit=MAX_CHOICES)
    return distinct(found)


def distinct(places: Iterable[Place]) -> list[Place]:
    """Drop a candidate that repeats an earlier one: the same name within ``SAME_PLACE_M``."""
    kept: list[Place] = []
    for place in places:
        if not any(k.name == place.name and geodesic_m(k.point, place.point) <= SAME_PLACE_M for k in kept):
            kept.append(place)
    return kept


async def street_names(services: Services, geometry: BaseGeometry) -> dict[str, str]:
    """The street at the middle of a closure, by language ("ar", "en"); empty when unknown or on failure."""
    geocoder = services.geocoder
    if geocoder is None:
        return {}
    middle = middle_of(geometry)
    names: dict[str, str] = {}
    for lang in LANGUAGES:
        try:
            place = await _in_pool(services, geocoder.reverse, middle, language=lang)
        except GeocodingError as exc:
            log.warning("no street name for the closure's title: %s", exc)
            return {}
        if place is not None and place.street:
            names[lang] = place.street
    return names


def middle_of(geometry: BaseGeometry) -> Point:
    """Halfway along a line; a point inside an area; the point itself."""
    if isinstance(geometry, LineString):
        return geometry.interpolate(0.5, normalized=True)
    if isinstance(geometry, Point):
        return geometry
    return geometry.representative_point()


async def bias_near(services: Services, point: Point | None) -> Bias:
    """Towards the municipality containing ``point``; without one, every municipality the bot covers."""
    boxes = await asyncio.to_thread(services.municipality_boxes)
    if point is not None:
        for box in boxes.values():
            if box[0] <= point.x <= box[2] and box[1] <= point.y <= box[3]:
                return Bias(box)
        d = NEAR_BOX_DEG
        return Bias((point.x - d, point.y - d, point.x + d, point.y + d))
    return Bias(_union(boxes.values()))


async def bias_within(services: Services, municipality_ids: Iterable[int]) -> Bias:
    """Only inside these municipalities (their boxes together)."""
    boxes = await asyncio.to_thread(services.municipality_boxes)
    return Bias(_union(boxes[i] for i in municipality_ids if i in boxes), bounded=True)


def _union(boxes: Iterable[tuple[float, float, float, float]]) -> tuple[float, float, float, float] | None:
    boxes = list(boxes)
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def problem_text(exc: GeocodingError, tr: Translator) -> str:
    """The person's sentence for a failed look-up (logged here, with the detail, in English)."""
    log.warning("place search failed: %s", exc)
    return tr.t(_SENTENCE[exc.problem])


def label(place: Place, max_chars: int = 60) -> str:
    """A button's text for a candidate: its address, shortened."""
    text = place.address or place.name
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
