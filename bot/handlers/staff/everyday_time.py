"""Times as Saudi operators type them: «غدا ١٠ م», «الليلة 11 مساء», «بعد ساعتين», «الساعة ١٠ مساءً»,
"today 22:00", "tomorrow 6am", "in 2 hours". ``timeinput.parse_when`` tries these before ISO dates.

A day word (today, tonight, tomorrow, the day after), then an optional «الساعة» / "at", an hour with
optional minutes, and an optional morning/evening word; or "after" / "in" / «بعد» and a duration. Read in
the municipality's zone. "Tonight" with a bare hour means the evening (``tonight 11`` is 23:00), and an
hour after midnight (``tonight 1``) the small hours that follow; "tonight" alone is 22:00.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> riyadh, now = ZoneInfo("Asia/Riyadh"), datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("UTC"))
>>> parse_everyday("غدا 10 م", tz=riyadh, now=now).isoformat()  # typed «غدا ١٠ م», digits folded
'2026-11-28T22:00:00+03:00'
>>> from bot.handlers.staff.timeinput import parse_duration
>>> parse_everyday("بعد ساعتين", tz=riyadh, now=now, duration=parse_duration).astimezone(riyadh).isoformat()
'2026-11-27T15:00:00+03:00'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

TONIGHT_DEFAULT = time(22, 0)
_DAYS = {
    "today": 0, "اليوم": 0, "tonight": 0, "الليلة": 0, "الليله": 0, "tomorrow": 1, "غدا": 1, "غدًا": 1,
    "غداً": 1, "بكرة": 1, "بكره": 1, "بكرا": 1, "day after tomorrow": 2, "بعد غد": 2, "بعد بكرة": 2,
}  # fmt: skip
_TONIGHT = {"tonight", "الليلة", "الليله"}
# Morning and evening words: True for the afternoon and evening (p.m.), False for the morning.
_HALVES = {
    "am": False, "a.m.": False, "a.m": False, "ص": False, "صباحا": False, "صباحًا": False, "صباحاً": False,
    "الصبح": False, "صباح": False, "فجرا": False, "فجرًا": False, "فجراً": False, "الفجر": False,
    "pm": True, "p.m.": True, "p.m": True, "م": True, "مساء": True, "مساءً": True, "مساءا": True,
    "مساءاً": True, "المساء": True, "ظهرا": True, "ظهرًا": True, "ظهراً": True, "الظهر": True,
    "عصرا": True, "عصرًا": True, "العصر": True, "ليلا": True, "ليلًا": True, "ليلاً": True, "بالليل": True,
}  # fmt: skip
_AT = ("الساعة", "الساعه", "الساعة:", "at", "@")
_RELATIVE = re.compile(r"^(?:after|in|بعد)\s+(?P<rest>.+)$", re.IGNORECASE)
_CLOCK = re.compile(r"^(?P<hour>[0-9]{1,2})(?:[:.٫](?P<minute>[0-9]{2}))?\s*(?P<half>\S*)$")
_SPACES = re.compile(r"\s+")


def parse_everyday(
    clean: str, *, tz: ZoneInfo, now: datetime, duration: Callable[[str], timedelta] | None = None
) -> datetime | None:
    """The moment ``clean`` (digits already folded to ASCII) names, or None when it is not such a phrase.

    ``duration`` reads the "after …" part (``timeinput.parse_duration``); without it only clock times.
    """
    text = _SPACES.sub(" ", clean.strip().lower()).replace("،", " ").strip()
    relative = _RELATIVE.match(text)
    if relative and duration is not None and not relative["rest"].startswith(("غد", "بكر", "tomorrow")):
        return now + duration(relative["rest"])
    days, rest, tonight = _day(text)
    if days is None:
        return _clock_today(text, tz=tz, now=now)
    for word in _AT:
        if rest.startswith(word + " ") or rest == word:
            rest = rest[len(word) :].strip()
    if not rest:
        if not tonight:
            return None  # "tomorrow" alone names no hour
        return _at(now, tz, days, TONIGHT_DEFAULT)
    clock = _clock(rest, evening=tonight)
    if clock is None:
        return None
    moment, next_day = clock
    return _at(now, tz, days + next_day, moment)


def _day(text: str) -> tuple[int | None, str, bool]:
    for word in sorted(_DAYS, key=len, reverse=True):
        if text == word or text.startswith(word + " "):
            return _DAYS[word], text[len(word) :].strip(), word in _TONIGHT
    return None, text, False


def _clock_today(text: str, *, tz: ZoneInfo, now: datetime) -> datetime | None:
    """ "10 pm", «١٠ م», «الساعة ١٠ مساءً»: today at that hour (a bare "22:00" is left to the ISO reader)."""
    for word in _AT:
        if text.startswith(word + " "):
            text = text[len(word) :].strip()
    match = _CLOCK.match(text)
    if match is None or not match["half"]:
        return None
    clock = _clock(text, evening=False)
    return None if clock is None else _at(now, tz, clock[1], clock[0])


def _clock(text: str, *, evening: bool) -> tuple[time, int] | None:
    """The time of day ``text`` says, and whether it falls on the next day (the small hours of tonight)."""
    match = _CLOCK.match(text)
    if match is None:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    half = match["half"]
    if minute > 59 or hour > 23:
        return None
    if half:
        pm = _HALVES.get(half)
        if pm is None or not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if pm else 0)
        return time(hour, minute), 0
    if evening and hour < 12:
        if hour < 6:
            return time(hour, minute), 1  # «الليلة ١» is one in the morning, after midnight
        return time(hour + 12, minute), 0
    return time(hour, minute), 0


def _at(now: datetime, tz: ZoneInfo, days: int, moment: time) -> datetime:
    local_day = now.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(local_day, moment, tzinfo=tz)
