"""Under a driver's list of closures, a "Live map" button (a Telegram Mini App) opens the live map centred
on the driver's point with the closures of that list highlighted; without WEBAPP_URL there is none."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import (
    BY_TITLE,
    KINGDOM_CENTRE,
    closures_near,
    in_force_first,
    listed,
    press,
)

WEBAPP = "https://roads.test"


@pytest.fixture
def bot_overrides() -> dict[str, Any]:
    return {"webapp_url": WEBAPP}


def rows(answer: ApiCall) -> list[list[dict[str, Any]]]:
    return answer.params["reply_markup"]["inline_keyboard"]


def live_map(answer: ApiCall) -> tuple[str, dict[str, list[str]]]:
    """The last button's text and its web app URL's query."""
    [button] = rows(answer)[-1]
    url = button["web_app"]["url"]
    assert url.startswith(f"{WEBAPP}/?")
    return button["text"], parse_qs(urlsplit(url).query)


def data(answer: ApiCall, prefix: str) -> list[str]:
    """What follows ``prefix`` in the callback data of the buttons that have it."""
    found = [b.get("callback_data", "") for row in rows(answer) for b in row]
    return [d.removeprefix(prefix) for d in found if d.startswith(prefix)]


def listed_ids(answer: ApiCall) -> list[str]:
    """The closure ids of the numbered buttons (``i:ID:lat,lon``), in the order the answer lists them."""
    return [d.split(":")[0] for d in data(answer, "i:")]


@pytest.mark.parametrize("lang", ["ar", "en"])
async def test_the_live_map_opens_on_the_driver_with_the_listed_closures(running_bot: RunningBot, lang: str):
    tr = get_translator(lang)
    user = FakeUser(301, language_code=lang)

    answer = await running_bot.send_location(user, *KINGDOM_CENTRE)

    text, query = live_map(answer)
    assert text == tr.t("button.live_map")
    assert query["lang"] == [lang]
    assert query["at"] == [f"{KINGDOM_CENTRE[0]:.5f},{KINGDOM_CENTRE[1]:.5f}"]
    ids = query["ids"][0].split(",")
    assert ids == listed_ids(answer)  # exactly the closures the driver was told of, in their order
    expected = [sample.ref for sample, _ in in_force_first(closures_near(*KINGDOM_CENTRE, 5_000))][:10]
    refs = [running_bot.services.closures.get(int(i)).ref for i in ids]
    assert refs == expected
    assert [BY_TITLE[item.title].ref for item in listed(answer.text or "")] == expected


async def test_the_next_page_has_its_own_live_map(running_bot: RunningBot):
    user = FakeUser(302, language_code="en")
    await running_bot.ask(user, "/radius 50")
    first = await running_bot.send_location(user, *KINGDOM_CENTRE)
    [more] = data(first, "more:")

    second = await press(running_bot, user, first, f"more:{more}")

    _, query = live_map(second)
    assert query["ids"][0].split(",") == listed_ids(second)
    assert set(listed_ids(second)).isdisjoint(listed_ids(first))


async def test_without_webapp_url_there_is_no_live_map_button(running_bot: RunningBot):
    running_bot.services.settings = running_bot.services.settings.model_copy(update={"webapp_url": None})

    answer = await running_bot.send_location(FakeUser(303, language_code="en"), *KINGDOM_CENTRE)

    assert not [b for row in rows(answer) for b in row if "web_app" in b]
