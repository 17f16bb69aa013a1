"""The wording every text shares: a closure's reason and its icon, severity and direction, in the reader's
language first. Drivers' answers, staff views and posts all say these the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from closures.models import Direction, Reason, Severity
from closures.views import ClosureView
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason

DEFAULT_ZONE = ZoneInfo("Asia/Riyadh")  # a closure whose municipality's zone is not known (yet)
REASON_ICON = {
    Reason.ROADWORKS: "🚧",
    Reason.EVENT: "🎪",
    Reason.FLOOD: "🌊",
    Reason.ACCIDENT: "🚨",
    Reason.MAINTENANCE: "🛠",
    Reason.SECURITY: "🛡",
    Reason.OTHER: "⚠️",
}


def in_language(tr: Translator, arabic: str | None, english: str | None) -> str | None:
    """The reader's language first, the other one when that is missing."""
    first, second = (arabic, english) if tr.lang == "ar" else (english, arabic)
    return first or second


def reason_of(c: ClosureView) -> Reason:
    """The closure's reason; one this version does not know reads as "other"."""
    try:
        return Reason(c.reason)
    except ValueError:
        return Reason.OTHER


def direction(c: ClosureView, tr: Translator) -> str:
    """Both directions, one, or one with its compass heading."""
    if c.direction != Direction.ONE:
        return tr.t("direction.both")
    if c.heading:
        return tr.t("direction.one_heading", heading=tr.heading(c.heading))
    return tr.t("direction.one")


def geometry_problem(exc: GeometryError, tr: Translator) -> str:
    """The sentence for refused geometry input, the same for staff and drivers; a swapped point names the
    point that was probably meant."""
    if exc.reason is GeoReason.PROBABLY_SWAPPED and exc.meant is not None:
        return tr.t("geo.probably_swapped_point", point=tr.coordinates(*exc.meant))
    return tr.t(f"geo.{exc.reason.value}")


def severity(c: ClosureView, tr: Translator, *, lanes: Callable[[str], str] | None) -> str:
    """Full, or partial with the closed lanes in the reader's language when known.

    ``lanes`` makes the staff-written lanes safe and short (clips and escapes them); None leaves them out.
    """
    if c.severity != Severity.PARTIAL:
        return tr.t("severity.full")
    written = in_language(tr, c.lanes_ar, c.lanes_en)
    if written and lanes is not None:
        return tr.t("severity.partial_lanes", lanes=lanes(written))
    return tr.t("severity.partial")
