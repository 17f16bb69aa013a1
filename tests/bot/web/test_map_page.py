"""The map page's pure parts: the reader's language, a closure as a feature, the page's HTML."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import Point

from bot.i18n import get_translator
from bot.web.map_page import PageOptions, closure_feature, closures_collection, map_page, pick_language
from closures.lifecycle import Phase
from closures.views import ClosureView, Found

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 12:00 noon in Riyadh


def found(closure_id: int = 7, *, starts_in_h: float = -1, **overrides: object) -> Found:
    values: dict[str, object] = {
        "id": closure_id,
        "municipality_id": 1,
        "ref": None,
        "kind": "point",
        "geometry": Point(46.6753, 24.7136),
        "radius_m": 150.0,
        "reason": "flood",
        "severity": "full",
        "lanes_ar": None,
        "lanes_en": None,
        "direction": "both",
        "heading": None,
        "starts_at": NOW + timedelta(hours=starts_in_h),
        "ends_at": NOW + timedelta(hours=6),
        "status": "open",
        "title_ar": "نفق مغمور",
        "title_en": "Flooded <underpass> & ramp",
        "detour_ar": None,
        "detour_en": "Take the service road",
        "version": 1,
    }
    view = ClosureView(**(values | overrides))  # type: ignore[arg-type]
    return Found(view, Phase.ACTIVE if starts_in_h <= 0 else Phase.SCHEDULED, 0.0, None)


@pytest.mark.parametrize(
    ("asked", "accept", "default", "expected"),
    [
        ("en", "ar", "ar", "en"),
        ("fr", "en-US", "ar", "en"),  # an unknown ?lang= is ignored
        (None, "fr-FR, en;q=0.3, ar;q=0.6", "en", "ar"),  # by quality, not by position
        (None, "ar;q=0, en", "ar", "en"),  # q=0 means "not this one"
        (None, "de, fr", "en", "en"),
        (None, None, "ar", "ar"),
        (None, "en;q=bogus, ar", "en", "ar"),
    ],
)
def test_pick_language(asked: str | None, accept: str | None, default: str, expected: str):
    assert pick_language(asked, accept, default) == expected


def test_a_feature_carries_plain_texts_in_the_language_and_zone_asked():
    feature = closure_feature(found(starts_in_h=3), get_translator("en"), ZoneInfo("Asia/Riyadh"), NOW)

    props = feature["properties"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [46.6753, 24.7136]}
    assert props["title"] == "Flooded <underpass> & ramp"  # plain text: the page never parses it as HTML
    assert props["phase"] == "upcoming"
    assert props["status"] == "Coming up"
    assert props["timing"].startswith("Starts 3:00 PM")  # 12:00 UTC, read in Riyadh
    assert props["detour"] == "Detour: Take the service road"
    assert props["radius_m"] == 150.0


def test_the_collection_lists_active_closures_first_and_counts_them_in_words():
    items = [found(1, starts_in_h=2), found(2, starts_in_h=-5), found(3, starts_in_h=-1)]
    data = closures_collection(items, get_translator("ar"), {}, NOW)

    assert [f["id"] for f in data["features"]] == [2, 3, 1]
    assert data["summary"] == "\u2068إغلاقان الآن\u2069، \u2068إغلاق واحد قادم\u2069"


def test_the_page_is_right_to_left_in_arabic_and_its_settings_cannot_break_out_of_the_script():
    options = PageOptions(
        closures_url="map/closures.json?lang=ar",
        boundaries_url="map/boundaries.json?lang=ar",
        refresh_s=30,
        tile_url="https://tiles.example.org/{z}/{x}/{y}.png",
        tile_attribution="</script><script>alert(1)</script> & friends",
    )
    page = map_page(get_translator("ar"), options)

    assert page.startswith('<!doctype html>\n<html lang="ar" dir="rtl">')
    assert "<script>alert" not in page
    config = json.loads(re.search(r'id="map-config">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert config["tiles"]["attribution"] == options.tile_attribution
    assert config["refreshMs"] == 30_000
    assert config["text"]["empty"] == get_translator("ar").t("web.map.empty")
    assert 'href="?lang=en"' in page


def test_without_a_tile_server_the_page_asks_for_no_tiles():
    options = PageOptions("c.json", "b.json", 60, None, "© OpenStreetMap contributors")
    page = map_page(get_translator("en"), options)

    config = json.loads(re.search(r'id="map-config">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert config["tiles"] is None
    assert '<html lang="en" dir="ltr">' in page
