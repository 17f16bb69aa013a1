"""Closures rendered for drivers: what they read, in both languages, always within one Telegram message."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import LineString, Point

from bot.i18n import FSI, PDI, Translator, get_translator
from bot.text.answers import (
    MESSAGE_LIMIT,
    closure_line,
    none_nearby,
    route_message,
)
from closures.lifecycle import Phase, phase_at
from closures.views import ClosureView, Found
from geo.measure import direction_code, distance_m, geodesic_m, nearest_point_on

RIYADH = ZoneInfo("Asia/Riyadh")
ZONES = {1: RIYADH}
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # Friday 10:00 in Riyadh
# King Fahd Road, southbound, from Al Urubah Road towards Makkah Road (sample closure riyadh-001).
KING_FAHD = LineString(
    [(46.671460, 24.712400), (46.675220, 24.705000), (46.678826, 24.697900), (46.683856, 24.688000)]
)
MASMAK = Point(46.7133, 24.6312)  # Al Masmak fortress, where the driver stands


def plain(text: str) -> str:
    return text.replace(FSI, "").replace(PDI, "")


def telegram_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def view(**changes: Any) -> ClosureView:
    base = ClosureView(
        id=1,
        municipality_id=1,
        ref="riyadh-001",
        kind="line",
        geometry=KING_FAHD,
        radius_m=None,
        reason="roadworks",
        severity="partial",
        lanes_ar="الحارتان اليمنيتان مغلقتان",
        lanes_en="Two right lanes closed",
        direction="one",
        heading="SSE",
        starts_at=NOW - timedelta(hours=30),
        ends_at=datetime(2026, 11, 28, 22, 0, tzinfo=RIYADH),
        status="open",
        title_ar="إغلاق جزئي لطريق الملك فهد جنوبًا بين طريق العروبة وطريق مكة المكرمة",
        title_en="King Fahd Rd southbound partly closed, Al Urubah Rd to Makkah Rd",
        detour_ar="استخدم شارع العليا باتجاه الجنوب حتى طريق مكة المكرمة.",
        detour_en="Use Olaya Street southbound as far as Makkah Al Mukarramah Road.",
        version=1,
    )
    return dataclasses.replace(base, **changes)


def found_from(driver: Point, closure: ClosureView, **changes: Any) -> Found:
    """A Found as the query side builds it, from the driver's position."""
    found = Found(
        closure,
        phase_at(closure, NOW),
        distance_m(driver, closure.geometry),
        direction_code(driver, closure.geometry),
    )
    return dataclasses.replace(found, **changes)


@pytest.fixture(scope="module")
def ar() -> Translator:
    return get_translator("ar")


@pytest.fixture(scope="module")
def en() -> Translator:
    return get_translator("en")


def test_king_fahd_road_lies_seven_km_north_north_west_of_masmak() -> None:
    """The numbers the rendering tests expect, checked on the ellipsoid."""
    found = found_from(MASMAK, view())
    assert geodesic_m(MASMAK, nearest_point_on(KING_FAHD, MASMAK)) == pytest.approx(6960, abs=50)
    assert found.direction == "NNW"  # the road lies north-north-west of the driver


def test_closure_line_in_english(en: Translator) -> None:
    text = closure_line(found_from(MASMAK, view()), en, RIYADH, NOW)
    assert text.splitlines() == [
        "<b>King Fahd Rd southbound partly closed, Al Urubah Rd to Makkah Rd</b>",
        "🚧 Roadworks · 7.0 km north",  # drivers' 8 points: north-north-west reads "north"
        "Partly closed: Two right lanes closed · only for traffic heading south",  # as the title says
        "🕒 Until tomorrow 10:00 PM",
        "🔀 Detour: Use Olaya Street southbound as far as Makkah Al Mukarramah Road.",
    ]


def test_closure_line_in_arabic(ar: Translator) -> None:
    text = closure_line(found_from(MASMAK, view()), ar, RIYADH, NOW)
    assert plain(text).splitlines() == [
        "<b>إغلاق جزئي لطريق الملك فهد جنوبًا بين طريق العروبة وطريق مكة المكرمة</b>",
        "🚧 أعمال طرق · ٧٫٠ كم إلى الشمال",
        "إغلاق جزئي: الحارتان اليمنيتان مغلقتان · للحركة المتجهة جنوبًا فقط",  # «جنوبًا», as the title
        "🕒 حتى غدًا ١٠:٠٠ م",
        "🔀 الطريق البديل: استخدم شارع العليا باتجاه الجنوب حتى طريق مكة المكرمة.",
    ]
    assert f"{FSI}٧٫٠ كم{PDI}" in text


def test_scheduled_open_ended_full_closure_in_both_directions(en: Translator, ar: Translator) -> None:
    closure = view(
        reason="event",
        severity="full",
        direction="both",
        heading=None,
        starts_at=datetime(2026, 11, 30, 18, 0, tzinfo=RIYADH),
        ends_at=None,
        detour_en=None,
    )
    found = found_from(MASMAK, closure)
    assert found.phase is Phase.SCHEDULED
    lines = closure_line(found, en, RIYADH, NOW).splitlines()
    assert lines[1].startswith("🎪 Event · ")
    assert lines[2:] == [
        "Fully closed · both directions",
        "🕒 Starts Monday 6:00 PM · Until further notice",
        # no English detour, so the Arabic one, isolated in the English sentence
        f"🔀 Detour: {FSI}استخدم شارع العليا باتجاه الجنوب حتى طريق مكة المكرمة.{PDI}",
    ]
    arabic = plain(closure_line(found, ar, RIYADH, NOW))
    assert "إغلاق كلي · في الاتجاهين" in arabic
    assert "🕒 يبدأ الاثنين ٦:٠٠ م · حتى إشعار آخر" in arabic


