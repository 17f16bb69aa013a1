"""What people read about an emergency, as plain functions: the level in the NCM's wording, the channel post
within Telegram's limit and the X posts within X's (however long the operator's texts), each person's
message in their own language, and the proposals offered to staff."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from bot.i18n import FSI, PDI, get_translator
from bot.text.emergency import channel_post, direct_message, kept_for, level_name, x_posts
from bot.text.emergency_staff import headline_proposal, instruction_proposal
from bot.text.posts import TEXT_LIMIT, X_LIMIT, utf16_length, x_length, x_valid
from closures.emergency_models import Emergency, EmergencyAction
from closures.emergency_publishing import BroughtClosure, EmergencyPost
from closures.lifecycle import Phase
from closures.outbox import ClaimedEmergency
from closures.publishing import Place

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
AREA = shapely.box(46.70, 24.68, 46.72, 24.70)
ARABIC = re.compile("[\u0600-\u06ff]")


def version(**overrides: object) -> Emergency:
    values: dict[str, object] = {
        "identifier": "roadbot-riyadh-1", "municipality_id": 1, "first_id": 1, "version": 1,
        "hazard": "flood",
        "level": "alarm", "cap_category": "Met", "cap_severity": "Extreme", "cap_urgency": "Immediate",
        "cap_certainty": "Likely", "cap_response": "Avoid", "headline_ar": "سيول في وسط الرياض",
        "headline_en": "Flooding in central Riyadh", "instruction_ar": "تجنب الأنفاق",
        "instruction_en": "Avoid underpasses", "area_desc_ar": "وسط الرياض", "area_desc_en": "Central Riyadh",
        "area_geojson": shapely.to_geojson(AREA), "min_lon": 46.70, "min_lat": 24.68, "max_lon": 46.72,
        "max_lat": 24.70, "expires_at": NOW + timedelta(hours=6), "created_by": "test",
    }  # fmt: skip
    return Emergency(**(values | overrides))


def post(v: Emergency, *, event=EmergencyAction.DECLARED, closures=(), payload=None) -> EmergencyPost:
    item = ClaimedEmergency(1, 1, v.version, event, "emergency-dm:42", NOW, 1, "t", None, payload)
    place = Place("riyadh", "أمانة منطقة الرياض", "Riyadh Municipality", "Asia/Riyadh")
    return EmergencyPost(item, v, v, AREA, place, tuple(closures), None, (), None, None, NOW)


def roads(n: int, title: str = "Khurais underpass") -> list[BroughtClosure]:
    return [BroughtClosure(i, f"نفق {i}", f"{title} {i}", None, None, None, Phase.ACTIVE) for i in range(n)]


@pytest.mark.parametrize(
    ("level", "arabic", "english"),
    [("advice", "🟢 تنويه أخضر", "🟢 Green advice"), ("alert", "🟡 تنبيه أصفر", "🟡 Yellow alert"),
     ("warning", "🟠 تنبيه متقدم برتقالي", "🟠 Orange warning"), ("alarm", "🔴 إنذار أحمر", "🔴 Red alarm")],
)  # fmt: skip
def test_each_level_reads_as_the_ncm_colour_scale(level, arabic, english):
    assert level_name(get_translator("ar"), level) == arabic
    assert level_name(get_translator("en"), level) == english


def test_the_channel_post_is_arabic_then_english_with_what_to_do_where_and_until_when():
    text = channel_post(post(version(), closures=roads(2)))

    arabic, english = text.split("\n\n")
    assert "إنذار أحمر" in arabic
    assert "<b>سيول في وسط الرياض</b>" in arabic
    assert "تجنب الأنفاق" in arabic
    assert "نفق 0" in arabic
    assert "Red alarm · Flooding" in english
    assert "<b>Flooding in central Riyadh</b>" in english
    assert "Area: Central Riyadh" in english
    assert "Closed: Khurais underpass 0, Khurais underpass 1" in english


def test_the_longest_texts_an_operator_may_write_still_fit_telegram_and_x():
    v = version(
        headline_ar="س" * 160, headline_en="H" * 160, instruction_ar="ت" * 500, instruction_en="I & <b>" * 70,
        area_desc_ar="م" * 49, area_desc_en="A" * 49,
    )  # fmt: skip
    long = post(v, closures=roads(200, title="A very long underpass name " * 3))

    assert utf16_length(channel_post(long)) <= TEXT_LIMIT
    assert "&amp; &lt;b&gt;" in channel_post(long)  # the operator's text is escaped, never markup
    tweets = x_posts(long, hashtags_ar=("#الرياض", "#سيول"), hashtags_en=("#Riyadh",))
    for tweet in (tweets.arabic, tweets.english):
        assert tweet is not None
        assert x_valid(tweet)
        assert x_length(tweet) <= X_LIMIT
    assert tweets.arabic.endswith("#الرياض #سيول")


def test_many_roads_are_named_up_to_five_then_counted():
    english = channel_post(post(version(), closures=roads(8))).split("\n\n")[1]
    assert "Khurais underpass 4 and 3 more" in english
    assert "Khurais underpass 5" not in english


def test_a_persons_message_is_in_their_language_and_says_why_they_get_it():
    en, ar = get_translator("en"), get_translator("ar")
    message = direct_message(post(version(), payload={"reason": "driver"}), en)
    assert not ARABIC.search(message.replace("سيول", ""))
    assert en.t("emergency.dm.why.driver") in message
    arabic = direct_message(post(version(), payload={"reason": "subscriber"}), ar)
    assert ar.t("emergency.dm.why.subscriber") in arabic
    assert "Flooding" not in arabic


def test_an_exercise_says_so_first():
    text = direct_message(post(version(exercise=True), payload={"reason": "staff"}), get_translator("en"))
    assert text.startswith("🧪 <b>EXERCISE — not a real emergency</b>")


def test_the_end_says_it_is_over_and_that_the_roads_reopened():
    lifted = [BroughtClosure(1, "نفق", "Underpass", None, None, None, Phase.LIFTED)]
    text = direct_message(post(version(), event=EmergencyAction.ENDED, closures=lifted), get_translator("en"))
    assert text.splitlines() == [
        "✅ <b>Over: Flooding in central Riyadh</b>",
        "The warning for Central Riyadh is over.",
        "🛣️ The roads closed for it have reopened.",
    ]


def test_an_update_is_marked_as_one():
    text = direct_message(post(version(version=2), event=EmergencyAction.UPDATED), get_translator("en"))
    assert "<b>Update · Flooding in central Riyadh</b>" in text


def test_proposals_name_the_level_the_hazard_and_the_area_without_direction_marks():
    assert headline_proposal("en", "flood", "alarm", "Riyadh Municipality") == (
        "Red alarm: Flooding in Riyadh Municipality"
    )
    arabic = headline_proposal("ar", "sandstorm", "warning", "أمانة منطقة الرياض")
    assert arabic == "تنبيه متقدم برتقالي: عاصفة رملية في أمانة منطقة الرياض"
    assert FSI not in arabic and PDI not in arabic  # noqa: PT018
    assert instruction_proposal("en", "flood").startswith("Avoid underpasses")


@pytest.mark.parametrize(("hours", "expected"), [(2, "2 hours"), (1, "1 hour"), (1.5, "90 minutes")])
def test_how_long_a_location_is_kept_reads_naturally(hours, expected):
    assert kept_for(get_translator("en"), timedelta(hours=hours)) == expected
