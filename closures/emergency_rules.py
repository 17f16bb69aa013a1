"""What makes an emergency acceptable, and what its level means in CAP: plain functions, no I/O.

The level is the Saudi four-colour early-warning scale of the National Center for Meteorology (NCM), lowest
first. Its English names are those of the national portal's page on the NCM's automated early warning
system (my.gov.sa, "Automated Early Warning System": Green *Advice* for a possible weather condition,
Yellow *Alert* for its probable impact, Orange *Advanced Alert* for an event that requires precaution,
Red *Alarm* for a severe event or torrential rain, when Civil Defense instructions must be followed); the
Arabic wording the bot shows is the NCM's own (تنبيه for yellow, تنبيه متقدم for orange, as the NCM's
colour key in the press reads; التنويه for the first stage and الإنذار الأحمر for the top one, as the
NCM's 2025 explanation of its stages names them) — see the "Emergencies" block of the catalogues.

``cap_terms`` maps a hazard and level to CAP 1.2's category, severity, urgency, certainty and response
type. The mapping follows the colour's definition: green says a condition is *possible* (Minor, Future,
Possible: monitor), yellow that an impact is *probable* (Moderate, Expected, Likely: prepare), orange that
precaution is required (Severe, Expected, Likely: avoid), red that a severe event is upon the area
(Extreme, Immediate, Likely: avoid) — an operator closing roads for it, drivers are told to avoid the area.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from closures.emergency_models import AlertLevel, Hazard
from closures.errors import Refusal, ValidationError
from geo.parse import Limits, validate
from geo.projection import Projection

# An area pasted from a met service's alert may cover a whole region (Riyadh region: ~400,000 km²): it is
# clipped to the municipality, so only a mistake larger than the kingdom is refused as too big.
AREA_LIMITS = Limits(max_area_m2=2_500_000_000_000.0)
MAX_HEADLINE = 160  # CAP's advice for <headline>, and short enough to read at a red light
MAX_INSTRUCTION = 500
MAX_AREA_DESC = 49  # CAP areaDesc: under 50 characters
MAX_DURATION = timedelta(days=7)  # longer is a long-term closure, not an emergency (an update extends it)
MIN_DURATION = timedelta(minutes=5)
# Less than this share of the area given left inside the municipality: it is outside, not clipped.
MIN_INSIDE_M2 = 1_000.0
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True, slots=True)
class CapTerms:
    category: str
    severity: str
    urgency: str
    certainty: str
    response: str


_CATEGORY = {
    Hazard.FLOOD: "Met",  # flash floods follow the rain: the met services' category for them
    Hazard.SANDSTORM: "Met",
    Hazard.FIRE: "Fire",
    Hazard.SECURITY: "Security",
    Hazard.OTHER: "Other",
}
_BY_LEVEL = {
    AlertLevel.ADVICE: ("Minor", "Future", "Possible", "Monitor"),
    AlertLevel.ALERT: ("Moderate", "Expected", "Likely", "Prepare"),
    AlertLevel.WARNING: ("Severe", "Expected", "Likely", "Avoid"),
    AlertLevel.ALARM: ("Extreme", "Immediate", "Likely", "Avoid"),
}


def cap_terms(hazard: str, level: str) -> CapTerms:
    """CAP 1.2's category, severity, urgency, certainty and responseType for a hazard at a level.

    >>> cap_terms("flood", "alarm")
    CapTerms(category='Met', severity='Extreme', urgency='Immediate', certainty='Likely', response='Avoid')
    """
    check_choice("hazard", hazard, Hazard)
    check_choice("level", level, AlertLevel)
    severity, urgency, certainty, response = _BY_LEVEL[AlertLevel(level)]
    return CapTerms(_CATEGORY[Hazard(hazard)], severity, urgency, certainty, response)


def check_choice(name: str, value: str, choices: type[Hazard] | type[AlertLevel]) -> None:
    if value not in {c.value for c in choices}:
        raise ValidationError(Refusal.BAD_VALUE, field=name, detail=repr(value))


@dataclass(frozen=True, slots=True)
class ClippedArea:
    """An area cut to a municipality: the part inside, its size, and the share of the given area cut off."""

    geometry: BaseGeometry  # Polygon or MultiPolygon, lon/lat
    area_m2: float
    clipped_share: float  # 0.0: all of it was inside; 0.4: 40 % of the area given lay outside


def clip_area(area: BaseGeometry, boundary: BaseGeometry, projection: Projection) -> ClippedArea:
    """Validate an emergency area and cut it to the municipality's boundary.

    Refused: anything but a polygon (``NOT_AN_AREA``); an empty, self-crossing or absurd one (``geo``'s
    ``GeometryError``); one with (almost) nothing inside the municipality (``OUTSIDE_MUNICIPALITY``).
    """
    if area.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationError(Refusal.NOT_AN_AREA, field="area", detail=area.geom_type)
    area = validate(area, boundary=boundary, limits=AREA_LIMITS)
    given_m2 = projection.to_metric(area).area
    # an area wholly inside is kept as drawn (intersection would rewrite its rings: not stable on re-saving)
    inside = area if boundary.covers(area) else _polygons(shapely.intersection(area, boundary))
    inside_m2 = projection.to_metric(inside).area if inside is not None else 0.0
    if inside is None or inside_m2 < MIN_INSIDE_M2:
        raise ValidationError(Refusal.OUTSIDE_MUNICIPALITY, field="area", detail=f"{inside_m2:.0f} m² inside")
    share = max(0.0, 1.0 - inside_m2 / given_m2) if given_m2 > 0 else 0.0
    return ClippedArea(inside, inside_m2, round(share, 4))


def _polygons(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of an intersection (a boundary touched along an edge leaves lines behind)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon([Polygon(p) for p in parts])


def check_expiry(expires_at: datetime, now: datetime) -> None:
    if expires_at.tzinfo is None:
        raise ValidationError(Refusal.BAD_VALUE, field="expires_at", detail="time without a time zone")
    if expires_at <= now:
        raise ValidationError(Refusal.EXPIRY_IN_PAST, field="expires_at")
    if expires_at - now < MIN_DURATION:
        raise ValidationError(Refusal.EXPIRY_TOO_SOON, field="expires_at", detail=f"< {MIN_DURATION}")
    if expires_at - now > MAX_DURATION:
        raise ValidationError(Refusal.EXPIRY_TOO_FAR, field="expires_at", detail=f"> {MAX_DURATION}")


def clean_text(name: str, text: str | None, limit: int, *, required: bool = True) -> str | None:
    """Trimmed text within ``limit`` characters; "" (only spaces or invisible marks) counts as missing."""
    text = (text or "").strip()
    if not any(unicodedata.category(ch)[0] not in "ZC" for ch in text):
        if required:
            raise ValidationError(Refusal.MISSING_FIELD, field=name)
        return None
    if len(text) > limit:
        raise ValidationError(Refusal.TEXT_TOO_LONG, field=name, detail=f"{len(text)} > {limit}")
    return text


def required_text(name: str, text: str | None, limit: int) -> str:
    """``clean_text`` of a text that must be given (missing: ``MISSING_FIELD``)."""
    value = clean_text(name, text, limit)
    assert value is not None  # clean_text raises rather than return None for a required text
    return value


def short_name(name: str, limit: int = MAX_AREA_DESC) -> str:
    """A name cut to ``limit`` characters (with an ellipsis), for CAP's areaDesc.

    >>> short_name("Riyadh Municipality"), len(short_name("x" * 80))
    ('Riyadh Municipality', 49)
    """
    name = " ".join(name.split())
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def check_slug(slug: str) -> str:
    """A playbook's handle: lower-case letters, digits and dashes, starting with a letter or digit."""
    slug = slug.strip().lower()
    if not _SLUG.match(slug):
        raise ValidationError(Refusal.BAD_VALUE, field="slug", detail=repr(slug))
    return slug
