"""The local Bot API speaks Telegram well enough for a real PTB Application and Bot to run against it."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.localapi import ApiCall, FakeUser, LocalBotApi, Upload
from bot.localapi.html import HtmlEntityError, parse_html

RIYADH = (24.7136, 46.6753)


# -- a small bot with one handler per kind of update ---------------------------------------------
def message_of(update: Update) -> Message:
    """The message, new or edited, that the update carries (the handler's filter guarantees one)."""
    assert update.effective_message is not None
    return update.effective_message


def pin_of(update: Update) -> tuple[str, bool]:
    """``"lat,lon"`` of the update's location and whether it is live."""
    location = message_of(update).location
    assert location is not None
    live = "live_period" in location.to_dict()  # reading .live_period warns in PTB 22
    return f"{location.latitude:.4f},{location.longitude:.4f}", live


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet and offer a city."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("الرياض", callback_data="city:riyadh")]])
    await message_of(update).reply_text("welcome", reply_markup=keyboard)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say the text back."""
    await message_of(update).reply_text(message_of(update).text or "")


async def located(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say where the pin is."""
    place, live = pin_of(update)
    await message_of(update).reply_text(f"at {place}" + (" live" if live else ""))


async def moved(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Follow a live location; say when it stops."""
    place, live = pin_of(update)
    await message_of(update).reply_text(f"{'moved' if live else 'stopped'} {place}")


async def chose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Acknowledge the button and show the choice."""
    query = update.callback_query
    assert query is not None
    await query.answer("ok")
    await query.edit_message_text(f"chosen {query.data}")


async def checksum(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the document and answer its SHA-256."""
    document = message_of(update).document
    assert document is not None
    data = await (await context.bot.get_file(document.file_id)).download_as_bytearray()
    await message_of(update).reply_text(hashlib.sha256(data).hexdigest())


@pytest.fixture
async def app(bot_api: LocalBotApi) -> AsyncIterator[Application]:
    builder = ApplicationBuilder().token(bot_api.token).base_url(bot_api.base_url)
    application = builder.base_file_url(bot_api.base_file_url).build()
    application.add_handlers(
        [
            CommandHandler("start", start),
            CallbackQueryHandler(chose),
            MessageHandler(filters.UpdateType.MESSAGE & filters.LOCATION, located),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.LOCATION, moved),
            MessageHandler(filters.Document.ALL, checksum),
            MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
        ]
    )
    updater = application.updater
    assert updater is not None
    await application.initialize()
    await application.start()
    await updater.start_polling(poll_interval=0, timeout=1)
    yield application
    await updater.stop()
    await application.stop()
    await application.shutdown()


@pytest.fixture
async def bot(bot_api: LocalBotApi) -> AsyncIterator[Bot]:
    async with Bot(bot_api.token, base_url=bot_api.base_url, base_file_url=bot_api.base_file_url) as ptb_bot:
        yield ptb_bot


def message_to(chat_id: int, method: str = "sendMessage") -> Callable[[ApiCall], bool]:
    return lambda call: call.ok and call.method == method and call.chat_id == chat_id


def texts(updates: Sequence[Update]) -> list[str | None]:
    return [update.effective_message.text if update.effective_message else None for update in updates]


# -- a real Application ---------------------------------------------------------------------------
async def test_application_starts_against_the_local_api(bot_api: LocalBotApi, app: Application) -> None:
    assert app.bot.username == "roadclosure_test_bot"
    assert [call.method for call in bot_api.calls[:2]] == ["getMe", "deleteWebhook"]


async def test_user_text_is_echoed(bot_api: LocalBotApi, app: Application, driver: FakeUser) -> None:
    bot_api.user_sends_text(driver, "هل طريق الملك فهد مغلق؟")
    reply = await bot_api.wait_for(message_to(driver.id), timeout=5)
    assert reply.text == "هل طريق الملك فهد مغلق؟"
    assert reply.result["chat"] == {"id": driver.id, "type": "private", "first_name": driver.first_name}


async def test_commands_are_routed_in_private_and_in_groups(bot_api: LocalBotApi, app: Application) -> None:
    user = FakeUser(1001, language_code="en")
    bot_api.user_sends_text(user, "/start")
    bot_api.user_sends_in_group(user, -100555, "/start@roadclosure_test_bot")
    private, group = await asyncio.gather(
        bot_api.wait_for(message_to(1001), timeout=5), bot_api.wait_for(message_to(-100555), timeout=5)
    )
    assert private.text == group.text == "welcome"
    assert group.result["chat"]["type"] == "supergroup"
    assert group.result["reply_to_message"]["text"] == "/start@roadclosure_test_bot"


async def test_location_reaches_the_location_handler(
    bot_api: LocalBotApi, app: Application, driver: FakeUser
) -> None:
    bot_api.user_sends_location(driver, *RIYADH, horizontal_accuracy=12.5)
    reply = await bot_api.wait_for(message_to(driver.id), timeout=5)
    assert reply.text == "at 24.7136,46.6753"


async def test_live_location_moves_and_stops_as_edited_messages(
    bot_api: LocalBotApi, app: Application, driver: FakeUser
) -> None:
    shared = bot_api.user_sends_location(driver, *RIYADH, live_period=900)
    message_id = shared["message"]["message_id"]
    await bot_api.wait_for(lambda c: c.ok and c.text == "at 24.7136,46.6753 live", timeout=5)
    moved_update = bot_api.user_edits_live_location(driver, message_id, 24.7200, 46.6800, heading=90)
    assert moved_update["edited_message"]["message_id"] == message_id
    await bot_api.wait_for(lambda c: c.ok and c.text == "moved 24.7200,46.6800", timeout=5)
    stopped = bot_api.user_stops_live_location(driver, message_id)
    assert "live_period" not in stopped["edited_message"]["location"]
    await bot_api.wait_for(lambda c: c.ok and c.text == "stopped 24.7200,46.6800", timeout=5)


async def test_button_press_is_answered_and_edits_the_message(
    bot_api: LocalBotApi, app: Application, driver: FakeUser
) -> None:
    bot_api.user_sends_text(driver, "/start")
    menu = await bot_api.wait_for(message_to(driver.id), timeout=5)
    bot_api.user_presses_button(driver, menu, "city:riyadh")
    answered = await bot_api.wait_for(lambda c: c.method == "answerCallbackQuery", timeout=5)
    edited = await bot_api.wait_for(message_to(driver.id, "editMessageText"), timeout=5)
    assert answered.ok
    assert answered.params["text"] == "ok"
    assert edited.result["text"] == "chosen city:riyadh"
    assert "reply_markup" not in edited.result  # editing without a keyboard removes it, as on Telegram
    with pytest.raises(ValueError, match="no button"):
        bot_api.user_presses_button(driver, menu, "city:riyadh")


async def test_bot_downloads_the_document_a_user_sent(
    bot_api: LocalBotApi, app: Application, driver: FakeUser
) -> None:
    content = "closure_id,road\n17,طريق الملك فهد\n".encode() * 50
    sent = bot_api.user_sends_document(driver, content, "closures.csv", "text/csv")
    assert sent["message"]["document"]["file_size"] == len(content)
    reply = await bot_api.wait_for(message_to(driver.id), timeout=5)
    assert reply.text == hashlib.sha256(content).hexdigest()


# -- the simulated users' updates are valid Bot API objects ----------------------------------------
@pytest.mark.parametrize(
    ("act", "attribute"),
    [
        (lambda api, u: api.user_sends_text(u, "/start extra"), "text"),
        (lambda api, u: api.user_sends_location(u, *RIYADH, live_period=60, heading=5), "location"),
        (lambda api, u: api.user_sends_venue(u, *RIYADH, "Kingdom Centre", "King Fahd Rd"), "venue"),
        (lambda api, u: api.user_sends_document(u, b"x", "a.gpx", "application/gpx+xml"), "document"),
        (lambda api, u: api.user_sends_sticker(u), "sticker"),
        (lambda api, u: api.user_sends_in_group(u, -100777, "hello"), "text"),
    ],
)
async def test_user_updates_parse_as_ptb_updates(
    bot_api: LocalBotApi, bot: Bot, driver: FakeUser, act: Callable[..., dict], attribute: str
) -> None:
    update = Update.de_json(act(bot_api, driver), bot)
    assert getattr(update.message, attribute) is not None
    assert update.effective_user == User(driver.id, driver.first_name, is_bot=False, language_code="ar")
    assert bot_api.updates_pending() == 1


async def test_command_entity_lets_ptb_read_the_command(bot_api: LocalBotApi, bot: Bot) -> None:
    update = Update.de_json(bot_api.user_sends_text(FakeUser(5), "/near@roadclosure_test_bot 500"), bot)
    assert message_of(update).parse_entities(["bot_command"]).popitem()[1] == "/near@roadclosure_test_bot"


# -- long polling -----------------------------------------------------------------------------------
async def test_get_updates_waits_for_the_timeout_when_nothing_comes(bot_api: LocalBotApi, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 2.5


async def test_get_updates_returns_at_once_when_an_update_is_queued(
    bot_api: LocalBotApi, bot: Bot, driver: FakeUser
) -> None:
    bot_api.user_sends_text(driver, "hi")
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    assert time.monotonic() - started < 0.5
    assert texts(updates) == ["hi"]


async def test_waiting_get_updates_wakes_when_a_user_writes(
    bot_api: LocalBotApi, bot: Bot, driver: FakeUser
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await bot_api.wait_until_polling()
    woken = time.monotonic()
    bot_api.user_sends_text(driver, "now")
    updates = await poll
    assert time.monotonic() - woken < 0.5
    assert texts(updates) == ["now"]


async def test_offset_confirms_updates(bot_api: LocalBotApi, bot: Bot, driver: FakeUser) -> None:
    first = bot_api.user_sends_text(driver, "one")
    bot_api.user_sends_text(driver, "two")
    assert len(await bot.get_updates()) == 2  # delivered, not yet confirmed
    updates = await bot.get_updates(offset=first["update_id"] + 1)
    assert texts(updates) == ["two"]
    assert bot_api.updates_pending() == 1


async def test_a_second_poller_terminates_the_first(bot_api: LocalBotApi, bot: Bot) -> None:
    async with Bot(bot_api.token, base_url=bot_api.base_url) as other:
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await bot_api.wait_until_polling()
        assert await other.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await poll


# -- Telegram's refusals ------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*retry_after.*timedelta")  # PTB 22 announces its type change
async def test_injected_429_surfaces_as_retry_after(bot_api: LocalBotApi, bot: Bot) -> None:
    bot_api.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1, "hi")
    retry = caught.value.retry_after
    assert (retry.total_seconds() if isinstance(retry, timedelta) else retry) == 3
    assert (await bot.send_message(1, "hi")).text == "hi"  # only the next call fails
    assert [c.ok for c in bot_api.calls if c.method == "sendMessage"] == [False, True]


async def test_delay_next_slows_one_answer(bot_api: LocalBotApi, bot: Bot) -> None:
    bot_api.delay_next("sendChatAction", 0.3)
    started = time.monotonic()
    assert await bot.send_chat_action(1, "typing")
    assert time.monotonic() - started >= 0.3


async def test_text_over_4096_characters_is_refused(bot_api: LocalBotApi, bot: Bot) -> None:
    assert (await bot.send_message(1, "ش" * 4096)).text == "ش" * 4096
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(1, "ش" * 4097)
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_document(1, b"x", filename="a.txt", caption="c" * 1025)


@pytest.mark.parametrize(
    "html", ["<b>unclosed", "<b><i>x</b></i>", "line<br>break", "<span>x</span>", "a < b"]
)
async def test_broken_html_is_refused(bot_api: LocalBotApi, bot: Bot, html: str) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(1, html, parse_mode="HTML")


async def test_html_becomes_text_and_entities_in_utf16_units(bot_api: LocalBotApi, bot: Bot) -> None:
    sent = await bot.send_message(
        1, '🚧 <b>مغلق</b> &amp; <a href="https://example.org/c/17">التفاصيل</a>', "HTML"
    )
    assert sent.text == "🚧 مغلق & التفاصيل"
    bold, link = sent.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 3, 4)  # the emoji is two UTF-16 units
    assert (link.type, link.offset, link.url) == ("text_link", 10, "https://example.org/c/17")


async def test_blocked_user_gives_forbidden(bot_api: LocalBotApi, bot: Bot, driver: FakeUser) -> None:
    bot_api.block_bot(driver)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(driver.id, "closure ahead")
    bot_api.unblock_bot(driver)
    assert await bot.send_message(driver.id, "closure ahead")


async def test_edits_need_a_stored_message_and_a_change(bot_api: LocalBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=1, message_id=99)
    sent = await bot.send_message(1, "old")
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("old", chat_id=1, message_id=sent.message_id)
    edited = await bot.edit_message_text("new", chat_id=1, message_id=sent.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "new"
    assert await bot.delete_message(1, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(1, sent.message_id)


async def test_wrong_token_is_unauthorized_and_unknown_method_not_found(bot_api: LocalBotApi) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=bot_api.base_url):
            pass
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{bot_api.base_url}{bot_api.token}/sendTelepathy", json={})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


# -- what the bot sent is recorded --------------------------------------------------------------------
async def test_uploaded_photo_is_recorded_with_its_bytes(bot_api: LocalBotApi, bot: Bot) -> None:
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", 640, 480) + b"\x08\x02\x00\x00\x00rest"
    sent = await bot.send_photo(1, png, caption="<b>map</b>", parse_mode="HTML", filename="map.png")
    call = bot_api.sent(chat_id=1, method="sendPhoto")[0]
    assert call.params["photo"] == Upload("map.png", png, "image/png")
    assert (sent.photo[-1].width, sent.photo[-1].height, sent.caption) == (640, 480, "map")
    assert await (await bot.get_file(sent.photo[-1].file_id)).download_as_bytearray() == png


async def test_location_venue_and_commands_round_trip(bot_api: LocalBotApi, bot: Bot) -> None:
    pin = await bot.send_location(1, *RIYADH, live_period=600)
    venue = await bot.send_venue(1, *RIYADH, title="Closure 17", address="King Fahd Rd")
    assert pin.to_dict()["location"] == {"latitude": RIYADH[0], "longitude": RIYADH[1], "live_period": 600}
    assert venue.to_dict()["venue"]["title"] == "Closure 17"
    commands = [BotCommand("start", "ابدأ"), BotCommand("near", "إغلاقات قريبة")]
    assert await bot.set_my_commands(commands, language_code="ar")
    assert await bot.get_my_commands(language_code="ar") == tuple(commands)
    assert await bot.get_my_commands() == ()


async def test_chat_scoped_commands_need_a_chat_the_bot_knows(
    bot_api: LocalBotApi, bot: Bot, driver: FakeUser
) -> None:
    staff = [BotCommand("new", "New closure")]
    with pytest.raises(BadRequest, match="hat not found"):
        await bot.set_my_commands(staff, scope=BotCommandScopeChat(driver.id))
    bot_api.user_sends_text(driver, "hello")  # now the bot has a chat with them
    assert await bot.set_my_commands(staff, scope=BotCommandScopeChat(driver.id), language_code="en")
    assert await bot.get_my_commands(scope=BotCommandScopeChat(str(driver.id)), language_code="en") == (
        tuple(staff)
    )
    assert await bot.get_my_commands(scope=BotCommandScopeChat(driver.id)) == ()  # another language
    assert await bot.get_my_commands(language_code="en") == ()  # the default scope is apart
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(driver.id), language_code="en")
    assert await bot.get_my_commands(scope=BotCommandScopeChat(driver.id), language_code="en") == ()
    with pytest.raises(BadRequest, match="hat not found"):
        await bot.delete_my_commands(scope=BotCommandScopeChat(driver.id + 1))


async def test_wait_for_times_out_listing_what_was_received(bot_api: LocalBotApi, bot: Bot) -> None:
    await bot.send_message(1, "something else")
    with pytest.raises(TimeoutError, match=r"received:\s+getMe\s+sendMessage\(chat 1, 'something else'\)"):
        await bot_api.wait_for(message_to(2), timeout=0.2)


# -- the HTML check on its own ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("ش<u>x</i>", 'Unmatched end tag at byte offset 6, expected "</u>", found "</i>"'),
        ("<h1>x</h1>", 'Unsupported start tag "h1" at byte offset 0'),
    ],
)
def test_html_errors_name_the_problem(html: str, message: str) -> None:
    with pytest.raises(HtmlEntityError) as caught:
        parse_html(html)
    assert str(caught.value) == message


def test_allowed_html_subset_parses() -> None:
    html = (
        "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><tg-spoiler>e</tg-spoiler>"
        '<span class="tg-spoiler">f</span><code>g</code><pre><code class="language-sql">h</code></pre>'
        '<blockquote>i</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>&lt;&gt;&quot;'
    )
    text, entities = parse_html(html)
    assert text == 'abcdefghi👍<>"'
    assert [e["type"] for e in entities] == [
        "bold", "italic", "underline", "strikethrough", "spoiler", "spoiler", "code", "pre", "blockquote",
        "custom_emoji",
    ]  # fmt: skip
    assert entities[7]["language"] == "sql"