def test_open_ended_active_closure_says_when_it_started(en: Translator) -> None:
    found = found_from(MASMAK, view(ends_at=None))
    assert "🕒 Started yesterday 4:00 AM · Until further notice" in closure_line(found, en, RIYADH, NOW)


def test_a_driver_inside_the_closed_area_is_told_so(en: Translator, ar: Translator) -> None:
    area = Point(46.6753, 24.7136).buffer(0.002)
    driver = Point(46.6753, 24.7136)
    found = found_from(driver, view(kind="area", geometry=area, reason="flood"))
    assert found.distance_m == 0
    assert found.direction is None
    assert "🌊 Flooding · You are inside the closed area" in closure_line(found, en, RIYADH, NOW)
    assert "أنت داخل منطقة الإغلاق" in closure_line(found, ar, RIYADH, NOW)


def test_english_list_falls_back_to_the_arabic_title(en: Translator) -> None:
    text = closure_line(found_from(MASMAK, view(title_en=None)), en, RIYADH, NOW)
    assert text.splitlines()[0] == f"<b>{FSI}{view().title_ar}{PDI}</b>"


def test_user_values_are_html_escaped(en: Translator, ar: Translator) -> None:
    closure = view(
        title_en="Road <b>& co",
        title_ar="طريق <b>& شركاه",
        lanes_en="<i>left</i> lane",
        detour_en="<script>alert(1)</script> & go",
    )
    text = closure_line(found_from(MASMAK, closure), en, RIYADH, NOW)
    assert "<b>Road &lt;b&gt;&amp; co</b>" in text
    assert "&lt;i&gt;left&lt;/i&gt; lane" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; go" in text
    assert "<b>&" not in text
    assert "<script>" not in text
    assert "<i>" not in text
    assert re.findall(r"</?[a-z]+>", text) == ["<b>", "</b>"]
    assert "طريق &lt;b&gt;&amp; شركاه" in closure_line(found_from(MASMAK, closure), ar, RIYADH, NOW)


def many(count: int, **changes: Any) -> list[Found]:
    """``count`` closures along King Fahd Road, nearest first."""
    out = []
    for i in range(count):
        closure = view(id=i + 1, ref=f"riyadh-{i + 1:03d}", title_en=f"Closure number {i + 1}", **changes)
        out.append(Found(closure, Phase.ACTIVE, 500.0 + 100 * i, "NNW"))
    return out


def test_route_message_places_closures_by_kilometre(en: Translator, ar: Translator) -> None:
    found = [
        Found(view(id=1, title_en="First"), Phase.ACTIVE, 20.0, "E", position_m=1240.0),
        Found(view(id=2, title_en="Second", severity="full"), Phase.ACTIVE, 5.0, "W", position_m=8020.0),
    ]
    text = route_message(found, en, ZONES, NOW, 12_400, approximate=True, blocked=True)
    parts = text.split("\n\n")
    assert parts[0] == "<b>2 closures along your route (12 km):</b>"
    assert parts[1].startswith("⛔ A full closure blocks your route.")
    assert parts[2].startswith("1. <b>First</b>\n🚧 Roadworks · At km 1.2 of your route")
    assert parts[3].startswith("2. <b>Second</b>\n🚧 Roadworks · At km 8.0 of your route")
    assert parts[4].startswith("ℹ️ The route is approximate: a straight line")
    arabic = plain(route_message(found, ar, ZONES, NOW, 12_400, approximate=False, blocked=False))
    assert arabic.startswith("<b>إغلاقان على مسارك (١٢ كم):</b>")
    assert "عند الكيلومتر ١٫٢ من مسارك" in arabic
    assert "تقريبي" not in arabic


def test_route_without_closures_is_clear(en: Translator) -> None:
    text = route_message([], en, ZONES, NOW, 3_000, approximate=False, blocked=False)
    assert text == "No closures along your route (3.0 km). Drive safely!"


def test_long_route_list_fits_one_message_and_counts_the_rest(en: Translator) -> None:
    closures = many(60, detour_en="x" * 900)
    found = [dataclasses.replace(f, position_m=100.0 * i) for i, f in enumerate(closures)]
    text = route_message(found, en, ZONES, NOW, 40_000, approximate=True, blocked=False)
    assert telegram_length(text) < MESSAGE_LIMIT
    shown = len(re.findall(r"^\d+\. <b>", text, flags=re.MULTILINE))
    assert f"…and {60 - shown} more closures." in text
    assert text.endswith("no road router is configured.")


def test_none_nearby_names_the_nearest_closure(en: Translator, ar: Translator) -> None:
    nearest = found_from(MASMAK, view())
    assert none_nearby(en, 1000, nearest) == ("No closures within 1.0 km. The nearest is 7.0 km north.")
    assert plain(none_nearby(ar, 1000, nearest)) == (
        "لا توجد إغلاقات في نطاق ١٫٠ كم منك. أقرب إغلاق على بُعد ٧٫٠ كم إلى الشمال."
    )
    assert none_nearby(en, 1000, None) == "No current or upcoming road closures. Drive safely!"
