"""Post texts: every X text valid by twitter-text, every channel post within Telegram's limits, Arabic first.

Checked over every reason × event × both languages, with the longest names staff can type (Arabic,
emoji, mixed), and by property over arbitrary titles.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from bot.localapi.html import parse_html, utf16_length
from bot.text.posts import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    X_LIMIT,
    announcement_caption,
    channel_text,
    x_length,
    x_post,
    x_valid,
)
from closures.models import PostEvent, Reason
from closures.outbox import Claimed
from closures.publishing import Place, PostContext
from closures.views import ClosureView

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
RIYADH = Place("riyadh", "أمانة منطقة الرياض", "Riyadh Municipality", "Asia/Riyadh")
HASHTAGS = ("#الرياض", "#إغلاق_طريق")
LONG_AR = ("إغلاق جزئي لطريق الأمير محمد بن سلمان بن عبدالعزيز عند تقاطع طريق الملك فهد " * 4)[:200]
EMOJI = ("🚧🚦⛔️🛑🚨" * 40)[:200]
MIXED = ("King Fahd Rd — طريق الملك فهد 🚧 & <Olaya> " * 6)[:200]
STAFF_CHARACTERS = [*"ابتثجحخدذرزسشصضطظعغفقكلمنهوي ءآأؤإئ٠١٢٣&<x\n", "🚧", "🛑", "👍🏽", "🇸🇦"]
TITLES = (("إغلاق طريق الملك فهد", "King Fahd Rd closed"), (LONG_AR, None), (EMOJI, EMOJI), (MIXED, MIXED))


def closure(**changes: object) -> ClosureView:
    base = ClosureView(
        id=7, municipality_id=1, ref=None, kind="line",
        geometry=LineString([(46.683856, 24.688), (46.67522, 24.705)]), radius_m=None, reason="roadworks",
        severity="partial", lanes_ar=LONG_AR, lanes_en="Two right lanes " * 12, direction="one",
        heading="NNW",
        starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=5), status="open",
        title_ar="إغلاق طريق الملك فهد", title_en="King Fahd Rd closed",
        detour_ar=("استخدم طريق العليا ثم شارع التحلية " * 80)[:2000],
        detour_en=("Use Olaya St. " * 200)[:2000], version=2,
    )  # fmt: skip
    return replace(base, **changes)


def context(
    event: PostEvent, *, late: bool = False, before: ClosureView | None = None, **changes
) -> PostContext:
    item = Claimed(1, 7, 2, event, "x:riyadh", NOW - timedelta(hours=3 if late else 0), 1, "t", None, None)
    view = closure(**changes)
    return PostContext(item, view, before, RIYADH, "42", NOW - timedelta(hours=3) if late else None, NOW)


def everything() -> list[PostContext]:
    out = []
    for reason, event, (title_ar, title_en), late in itertools.product(
        Reason, PostEvent, TITLES, (False, True)
    ):
        before = (
            closure(ends_at=NOW + timedelta(hours=2), detour_en=None) if event is PostEvent.UPDATED else None
        )
        out.append(
            context(
                event, late=late, before=before, reason=reason.value, title_ar=title_ar, title_en=title_en
            )
        )
    return out


ALL = everything()


def test_every_x_text_the_project_can_produce_is_valid_by_twitter_text():
    for ctx in ALL:
        post = x_post(ctx, hashtags_ar=HASHTAGS, hashtags_en=("#Riyadh",))
        for text in (post.arabic, post.english):
            assert text is not None
            assert x_valid(text), (ctx.item.event, text)
            assert x_length(text) <= X_LIMIT
        assert post.arabic.endswith("#الرياض #إغلاق_طريق")
        assert post.english.endswith("#Riyadh")


def test_x_posts_carry_no_url_unless_given_and_a_url_weighs_23():
    ctx = context(PostEvent.ANNOUNCED)
    plain = x_post(ctx, hashtags_ar=HASHTAGS)
    assert "http" not in plain.arabic
    assert "http" not in (plain.english or "")
    url = "https://roads.example.sa/c/7"
    linked = x_post(ctx, hashtags_ar=HASHTAGS, url=url, english=False)
    assert linked.english is None
    assert url in linked.arabic
    assert x_valid(linked.arabic)
    assert x_length(linked.arabic.replace(url, "")) + 23 == x_length(linked.arabic)


def test_the_arabic_x_post_is_in_arabic_and_the_english_one_in_english():
    post = x_post(context(PostEvent.ANNOUNCED))
    assert post.arabic.startswith("🚧 جديد: إغلاق طريق الملك فهد")  # the title says «إغلاق»: not twice
    assert post.english is not None
    assert post.english.startswith("🚧 New: King Fahd Rd closed")
    untitled = x_post(context(PostEvent.ANNOUNCED, title_ar="طريق الملك فهد", title_en="King Fahd Rd"))
    assert untitled.arabic.startswith("🚧 إغلاق طريق جديد: طريق الملك فهد")
    assert (untitled.english or "").startswith("🚧 New road closure: King Fahd Rd")


def test_every_channel_post_is_within_telegrams_limits_and_valid_html():
    for ctx in ALL:
        for text, limit in ((announcement_caption(ctx), CAPTION_LIMIT), (channel_text(ctx), TEXT_LIMIT)):
            plain, _ = parse_html(text)  # Telegram's HTML check: raises on bad markup
            assert utf16_length(plain) <= limit
            assert utf16_length(text) <= limit  # the HTML source too: what we measure


def test_channel_posts_put_arabic_first_and_escape_staff_text():
    ctx = context(
        PostEvent.ANNOUNCED, title_ar="طريق <العليا> & الملك فهد", title_en="Olaya <b>St</b> & more"
    )
    caption = announcement_caption(ctx)
    assert caption.index("إغلاق طريق جديد") < caption.index("New road closure")
    assert "&lt;العليا&gt; &amp;" in caption
    assert "Olaya &lt;b&gt;St&lt;/b&gt; &amp; more" in caption
    assert "📍" in caption
    assert "Riyadh Municipality" in caption


def test_an_announcement_in_the_future_says_when_it_starts():
    caption = announcement_caption(context(PostEvent.ANNOUNCED, detour_ar=None, detour_en=None))
    assert "Starts 1:00 PM · Until 5:00 PM" in caption
    assert "يبدأ" in caption


def test_an_update_says_what_changed():
    before = closure(ends_at=NOW + timedelta(hours=2), detour_en="Old way", detour_ar="طريق قديم")
    text = channel_text(context(PostEvent.UPDATED, before=before))
    assert "Changed: the times, the detour" in text
    assert "ما الذي تغيّر: \u2068المواعيد، التحويلة\u2069" in text


def test_a_late_start_post_says_since_when_instead_of_now():
    on_time = channel_text(context(PostEvent.STARTED))
    late = channel_text(context(PostEvent.STARTED, late=True, starts_at=NOW - timedelta(hours=3)))
    assert "Closure now in force" in on_time
    assert "Closure in force since 9:00 AM: King Fahd Rd closed" in late


@settings(max_examples=60, deadline=None)
@given(
    title=st.lists(st.sampled_from(STAFF_CHARACTERS), min_size=1, max_size=200).map("".join),
    event=st.sampled_from(list(PostEvent)),
)
def test_any_title_staff_can_type_gives_valid_posts(title, event):
    ctx = context(event, title_ar=title.strip() or "ا", title_en=None)
    post = x_post(ctx, hashtags_ar=HASHTAGS)
    assert x_valid(post.arabic)
    assert post.english is not None
    assert x_valid(post.english)
    plain, _ = parse_html(announcement_caption(ctx))
    assert utf16_length(plain) <= CAPTION_LIMIT


@pytest.mark.parametrize("event", list(PostEvent))
def test_each_event_has_its_own_headline_in_both_languages(event):
    text = channel_text(context(event))
    arabic, english = text.split("\n\n")
    assert "King Fahd" not in arabic
    assert english.split("\n")[0].endswith("King Fahd Rd closed</b>")


# --- what the Arabic post says (issue 14) ------------------------------------------------------------------


def king_fahd(event: PostEvent, **changes: object) -> PostContext:
    """The sample closure as staff write it: lanes, one direction, a short detour, in both languages."""
    values: dict[str, object] = {
        "title_ar": "إغلاق جزئي لطريق الملك فهد جنوبًا", "title_en": "King Fahd Rd southbound partly closed",
        "lanes_ar": "المساران الأيمنان", "lanes_en": "Two right lanes", "heading": "S",
        "detour_ar": "استخدم شارع العليا جنوبًا حتى طريق مكة المكرمة",
        "detour_en": "Use Olaya St southbound as far as Makkah Rd",
    }  # fmt: skip
    return context(event, **{**values, **changes})


def test_the_arabic_x_post_says_as_much_as_the_english_one_and_closure_once() -> None:
    post = x_post(king_fahd(PostEvent.ANNOUNCED), hashtags_ar=HASHTAGS)
    assert post.english is not None
    pairs = (("المساران الأيمنان", "Two right lanes"), ("جنوبًا فقط", "heading south"),
             ("شارع العليا", "Olaya St"), ("١:٠٠ م", "1:00 PM"), ("٥:٠٠ م", "5:00 PM"))  # fmt: skip
    for arabic, english in pairs:
        assert english in post.english
        assert arabic in post.arabic
    first_line = post.arabic.split("\n")[0]
    assert first_line.count("إغلاق") == 1
    assert x_length(post.arabic) <= X_LIMIT


def test_arabic_x_text_keeps_direction_marks_only_where_they_are_needed() -> None:
    arabic = x_post(king_fahd(PostEvent.ANNOUNCED)).arabic
    assert "\u2068" not in arabic  # all Arabic: not one mark, each would cost 2 on X
    mixed = x_post(king_fahd(PostEvent.ANNOUNCED, title_ar="إغلاق King Fahd Rd")).arabic
    assert "\u2068King Fahd Rd\u2069" in mixed or "\u2068إغلاق King Fahd Rd\u2069" in mixed
    assert mixed.count("\u2068") == 1
    with_marks = channel_text(king_fahd(PostEvent.ANNOUNCED))  # the channel keeps its isolates (no cost)
    assert "\u2068" in with_marks


def test_extended_and_lifted_posts_give_the_previous_end() -> None:
    before = closure(ends_at=NOW + timedelta(hours=3))
    extended = x_post(context(PostEvent.EXTENDED, before=before))  # to NOW + 5 h, from NOW + 3 h
    assert "🕒 حتى ٥:٠٠ م · كان: حتى ٣:٠٠ م" in extended.arabic
    assert "🕒 Until 5:00 PM · before: until 3:00 PM" in (extended.english or "")
    lifted = x_post(context(PostEvent.LIFTED, starts_at=NOW - timedelta(hours=1)))
    assert "🕒 كان مقررًا حتى ٥:٠٠ م" in lifted.arabic
    assert "🕒 It was to last until 5:00 PM" in (lifted.english or "")
    assert "It was to last" in channel_text(context(PostEvent.LIFTED, starts_at=NOW - timedelta(hours=1)))
