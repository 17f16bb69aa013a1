"""Mini Apps on the local Bot API, as on Telegram: ``web_app`` buttons only with HTTPS URLs (400 otherwise)
and, inline, only in private chats; opening one hands the page initData signed with the bot's token."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonWebApp,
    ReplyKeyboardMarkup,
    WebAppInfo,
)
from telegram.error import BadRequest

from bot.localapi import FakeUser, LocalBotApi


@pytest.fixture
async def bot(bot_api: LocalBotApi):  # type: ignore[no-untyped-def]
    async with Bot(bot_api.token, base_url=bot_api.base_url, base_file_url=bot_api.base_file_url) as bot:
        yield bot


def refused(api: LocalBotApi) -> str:
    """How the local Bot API worded its last refusal (PTB rewrites the case of what it raises)."""
    error = api.calls[-1].error
    assert error is not None
    assert error["error_code"] == 400
    return str(error["description"])


def inline(url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Draw", web_app=WebAppInfo(url))]])


async def test_a_web_app_button_needs_an_https_url(bot_api: LocalBotApi, bot: Bot, driver: FakeUser):
    sent = await bot.send_message(driver.id, "ok", reply_markup=inline("https://roads.example.org/x"))
    assert sent.reply_markup is not None

    for url in ("http://roads.example.org/x", "https://", "ftp://roads.example.org"):
        with pytest.raises(BadRequest):
            await bot.send_message(driver.id, "no", reply_markup=inline(url))
        assert refused(bot_api) == (
            f"Bad Request: inline keyboard button Web App URL '{url}' is invalid: "
            "Only HTTPS links are allowed"
        )
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Draw", web_app=WebAppInfo("http://roads.example.org"))]])
    with pytest.raises(BadRequest):
        await bot.send_message(driver.id, "no", reply_markup=keyboard)
    assert refused(bot_api).startswith("Bad Request: keyboard button Web App URL 'http://roads.example.org'")
    with pytest.raises(BadRequest):
        await bot.edit_message_reply_markup(driver.id, sent.message_id, reply_markup=inline("http://x.org"))
    assert refused(bot_api).endswith("is invalid: Only HTTPS links are allowed")
    with pytest.raises(BadRequest):
        await bot.set_chat_menu_button(driver.id, MenuButtonWebApp("Map", WebAppInfo("http://x.org")))
    assert refused(bot_api).startswith("Bad Request: menu button Web App URL")
    assert await bot.set_chat_menu_button(driver.id, MenuButtonWebApp("Map", WebAppInfo("https://x.org")))


async def test_an_inline_web_app_button_is_refused_outside_private_chats(bot_api: LocalBotApi, bot: Bot):
    for chat in (-100123, "@roads_channel"):
        with pytest.raises(BadRequest):
            await bot.send_message(chat, "no", reply_markup=inline("https://roads.example.org/x"))
        assert refused(bot_api) == "Bad Request: BUTTON_TYPE_INVALID"


async def test_opening_the_button_hands_the_page_initdata_signed_with_the_bots_token(
    bot_api: LocalBotApi, bot: Bot, driver: FakeUser
):
    sent = await bot.send_message(driver.id, "draw", reply_markup=inline("https://roads.example.org/e?d=1"))

    launch = bot_api.user_opens_web_app(driver, sent.to_dict(), auth_date=1_795_770_000)

    assert launch.url == "https://roads.example.org/e?d=1"
    fields = dict(parse_qsl(launch.init_data, strict_parsing=True))
    given = fields.pop("hash")
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_api.token.encode(), hashlib.sha256).digest()
    assert given == hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    assert fields["auth_date"] == "1795770000"
    assert fields["query_id"] == launch.query_id
    user = json.loads(fields["user"])
    assert (user["id"], user["first_name"], user["language_code"]) == (driver.id, "سائق", "ar")
    fragment = dict(parse_qsl(urlsplit(launch.url_with_launch_params).fragment))
    assert fragment["tgWebAppData"] == launch.init_data  # decoded once, as a page reads its address
    assert fragment["tgWebAppVersion"]


async def test_only_a_shown_web_app_button_can_be_opened(bot_api: LocalBotApi, bot: Bot, driver: FakeUser):
    plain = await bot.send_message(driver.id, "no buttons")

    with pytest.raises(ValueError, match="no web_app button"):
        bot_api.user_opens_web_app(driver, plain.to_dict())
