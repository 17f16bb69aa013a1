"""A fan-out's direct messages are rendered once per version, event, language and reason
(``bot.publish.emergency.RenderedTexts``): each text is the one ``direct_message`` renders for that person,
and a new version, another language or another reason is rendered anew."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.i18n import get_translator
from bot.publish.emergency import RenderedTexts
from bot.text.emergency import direct_message
from closures.emergency_models import EmergencyAction
from tests.bot.text.test_emergency_texts import NOW, post, version


def _expected(p) -> str:
    return direct_message(p, get_translator(p.language or "ar"))


def test_each_persons_text_is_the_one_rendered_for_them_alone():
    texts = RenderedTexts()
    v = version(id=7)
    people = [
        dataclasses.replace(post(v, payload={"reason": reason, "language": lang}), language=lang)
        for lang in ("ar", "en")
        for reason in ("subscriber", "driver", "subscriber")
    ]
    assert [texts(p) for p in people] == [_expected(p) for p in people]
    assert len({texts(p) for p in people}) == 4  # two languages × two reasons


def test_a_new_version_is_rendered_anew_not_taken_from_the_cache():
    texts = RenderedTexts()
    first = post(version(id=7), payload={"reason": "subscriber"})
    update = post(
        version(id=8, version=2, msg_type="Update", instruction_ar="ابتعد عن الأنفاق حتى إشعار آخر"),
        event=EmergencyAction.UPDATED,
        payload={"reason": "subscriber"},
    )
    assert texts(first) == _expected(first)
    assert texts(update) == _expected(update) != texts(first)
    ended = post(version(id=9, version=3, msg_type="Cancel"), event=EmergencyAction.ENDED)
    assert texts(ended) == _expected(ended)


def test_a_later_moment_is_rendered_anew_and_the_cache_stays_small():
    texts = RenderedTexts(size=3)
    v = version(id=7, expires_at=NOW + timedelta(hours=20))  # "tomorrow" from a later moment of today
    moments = [dataclasses.replace(post(v), now=NOW + timedelta(hours=h)) for h in range(6)]
    assert [texts(p) for p in moments] == [_expected(p) for p in moments]
    assert len(texts._texts) <= 3
