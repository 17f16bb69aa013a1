"""Saved places, subscriptions to them, and ``/forget`` — checked in the store behind the bot as well."""

from __future__ import annotations

import asyncio

import pytest
from shapely.geometry import Point

from bot.i18n import get_translator
from bot.localapi import FakeUser
from closures.emergency_models import DriverLocation
from closures.store import session_scope
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import KINGDOM_CENTRE, assert_arabic_numerals, buttons, press

LANGS = pytest.mark.parametrize("lang", ["ar", "en"])
HOME = {"ar": "البيت", "en": "Home"}
KC_POINT = Point(KINGDOM_CENTRE[1], KINGDOM_CENTRE[0])


@LANGS
async def test_save_this_place_button_then_a_name_saves_it(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    user = FakeUser(401, language_code=lang)
    name = HOME[lang]
    answer = await running_bot.send_location(user, *KINGDOM_CENTRE)

    assert (await press(running_bot, user, answer, "save:point")).text == tr.t("places.ask_name")
    assert (await running_bot.ask(user, name)).text == tr.t("places.saved", name=name)
    listing = await running_bot.ask(user, "/places")

    assert listing.text == f"{tr.t('places.header')}\n• {tr.t('places.item_saved', name=name)}"
    assert buttons(listing) == [(tr.t("button.delete", name=name), "delplace:0")]
    (place,) = running_bot.services.drivers.places(user.id)
    assert (place.name, place.kind) == (name, "place")
    assert place.geometry.equals(KC_POINT)


@LANGS
async def test_subscribe_to_a_place_then_delete_it(running_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    user = FakeUser(402, language_code=lang)
    drivers = running_bot.services.drivers
    name = HOME[lang]
    drivers.save_place(user.id, name, KC_POINT)

    menu = await running_bot.ask(user, "/subscribe")
    assert menu.text == tr.t("subscribe.choose", radius=tr.distance(2_000))
    assert buttons(menu) == [(name, "sub:0")]
    done = await press(running_bot, user, menu, "sub:0")

    assert done.text == tr.t("subscribe.done", name=name, radius=tr.distance(2_000))
    (subscription,) = drivers.subscriptions(user.id)
    assert (subscription.name, subscription.radius_m, subscription.language) == (name, 2_000, lang)
    listing = await running_bot.ask(user, "/places")
    assert (
        listing.text
        == f"{tr.t('places.header')}\n• {tr.t('places.item', name=name, radius=tr.distance(2_000))}"
    )
    if lang == "ar":
        assert_arabic_numerals(listing.text or "", staff=[name])

    deleted = await press(running_bot, user, listing, "delplace:0")

    assert deleted.text == tr.t("places.deleted", name=name)
    assert drivers.places(user.id) == []
    assert (await running_bot.ask(user, "/places")).text == tr.t("places.empty")


def _location(running_bot: RunningBot, user: FakeUser) -> DriverLocation | None:
    with session_scope(running_bot.services.engine) as session:
        return session.get(DriverLocation, user.id)


def _store_everything(running_bot: RunningBot, user: FakeUser) -> None:
    drivers = running_bot.services.drivers
    drivers.set_language(user.id, "en")
    drivers.set_radius(user.id, 3_000)
    drivers.save_place(user.id, "Home", KC_POINT)
    drivers.subscribe(user.id, "Home", 2_000, "en")


async def test_forget_after_confirmation_deletes_everything(running_bot: RunningBot) -> None:
    en = get_translator("en")
    user = FakeUser(403, language_code="ar")
    _store_everything(running_bot, user)
    await running_bot.send_location(user, *KINGDOM_CENTRE)  # kept for emergencies
    await asyncio.to_thread(running_bot.services.locations.flush)
    assert _location(running_bot, user) is not None

    question = await running_bot.ask(user, "/forget")
    kept = en.t("forget.locations_kept", duration=en.n("emergency.duration.hours", 2))
    assert question.text == f"{en.t('forget.confirm')}\n{kept}"
    assert buttons(question) == [
        (en.t("button.confirm_forget"), "forget:yes"),
        (en.t("button.cancel"), "forget:no"),
    ]
    done = await press(running_bot, user, question, "forget:yes", method="editMessageText")

    assert done.text == en.t("forget.done")
    drivers = running_bot.services.drivers
    profile = drivers.profile(user.id)
    assert (profile.language, profile.radius_m) == (None, None)
    assert drivers.places(user.id) == []
    assert drivers.subscriptions(user.id) == []
    await asyncio.to_thread(running_bot.services.locations.flush)  # nothing noted is written back
    assert _location(running_bot, user) is None
    again = await running_bot.ask(user, "/radius")  # back to Telegram's Arabic and the default radius
    assert again.text == get_translator("ar").t("radius.usage", radius=get_translator("ar").distance(5_000))


async def test_forget_cancelled_keeps_everything(running_bot: RunningBot) -> None:
    en = get_translator("en")
    user = FakeUser(404, language_code="ar")
    _store_everything(running_bot, user)

    question = await running_bot.ask(user, "/forget")
    cancelled = await press(running_bot, user, question, "forget:no", method="editMessageText")

    assert cancelled.text == en.t("forget.cancelled")
    drivers = running_bot.services.drivers
    profile = drivers.profile(user.id)
    assert (profile.language, profile.radius_m) == ("en", 3_000)
    assert [p.name for p in drivers.places(user.id)] == ["Home"]
    assert [s.name for s in drivers.subscriptions(user.id)] == ["Home"]


async def test_deleting_a_subscribed_place_ends_its_alerts(running_bot: RunningBot) -> None:
    user = FakeUser(405, language_code="en")
    drivers = running_bot.services.drivers
    drivers.save_place(user.id, "Home", KC_POINT)
    drivers.subscribe(user.id, "Home", 2_000, "en")
    listing = await running_bot.ask(user, "/places")

    await press(running_bot, user, listing, "delplace:0")

    assert drivers.subscriptions(user.id) == []
