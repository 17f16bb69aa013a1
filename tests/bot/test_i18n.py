"""The catalogues agree with each other, and numbers, distances and times read right in both languages."""

from __future__ import annotations

import gettext
import logging
import re
import string
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import (
    FSI,
    LANGUAGES,
    PDI,
    Translator,
    get_translator,
    isolate,
    read_catalog,
    resolve_language,
)
from geo.errors import Reason as GeoReason
from geo.measure import COMPASS_CODES

RIYADH = ZoneInfo("Asia/Riyadh")
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # Friday 10:00 in Riyadh
AR_DIGITS = re.compile(r"^[٠-٩٬٫]+$")


def plain(text: str) -> str:
    """Text without direction isolates, as a reader sees it."""
    return text.replace(FSI, "").replace(PDI, "")


def messages(lang: str) -> dict[str, tuple[str, ...]]:
    """Key → its msgstr forms (one for a simple message, nplurals for a plural one)."""
    out = {}
    for message in read_catalog(lang):
        if not message.id:
            continue
        key = message.id[0] if message.pluralizable else message.id
        out[key] = tuple(message.string) if message.pluralizable else (message.string,)
    return out


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.fixture(scope="module")
def ar() -> Translator:
    return get_translator("ar")


@pytest.fixture(scope="module")
def en() -> Translator:
    return get_translator("en")


# --- the catalogues ---


def test_both_catalogues_have_exactly_the_same_keys() -> None:
    assert set(messages("ar")) == set(messages("en"))


def test_every_key_has_the_same_placeholders_in_every_form_of_both_languages() -> None:
    ar_messages, en_messages = messages("ar"), messages("en")
    for key, en_forms in en_messages.items():
        forms = en_forms + ar_messages[key]
        # Arabic plural forms may spell the count out ("إغلاق واحد", "إغلاقان"): {count} aside, all agree.
        expected = fields(en_forms[0]) - {"count"}
        for form in forms:
            assert fields(form) - {"count"} == expected, (key, form)


def test_plural_messages_are_plural_in_both_languages_with_every_form_filled() -> None:
    ar_messages, en_messages = messages("ar"), messages("en")
    for key, en_forms in en_messages.items():
        ar_forms = ar_messages[key]
        assert (len(en_forms) > 1) == (len(ar_forms) > 1), key
        if len(en_forms) > 1:
            assert len(en_forms) == 2, key
            assert len(ar_forms) == 6, key
            assert all("count" in fields(form) for form in (*en_forms, *ar_forms[3:])), key
        assert all(form.strip() for form in (*en_forms, *ar_forms)), key


def test_catalogue_texts_are_safe_telegram_html_and_arabic_writes_arabic_digits() -> None:
    for lang in LANGUAGES:
        for key, forms in messages(lang).items():
            for form in forms:
                assert not set(form) & set("<>&"), (lang, key)
                if lang == "ar":
                    assert not re.search(r"[0-9]", form), key


def test_every_geo_error_reason_has_a_message() -> None:
    keys = set(messages("en"))
    for reason in GeoReason:
        assert f"geo.{reason.value}" in keys


def test_plural_forms_come_from_the_headers() -> None:
    assert read_catalog("ar").num_plurals == 6
    assert read_catalog("en").num_plurals == 2


# --- plurals ---


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "لا توجد إغلاقات في نطاق"),
        (1, "إغلاق واحد في نطاق"),
        (2, "إغلاقان في نطاق"),
        (3, "٣ إغلاقات في نطاق"),
        (10, "١٠ إغلاقات في نطاق"),
        (11, "١١ إغلاقًا في نطاق"),
        (99, "٩٩ إغلاقًا في نطاق"),
        (100, "١٠٠ إغلاق في نطاق"),
        (101, "١٠١ إغلاق في نطاق"),
        (103, "١٠٣ إغلاقات في نطاق"),
        (111, "١١١ إغلاقًا في نطاق"),
    ],
)
def test_arabic_plural_agrees_with_the_count(ar: Translator, count: int, expected: str) -> None:
    text = plain(ar.n("results.header", count, radius=ar.distance(5000)))
    assert text.startswith(expected)
    assert text.endswith("٥٫٠ كم منك:") or count == 0


def test_english_plural_agrees_with_the_count(en: Translator) -> None:
    assert en.n("results.header", 1, radius="5.0 km") == "1 closure within 5.0 km:"
    assert en.n("results.header", 2, radius="5.0 km") == "2 closures within 5.0 km:"
    assert en.n("route.header", 1234, length="12 km") == "1,234 closures along your route (12 km):"


# --- numbers and distances ---


