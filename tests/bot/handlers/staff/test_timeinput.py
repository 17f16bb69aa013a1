"""Times and durations as operators type them: English or Arabic words, any digits, read in Asia/Riyadh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.handlers.staff.timeinput import MAX_DURATION, TimeInputError, parse_duration, parse_end, parse_when

RIYADH = ZoneInfo("Asia/Riyadh")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3h", timedelta(hours=3)),
        ("3 H", timedelta(hours=3)),
        ("90 min", timedelta(minutes=90)),
        ("1h30m", timedelta(minutes=90)),
        ("1h, 30m", timedelta(minutes=90)),
        ("1.5 hours", timedelta(minutes=90)),
        ("2 days", timedelta(days=2)),
        ("٣ ساعات", timedelta(hours=3)),
        ("۳ ساعات", timedelta(hours=3)),  # Persian digits
        ("ساعة", timedelta(hours=1)),
        ("ساعتين", timedelta(hours=2)),
        ("يومين", timedelta(days=2)),
        ("٤٥ دقيقة", timedelta(minutes=45)),
        ("ساعة و٣٠ دقيقة", timedelta(minutes=90)),
        ("ساعتين و ١٥ دقيقة", timedelta(minutes=135)),
        ("366 days", MAX_DURATION),
    ],
)
def test_duration_is_read_in_english_and_arabic(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "not_duration"),
        ("   ", "not_duration"),
        ("0h", "not_duration"),
        ("0.001 min", "not_duration"),  # rounds to no time at all
        ("-3h", "not_duration"),
        ("3", "not_duration"),
        ("3 bananas", "not_duration"),
        ("h3", "not_duration"),
        ("3h 3", "not_duration"),
        ("1.5.5h", "not_duration"),
        ("و", "not_duration"),
        ("367 days", "duration_too_long"),
        ("9" * 400 + "h", "duration_too_long"),
    ],
)
def test_duration_refusals_carry_a_code(text: str, code: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_duration(text)
    assert caught.value.code == code
    assert caught.value.text == text


_UNITS = ["h", "hours", "min", "m", "d", "days", "ساعة", "ساعات", "ساعتين", "دقيقة", "يوم", "يومين", "x", "و"]


@settings(deadline=None)  # a loaded CI machine is no bug
@given(st.text(max_size=40))
def test_duration_of_any_text_is_positive_or_a_time_input_error(text: str) -> None:
    try:
        duration = parse_duration(text)
    except TimeInputError as exc:
        code = exc.code
    else:
        assert timedelta(0) < duration <= MAX_DURATION
        return
    assert code in ("not_duration", "duration_too_long")


@settings(deadline=None)  # a loaded CI machine is no bug
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.decimals(0, 10_000, places=3).map(str), st.integers(0, 10**6).map(str)),
            st.sampled_from(_UNITS),
            st.sampled_from(["", " ", ", ", " و", "٫", "."]),
        ),
        max_size=4,
    )
)
def test_duration_of_unit_like_text_is_positive_or_a_time_input_error(
    parts: list[tuple[str | None, str, str]],
) -> None:
    text = "".join(f"{amount or ''}{unit}{gap}" for amount, unit, gap in parts)
    try:
        duration = parse_duration(text)
    except TimeInputError:
        return
    assert timedelta(0) < duration <= MAX_DURATION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28 22:00", datetime(2026, 11, 28, 19, 0, tzinfo=UTC)),
        ("2026-11-28T22:00", datetime(2026, 11, 28, 19, 0, tzinfo=UTC)),
        ("٢٠٢٦-١١-٢٨ ٢٢:٠٠", datetime(2026, 11, 28, 19, 0, tzinfo=UTC)),
        ("28/11/2026 22:00", datetime(2026, 11, 28, 19, 0, tzinfo=UTC)),
        ("2026-11-28", datetime(2026, 11, 27, 21, 0, tzinfo=UTC)),  # local midnight
        ("2026-11-29 01:30", datetime(2026, 11, 28, 22, 30, tzinfo=UTC)),  # across UTC midnight
    ],
)
def test_local_time_is_read_in_the_municipality_zone_and_returned_in_utc(
    text: str, expected: datetime
) -> None:
    got = parse_when(text, tz=RIYADH, now=NOW)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T22:00+01:00", datetime(2026, 11, 28, 21, 0, tzinfo=UTC)),
        ("2026-11-28T22:00Z", datetime(2026, 11, 28, 22, 0, tzinfo=UTC)),
        ("2026-11-28T22:00:00+03:00", datetime(2026, 11, 28, 19, 0, tzinfo=UTC)),
    ],
)
def test_an_iso_offset_is_honoured_over_the_zone(text: str, expected: datetime) -> None:
    assert parse_when(text, tz=RIYADH, now=NOW) == expected


@pytest.mark.parametrize("word", ["now", "NOW", " now ", "الآن", "الان", "حالا"])
def test_now_in_either_language_is_the_clock(word: str) -> None:
    riyadh_now = NOW.astimezone(RIYADH)
    got = parse_when(word, tz=RIYADH, now=riyadh_now)
    assert got == NOW
    assert got.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("tomorrow", "not_time"),
        ("", "not_time"),
        ("2026-13-01 10:00", "not_time"),
        ("25:00", "not_time"),
        ("0001-01-01 00:00", "time_out_of_range"),  # before UTC midnight of year 1: overflows
        ("9999-12-31 23:00", "time_out_of_range"),
        ("1066-10-14 09:00", "time_out_of_range"),
    ],
)
def test_unreadable_or_impossible_times_raise_with_a_code(text: str, code: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_when(text, tz=RIYADH, now=NOW)
    assert caught.value.code == code


@settings(deadline=None)  # a loaded CI machine is no bug
@given(st.text(max_size=40))
def test_when_of_any_text_is_utc_or_a_time_input_error(text: str) -> None:
    try:
        got = parse_when(text, tz=RIYADH, now=NOW)
    except TimeInputError:
        return
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("word", ["open", "OPEN", "open-ended", "none", "-", "مفتوح", "بدون", "غير محدد"])
def test_an_open_end_is_none(word: str) -> None:
    assert parse_end(word, start=NOW, tz=RIYADH, now=NOW) is None


def test_an_end_may_be_a_duration_after_the_start_or_a_time() -> None:
    start = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
    assert parse_end("3h", start=start, tz=RIYADH, now=NOW) == start + timedelta(hours=3)
    assert parse_end("٣ ساعات", start=start, tz=RIYADH, now=NOW) == start + timedelta(hours=3)
    assert parse_end("2026-11-29 04:00", start=start, tz=RIYADH, now=NOW) == datetime(
        2026, 11, 29, 1, 0, tzinfo=UTC
    )


def test_an_end_that_is_neither_raises() -> None:
    with pytest.raises(TimeInputError):
        parse_end("soonish", start=NOW, tz=RIYADH, now=NOW)


def test_a_duration_past_the_end_of_time_raises_instead_of_overflowing() -> None:
    start = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)  # only an imported file could store such a start
    with pytest.raises(TimeInputError) as caught:
        parse_end("3 days", start=start, tz=RIYADH, now=NOW)
    assert caught.value.code == "time_out_of_range"


def test_end_duration_too_long_says_so_rather_than_not_a_time() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import pytest

    from bot.handlers.staff.timeinput import TimeInputError, parse_end

    start = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    with pytest.raises(TimeInputError) as info:
        parse_end("400 days", start=start, tz=ZoneInfo("Asia/Riyadh"), now=start)
    assert info.value.code == "duration_too_long"


# --- times as Saudi operators type them (issue 14) ---------------------------------------------------------

LATE = datetime(2026, 11, 27, 20, 40, tzinfo=UTC)  # 23:40 in Riyadh, Friday


def riyadh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=RIYADH).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("غدا ١٠ م", riyadh(28, 22)),
        ("غدًا ١٠ م", riyadh(28, 22)),
        ("الليلة 11 مساء", riyadh(27, 23)),
        ("الليلة ١١ مساءً", riyadh(27, 23)),
        ("الليلة ١", riyadh(28, 1)),  # after midnight: the small hours that follow tonight
        ("الليلة", riyadh(27, 22)),
        ("بعد ساعتين", LATE + timedelta(hours=2)),
        ("بعد ٣ ساعات", LATE + timedelta(hours=3)),
        ("in 90 min", LATE + timedelta(minutes=90)),
        ("after 2 hours", LATE + timedelta(hours=2)),
        ("الساعة ١٠ مساءً", riyadh(27, 22)),
        ("١٠:٣٠ ص", riyadh(27, 10, 30)),
        ("10:30pm", riyadh(27, 22, 30)),
        ("today 22:00", riyadh(27, 22)),
        ("tonight", riyadh(27, 22)),
        ("tomorrow 6am", riyadh(28, 6)),
        ("tomorrow 06:00", riyadh(28, 6)),
        ("بكرة الساعة ٧ صباحًا", riyadh(28, 7)),
        ("بعد غد ٨ ص", riyadh(29, 8)),
        ("اليوم ١٢ م", riyadh(27, 12)),  # noon
        ("اليوم ١٢ ص", riyadh(27, 0)),  # midnight
        ("غدا ١ الظهر", riyadh(28, 13)),
    ],
)
def test_everyday_times_are_read_as_operators_type_them(text: str, expected: datetime) -> None:
    assert parse_when(text, tz=RIYADH, now=LATE) == expected


@pytest.mark.parametrize(
    "text", ["غدا", "tomorrow", "الليلة ١٣ م", "غدا ٢٥", "today 10:75", "بعد", "tonight x"]
)
def test_everyday_phrases_without_a_readable_hour_are_refused(text: str) -> None:
    with pytest.raises(TimeInputError):
        parse_when(text, tz=RIYADH, now=LATE)


DAY_WORDS = {"today": 0, "اليوم": 0, "tomorrow": 1, "غدا": 1, "غدًا": 1, "بكرة": 1, "بعد غد": 2}
HALVES = {
    "am": False,
    "ص": False,
    "صباحًا": False,
    "صباحا": False,
    "pm": True,
    "م": True,
    "مساءً": True,
    "مساء": True,
}
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@settings(max_examples=300, deadline=None)
@given(
    day=st.sampled_from(sorted(DAY_WORDS)),
    at=st.sampled_from(["", "الساعة ", "at "]),
    hour=st.integers(1, 12),
    minute=st.one_of(st.none(), st.integers(0, 59)),
    half=st.sampled_from(sorted(HALVES)),
    spaced=st.booleans(),
    arabic_digits=st.booleans(),
    now_minutes=st.integers(0, 24 * 60 - 1),
)
def test_a_day_an_hour_and_a_half_of_the_day_in_any_digits_is_that_moment(
    day: str,
    at: str,
    hour: int,
    minute: int | None,
    half: str,
    spaced: bool,
    arabic_digits: bool,
    now_minutes: int,
) -> None:
    now = datetime(2026, 11, 27, tzinfo=RIYADH) + timedelta(minutes=now_minutes)
    clock = f"{hour}" if minute is None else f"{hour}:{minute:02d}"
    if arabic_digits:
        clock = clock.translate(ARABIC_INDIC)
    text = f"{day} {at}{clock}{' ' if spaced else ''}{half}"
    hour24 = hour % 12 + (12 if HALVES[half] else 0)
    expected_day = now.date() + timedelta(days=DAY_WORDS[day])
    expected = datetime(
        expected_day.year, expected_day.month, expected_day.day, hour24, minute or 0, tzinfo=RIYADH
    )
    assert parse_when(text, tz=RIYADH, now=now.astimezone(UTC)) == expected.astimezone(UTC)


@settings(max_examples=200, deadline=None)
@given(hours=st.integers(1, 48), word=st.sampled_from(["بعد", "after", "in"]), arabic=st.booleans())
def test_after_n_hours_is_that_long_from_now(hours: int, word: str, arabic: bool) -> None:
    unit = "ساعات" if arabic else "hours"
    count = str(hours).translate(ARABIC_INDIC) if arabic else str(hours)
    assert parse_when(f"{word} {count} {unit}", tz=RIYADH, now=NOW) == NOW + timedelta(hours=hours)
