"""Times and durations as operators type them, in English or Arabic, read in the municipality's zone.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> now = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("UTC"))
>>> parse_duration("٣ ساعات")
datetime.timedelta(seconds=10800)
>>> parse_when("2026-11-28 22:00", tz=ZoneInfo("Asia/Riyadh"), now=now).isoformat()
'2026-11-28T19:00:00+00:00'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.handlers.staff.everyday_time import parse_everyday
from geo.parse import normalise_digits

_NOW_WORDS = {"now", "الآن", "الان", "حالا", "حالاً"}
_OPEN_WORDS = {"open", "none", "-", "open-ended", "مفتوح", "بدون", "غير محدد"}
_UNIT_SECONDS = {
    "d": 86_400, "day": 86_400, "days": 86_400, "يوم": 86_400, "أيام": 86_400, "ايام": 86_400,
    "يومين": 172_800, "يومان": 172_800,
    "h": 3_600, "hr": 3_600, "hrs": 3_600, "hour": 3_600, "hours": 3_600,
    "ساعة": 3_600, "ساعه": 3_600, "ساعات": 3_600, "ساعتين": 7_200, "ساعتان": 7_200,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "دقيقة": 60, "دقيقه": 60, "دقائق": 60,
}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?)?\s*([a-z\u0600-\u06ff-]+)", re.IGNORECASE)
_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%d/%m/%Y")
MAX_DURATION = timedelta(days=366)
# Far enough inside datetime's range that adding MAX_DURATION, or showing the time in any zone, cannot
# overflow; no road closure is planned outside it.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class TimeInputError(ValueError):
    """Text that is not a time or duration we can read; ``code`` is for the message catalogue."""

    def __init__(self, code: str, text: str) -> None:
        self.code = code
        self.text = text
        super().__init__(f"{code}: {text!r}")


def parse_duration(text: str) -> timedelta:
    """'3h', '90 min', '1h30m', '2 days', '٣ ساعات', 'ساعتين', 'ساعة و٣٠ دقيقة' → a positive duration."""
    clean = normalise_digits(text).strip().lower()
    total = 0.0
    pos = 0
    for match in _PART.finditer(clean):
        amount, unit = match.groups()
        if amount is None and unit == "و":  # "and", as in "ساعة و٣٠ دقيقة": part of the gap below
            continue
        if clean[pos : match.start()].strip(" ,و"):
            raise TimeInputError("not_duration", text)
        seconds = _UNIT_SECONDS.get(unit)
        if seconds is None:
            raise TimeInputError("not_duration", text)
        # "ساعتين" (two hours) carries its number; "ساعة" alone means one.
        total += (float(amount) if amount else 1.0) * seconds
        pos = match.end()
    if not clean or clean[pos:].strip() or total <= 0:
        raise TimeInputError("not_duration", text)
    if total > MAX_DURATION.total_seconds():
        raise TimeInputError("duration_too_long", text)
    if round(total) == 0:  # "0.001 min": less than a second is no time at all
        raise TimeInputError("not_duration", text)
    return timedelta(seconds=round(total))


def parse_when(text: str, *, tz: ZoneInfo, now: datetime) -> datetime:
    """'now', an everyday phrase («غدا ١٠ م», "in 2 hours": ``everyday_time``), ISO 8601 (an offset is
    honoured), or a local date-time in ``tz``; returned in UTC."""
    clean = normalise_digits(text).strip()
    if clean.lower() in _NOW_WORDS:
        return now.astimezone(UTC)
    value: datetime | None = parse_everyday(clean, tz=tz, now=now, duration=parse_duration)
    if value is None:
        try:
            value = datetime.fromisoformat(clean.replace("Z", "+00:00"))
        except ValueError:
            value = _local(clean)
    if value is None:
        raise TimeInputError("not_time", text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight
        raise TimeInputError("time_out_of_range", text) from None
    if not EARLIEST <= value < LATEST:
        raise TimeInputError("time_out_of_range", text)
    return value


def parse_end(text: str, *, start: datetime, tz: ZoneInfo, now: datetime) -> datetime | None:
    """An end: 'open' (none), a duration after ``start``, or a time."""
    clean = normalise_digits(text).strip().lower()
    if clean in _OPEN_WORDS:
        return None
    try:
        duration = parse_duration(text)
    except TimeInputError as exc:
        if exc.code != "not_duration":
            raise  # a duration, but an unacceptable one: say so rather than "not a time"
        return parse_when(text, tz=tz, now=now)
    try:
        return start + duration
    except OverflowError:  # a start already near the end of time (only an import can store one)
        raise TimeInputError("time_out_of_range", text) from None


def _local(text: str) -> datetime | None:
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None