def test_arabic_numbers_use_only_arabic_indic_digits(ar: Translator) -> None:
    for value in (0, 7, 42, 1234567, 98765.4321):
        for decimals in (0, 1):
            assert AR_DIGITS.match(ar.number(value, decimals)), value
    assert ar.number(1234567) == "١٬٢٣٤٬٥٦٧"
    assert ar.number(2.35, 1) == "٢٫٤"


def test_english_numbers_round_half_up_and_group(en: Translator) -> None:
    assert en.number(2.35, 1) == "2.4"
    assert en.number(2.5) == "3"
    assert en.number(1234567.25, 1) == "1,234,567.3"
    with pytest.raises(ValueError, match="decimals"):
        en.number(1, 2)


@pytest.mark.parametrize(
    ("metres", "english", "arabic"),
    [
        (0, "0 m", "٠ م"),
        (3, "10 m", "١٠ م"),
        (844, "840 m", "٨٤٠ م"),
        (845, "850 m", "٨٥٠ م"),
        (994.9, "990 m", "٩٩٠ م"),
        (995, "1.0 km", "١٫٠ كم"),
        (2345, "2.3 km", "٢٫٣ كم"),
        (2350, "2.4 km", "٢٫٤ كم"),
        (9949, "9.9 km", "٩٫٩ كم"),
        (9950, "10 km", "١٠ كم"),
        (12_600, "13 km", "١٣ كم"),
        (-5, "0 m", "٠ م"),
    ],
)
def test_distance_rounds_to_tens_of_metres_then_tenths_then_whole_km(
    en: Translator, ar: Translator, metres: float, english: str, arabic: str
) -> None:
    assert en.distance(metres) == english
    assert ar.distance(metres) == arabic


# --- compass ---

EN_COMPASS = {
    "N": "north", "NE": "north-east", "E": "east", "SE": "south-east",
    "S": "south", "SW": "south-west", "W": "west", "NW": "north-west",
}  # fmt: skip
AR_COMPASS = {
    "N": "الشمال", "NE": "الشمال الشرقي", "E": "الشرق", "SE": "الجنوب الشرقي",
    "S": "الجنوب", "SW": "الجنوب الغربي", "W": "الغرب", "NW": "الشمال الغربي",
}  # fmt: skip
# Drivers' words: 8 points at most. A code between two reads as the cardinal one ("north-north-east" → north).
BETWEEN = {"NNE": "N", "ENE": "E", "ESE": "E", "SSE": "S", "SSW": "S", "WSW": "W", "WNW": "W", "NNW": "N"}


@pytest.mark.parametrize("code", COMPASS_CODES)
def test_every_compass_code_reads_as_one_of_eight_words_in_both_languages(
    en: Translator, ar: Translator, code: str
) -> None:
    eight = BETWEEN.get(code, code)
    assert en.compass(code) == EN_COMPASS[eight]
    assert ar.compass(code) == AR_COMPASS[eight]


def test_compass_words_are_distinct() -> None:
    assert len(set(EN_COMPASS.values())) == len(set(AR_COMPASS.values())) == 8


def test_a_heading_reads_as_drivers_say_it(en: Translator, ar: Translator) -> None:
    assert en.t("direction.one_heading", heading=en.heading("SSE")) == "only for traffic heading south"
    assert plain(ar.t("direction.one_heading", heading=ar.heading("S"))) == "للحركة المتجهة جنوبًا فقط"
    assert plain(ar.heading("NE")) == "إلى الشمال الشرقي"


def test_distance_and_direction_read_as_a_phrase(en: Translator, ar: Translator) -> None:
    assert en.t("closure.distance_direction", distance=en.distance(2300), direction=en.compass("NE")) == (
        "2.3 km north-east"
    )
    phrase = ar.t("closure.distance_direction", distance=ar.distance(2300), direction=ar.compass("NE"))
    assert plain(phrase) == "٢٫٣ كم إلى الشمال الشرقي"


# --- time ---


