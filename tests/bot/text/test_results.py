"""A driver's answer at a glance: one summary line, the closures in force, then upcoming ones in a line each;
and a live warning, one message however many closures are on the way."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.i18n import Translator, get_translator
from bot.text.answers import MESSAGE_LIMIT, live_alert
from bot.text.results import in_force_first, results_page
from closures.lifecycle import Phase
from closures.views import Found
from tests.bot.text.test_answers import NOW, RIYADH, ZONES, many, plain, telegram_length, view


@pytest.fixture
def en() -> Translator:
    return get_translator("en")


@pytest.fixture
def ar() -> Translator:
    return get_translator("ar")


def mixed() -> list[Found]:
    """Two upcoming closures nearer than the two in force, as the query sorts them (nearest first)."""
    soon = view(starts_at=NOW + timedelta(hours=3), severity="full")
    return [
        Found(dataclasses.replace(soon, id=1, title_en="Soon near"), Phase.SCHEDULED, 100.0, "N"),
        Found(view(id=2, title_en="Now near", severity="full"), Phase.ACTIVE, 250.0, "NE", bearing_deg=40.0),
        Found(dataclasses.replace(soon, id=3, title_en="Soon far"), Phase.SCHEDULED, 300.0, "S"),
        Found(view(id=4, title_en="Now far"), Phase.ACTIVE, 900.0, "SW", bearing_deg=220.0),
    ]


def test_in_force_closures_come_first_then_upcoming_each_nearest_first() -> None:
    assert [f.closure.id for f in in_force_first(mixed())] == [2, 4, 1, 3]


def test_the_summary_counts_those_in_force_and_says_what_the_nearest_means(en: Translator) -> None:
    text = results_page(mixed(), en, ZONES, NOW, 5000).text
    lines = text.split("\n")
    assert (
        lines[0] == "<b>2 closures in force within 5.0 km · nearest 250 m north-east: "
        "road closed, take another way</b>"
    )
    assert lines[2:5] == [
        "<b>In force now:</b>",
        "1. <b>Now near</b>",
        "250 m north-east · Fully closed · Until tomorrow 10:00 PM",
    ]
    assert "<b>Starting later:</b>\n3. <b>Soon near</b> · 100 m north · Starts 1:00 PM" in text
    assert text.endswith("4. <b>Soon far</b> · 300 m south · Starts 1:00 PM")


def test_with_nothing_in_force_the_summary_counts_the_upcoming_ones(en: Translator, ar: Translator) -> None:
    upcoming = [f for f in mixed() if f.phase is Phase.SCHEDULED]
    assert results_page(upcoming, en, ZONES, NOW, 5000).text.startswith(
        "<b>Nothing in force within 5.0 km now · 2 closures starting within a day</b>"
        "\n\n<b>Starting later:</b>"
    )
    assert plain(results_page(upcoming, ar, ZONES, NOW, 5000).text).startswith(
        "<b>لا إغلاقات سارية الآن في نطاق ٥٫٠ كم · إغلاقان يبدآن خلال يوم</b>"
    )


def test_on_a_live_trip_closures_read_on_your_way_or_behind_you(en: Translator) -> None:
    text = results_page(mixed(), en, ZONES, NOW, 5000, heading_deg=30.0).text
    assert "nearest 250 m on your way: road closed" in text  # 40° off a 30° heading: ahead
    assert "\n900 m behind you · " in text  # 220°: behind
    assert "100 m north" in text  # an upcoming closure measured without a bearing keeps its compass point


def test_pages_after_the_first_carry_no_summary_and_keep_the_numbering(en: Translator) -> None:
    found = many(25)
    first = results_page(found, en, ZONES, NOW, 5000)
    assert (first.shown, first.next_offset) == (10, 10)
    assert first.text.startswith("<b>25 closures in force within 5.0 km · nearest 500 m north:")
    assert first.text.endswith("…and 15 more closures.")
    last = results_page(found, en, ZONES, NOW, 5000, offset=20)
    assert (last.shown, last.next_offset) == (5, None)
    assert last.text.startswith("<b>In force now:</b>\n21. <b>Closure number 21</b>")
    assert "closures in force within" not in last.text


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_long_titles_and_lanes_shrink_the_page_to_fit_one_message(lang: str) -> None:
    tr = get_translator(lang)
    found = many(25, lanes_ar="ح" * 200, lanes_en="l" * 200, title_ar="ع" * 5000)
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = results_page(found, tr, ZONES, NOW, 5000, offset=offset)
        assert telegram_length(page.text) < MESSAGE_LIMIT
        assert page.text.count("<b>") == page.text.count("</b>")
        offset, pages = page.next_offset, pages + 1
    assert pages > 2


def test_a_live_warning_is_one_message_and_says_when_an_upcoming_closure_begins(
    en: Translator, ar: Translator
) -> None:
    now_one, soon_one = mixed()[1], mixed()[0]
    assert live_alert([now_one], en, RIYADH, NOW) == "⚠️ Closure on your way: Now near in 250 m"
    assert live_alert([soon_one], en, RIYADH, NOW) == "⚠️ Closure on your way from 1:00 PM: Soon near in 100 m"
    both = live_alert([now_one, soon_one], en, RIYADH, NOW)
    assert both == "<b>⚠️ 2 closures on your way:</b>\n• Now near in 250 m\n• Soon near in 100 m, from 1:00 PM"
    assert plain(live_alert([soon_one], ar, RIYADH, NOW)).startswith("⚠️ إغلاق في طريقك يبدأ ١:٠٠ م: ")
