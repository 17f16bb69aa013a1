"""What a partner's CAP alert says, as the content of a draft emergency: pure mapping, no database.

* hazard: from the words of the event, its codes and headline (Arabic or English: "سيول", "flood", "غبار",
  "dust" …), else from the category (Fire, Security); anything else is "other";
* level on the Saudi four-level scale from CAP severity, the inverse of what we send (Extreme → alarm,
  Severe → warning, Moderate → alert, Minor → advice); Unknown is taken as an alert, not as advice;
* headline and instruction in Arabic and English from the ``ar`` and ``en`` infos; a language the alert
  lacks takes the other's text (staff can still read and correct it before confirming); an alert with no
  instruction gives its description's first sentence, else its headline; texts are cut to what an
  emergency may hold;
* the area: every polygon and circle of every info; its description from the areas' ``areaDesc``;
* expiry: the alert's, else ``DEFAULT_LIFETIME`` after it became effective (or was sent);
* ``status`` Exercise makes an exercise; Actual a real one (other statuses are not drafted at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely.geometry.base import BaseGeometry

from closures.formats.cap import CapAlert, CapInfo, CapStatus, short_text
from closures.formats.common import has_arabic

DEFAULT_LIFETIME = timedelta(hours=24)
MAX_HEADLINE = 160
MAX_INSTRUCTION = 500
DRAFTED_STATUSES = (CapStatus.ACTUAL, CapStatus.EXERCISE)

_HAZARD_WORDS = (
    ("flood", ("flood", "rain", "torrent", "سيل", "سيول", "أمطار", "امطار", "مطر", "فيضان", "غرق", "أودية")),
    ("sandstorm", ("dust", "sand", "haboob", "visibility", "غبار", "رمل", "رملية", "أتربة", "اتربة", "رؤية")),
    ("fire", ("fire", "wildfire", "حريق", "حرائق")),
    ("security", ("security", "police", "أمن", "أمني", "أمنية")),
)
_HAZARD_OF_CATEGORY = {"Fire": "fire", "Security": "security"}
_LEVEL_OF_SEVERITY = {"Extreme": "alarm", "Severe": "warning", "Moderate": "alert", "Minor": "advice"}
_SENTENCE = re.compile(r"^(.+?[.!؟?])(\s|$)")


@dataclass(frozen=True, slots=True)
class DraftContent:
    """A draft emergency's content, in the emergency service's terms."""

    hazard: str
    level: str
    headline_ar: str
    headline_en: str
    instruction_ar: str
    instruction_en: str
    area: BaseGeometry
    area_desc_ar: str | None
    area_desc_en: str | None
    expires_at: datetime
    exercise: bool
    description_ar: str | None
    description_en: str | None


def draft_content(alert: CapAlert) -> DraftContent:
    """The draft an alert makes (its area and texts as they are; the service clips and checks them)."""
    arabic, english = alert.info("ar"), alert.info("en")
    first = alert.infos[0]
    ar, en = arabic or english or first, english or arabic or first
    return DraftContent(
        hazard=hazard_of(alert),
        level=_LEVEL_OF_SEVERITY.get(first.severity, "alert"),
        headline_ar=short_text(_headline(ar), MAX_HEADLINE),
        headline_en=short_text(_headline(en), MAX_HEADLINE),
        instruction_ar=_instruction(ar),
        instruction_en=_instruction(en),
        area=alert.geometry(),
        area_desc_ar=_area_desc(ar),
        area_desc_en=_area_desc(en),
        expires_at=alert.expires or (first.effective or alert.sent) + DEFAULT_LIFETIME,
        exercise=alert.status is CapStatus.EXERCISE,
        description_ar=ar.description,
        description_en=en.description,
    )


def hazard_of(alert: CapAlert) -> str:
    """The hazard an alert is about, from its words first, then its categories."""
    words = " ".join(
        text
        for info in alert.infos
        for text in (info.event, info.headline or "", *(v for _, v in info.event_codes))
    ).lower()
    for hazard, markers in _HAZARD_WORDS:
        if any(marker in words for marker in markers):
            return hazard
    for info in alert.infos:
        for category in info.categories:
            if category in _HAZARD_OF_CATEGORY:
                return _HAZARD_OF_CATEGORY[category]
    return "other"


def _headline(info: CapInfo) -> str:
    return info.headline or info.event


def _instruction(info: CapInfo) -> str:
    if info.instruction:
        return short_text(info.instruction, MAX_INSTRUCTION)
    if info.description:
        match = _SENTENCE.match(" ".join(info.description.split()))
        return short_text(match[1] if match else info.description, MAX_INSTRUCTION)
    return short_text(_headline(info), MAX_INSTRUCTION)


def _area_desc(info: CapInfo) -> str | None:
    names = list(dict.fromkeys(area.description for area in info.areas if area.description))
    if not names:
        return None
    return short_text("، ".join(names) if any(has_arabic(n) for n in names) else "; ".join(names))