@pytest.mark.parametrize(
    ("riyadh_time", "english", "arabic"),
    [
        (datetime(2026, 11, 27, 18, 0), "6:00 PM", "٦:٠٠ م"),
        (datetime(2026, 11, 27, 9, 30), "9:30 AM", "٩:٣٠ ص"),
        (datetime(2026, 11, 28, 22, 0), "tomorrow 10:00 PM", "غدًا ١٠:٠٠ م"),
        (datetime(2026, 11, 26, 8, 0), "yesterday 8:00 AM", "أمس ٨:٠٠ ص"),
        (datetime(2026, 11, 30, 6, 0), "Monday 6:00 AM", "الاثنين ٦:٠٠ ص"),
        (datetime(2026, 12, 3, 18, 0), "Thursday 6:00 PM", "الخميس ٦:٠٠ م"),
        (datetime(2026, 12, 7, 18, 0), "7 December 6:00 PM", "٧ ديسمبر ٦:٠٠ م"),
        (datetime(2027, 1, 15, 18, 0), "15 January 2027 6:00 PM", "١٥ يناير ٢٠٢٧ ٦:٠٠ م"),
    ],
)
def test_time_is_told_relative_to_now_in_riyadh(
    en: Translator, ar: Translator, riyadh_time: datetime, english: str, arabic: str
) -> None:
    at = riyadh_time.replace(tzinfo=RIYADH).astimezone(UTC)
    assert en.time(at, RIYADH, NOW) == english
    assert ar.time(at, RIYADH, NOW) == arabic


def test_tomorrow_is_reckoned_in_the_municipality_zone_not_utc(en: Translator) -> None:
    late_friday = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # 23:00 in Riyadh
    after_midnight = late_friday + timedelta(hours=2)  # still Friday in UTC, Saturday 01:00 in Riyadh
    assert en.time(after_midnight, RIYADH, late_friday) == "tomorrow 1:00 AM"


# --- languages ---


@pytest.mark.parametrize(
    ("stored", "telegram", "default", "expected"),
    [
        (None, "en-US", "ar", "en"),
        (None, "en", "ar", "en"),
        (None, "ar", "en", "ar"),
        (None, "ar-SA", "en", "ar"),
        ("ar", "en-GB", "en", "ar"),
        ("en", "ar", "ar", "en"),
        ("EN", None, "ar", "en"),
        (None, "fr", "ar", "ar"),
        (None, "fr", "en", "en"),
        (None, None, "ar", "ar"),
        ("xx", "pt_BR", "ar", "ar"),
        (None, "", "de", "ar"),
    ],
)
def test_resolve_language(stored: str | None, telegram: str | None, default: str, expected: str) -> None:
    assert resolve_language(stored, telegram, default) == expected


def test_get_translator_is_cached_and_takes_telegram_codes() -> None:
    assert get_translator("ar") is get_translator("ar")
    assert get_translator("en-US") is get_translator("en")
    assert get_translator("fr").lang == "ar"


# --- right-to-left safety ---


def test_arabic_isolates_every_interpolated_value(ar: Translator) -> None:
    assert ar.t("radius.set", radius=ar.distance(2300)) == f"تم ضبط نطاق البحث على {isolate('٢٫٣ كم')}."
    alert = ar.t("live.alert", title="King Fahd Rd", distance=ar.distance(850))
    assert alert == f"⚠️ إغلاق في طريقك: {isolate('King Fahd Rd')} بعد {isolate('٨٥٠ م')}"


def test_arabic_isolates_latin_runs_written_in_the_catalogue(ar: Translator) -> None:
    text = ar.t("help.text")
    commands = ("/radius", "/language", "/places", "/subscribe", "/forget", "/route")
    for run in (*commands, "Google", "Apple", "OpenStreetMap", "English"):
        assert isolate(run) in text
    assert not re.search("[A-Za-z]", re.sub(f"{FSI}[^{PDI}]*{PDI}", "", text))


def test_arabic_numbers_from_callers_are_formatted_and_isolated(ar: Translator) -> None:
    assert ar.t("places.too_many", max=25) == (
        f"وصلت إلى الحد الأقصى للأماكن المحفوظة ({isolate('٢٥')}). احذف أحدها أولًا من {isolate('/places')}."
    )


def test_english_isolates_only_right_to_left_values(en: Translator) -> None:
    alert = en.t("live.alert", title="King Fahd Rd", distance="850 m")
    assert alert == "⚠️ Closure on your way: King Fahd Rd in 850 m"
    assert isolate("طريق الملك فهد") in en.t("live.alert", title="طريق الملك فهد", distance="850 m")


# --- never raising at the user ---


def test_missing_key_falls_back_to_english_then_to_the_key(
    en: Translator, caplog: pytest.LogCaptureFixture
) -> None:
    bare_arabic = Translator("ar", gettext.NullTranslations(), fallback=en)
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert bare_arabic.t("button.more") == "Show more"
        assert bare_arabic.n("results.more", 3) == f"…and {isolate('٣')} more closures."
        assert en.t("no.such.key") == "no.such.key"
    assert "button.more" in caplog.text
    assert "no.such.key" in caplog.text


def test_a_missing_placeholder_value_is_left_blank_not_raised(en: Translator) -> None:
    assert en.t("radius.set") == "Search radius set to ."
    assert en.t("radius.set", radius="3.0 km", unused="x") == "Search radius set to 3.0 km."
