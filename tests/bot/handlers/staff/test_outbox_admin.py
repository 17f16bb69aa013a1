"""/outbox for admins, and the worker wired into the running bot from the settings: woken by every write
through the bot's service, so posts never wait for its idle poll (set to ten minutes here)."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest

from bot.app import build_application
from bot.localapi import FakeUser
from bot.publish import wiring
from bot.publish.aiohttp_request import AiohttpRequest
from bot.publish.gate import TelegramGate
from bot.services import Services
from bot.services.throttle import FloodControl
from closures.formats.geojson import read_municipalities
from closures.models import Municipality
from closures.service import Actor
from closures.store import session_scope
from tests.bot.conftest import bot_settings
from tests.closures.conftest import draft_factory
from tests.closures.publishing_support import rows
from tests.conftest import DATA

ADMIN = FakeUser(777, first_name="Admin", language_code="en")
DRIVER = FakeUser(888, first_name="Driver", language_code="en")
CHANNEL = "@riyadh_roads"
IDLE_POLL = timedelta(minutes=10)  # far longer than any wait below: only a wake-up sends a post in time
KINGDOM_CENTRE = (24.7114, 46.6744)


@pytest.fixture
async def publishing_bot(bot_api, tmp_path, sqlite_template, clock):
    database = tmp_path / "bot.sqlite"
    shutil.copyfile(sqlite_template, database)
    settings = bot_settings(
        bot_api,
        database,
        admin_user_ids=(ADMIN.id,),
        publish_destinations={"riyadh": {"telegram": [CHANNEL]}},
    )
    services = Services.build(settings, clock=clock)
    with session_scope(services.engine, write=True) as session:
        for item in read_municipalities((DATA / "municipalities.geojson").read_text(encoding="utf-8")):
            session.add(Municipality(**{k: getattr(item, k) for k in item.__slots__}))
    app = build_application(services, rate_limit=False)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    await wiring.start(app, idle_poll=IDLE_POLL)  # what post_init does under run_polling
    try:
        yield app, services
    finally:
        await wiring.stop(app)
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def _press(api, user, message, data):
    since = len(api.calls)
    api.user_presses_button(user, message, data)
    return await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == user.id, since=since)


async def _send_location(api, user, lat, lon, *, after):
    await _ask(api, user, after)
    since = len(api.calls)
    api.user_sends_location(user, lat, lon)
    return await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == user.id, since=since)


async def _ask(api, user, text):
    since = len(api.calls)
    api.user_sends_text(user, text)
    return await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == user.id, since=since)


async def test_a_closure_registered_while_the_bot_runs_is_posted_to_the_channel(
    publishing_bot, bot_api, clock
):
    app, services = publishing_bot
    services.closures.register("riyadh", draft_factory(clock)(), Actor.system("test"))
    wiring.wake(app)
    photo = await bot_api.wait_for(lambda c: c.method == "sendPhoto" and c.chat_id == CHANNEL)
    assert "New road closure: King Fahd Rd closed" in photo.text
    await wiring.stop(app)  # lets the worker finish its round: the outcome is recorded
    assert {(r.destination, r.status) for r in rows(services.engine, event="announced")} == {
        ("telegram:@riyadh_roads", "done"), ("x", "skipped"), ("alerts:subscribers", "done"),
    }  # fmt: skip


async def test_a_closure_confirmed_in_new_is_posted_at_once_not_at_the_next_poll(publishing_bot, bot_api):
    _, services = publishing_bot
    services.flood = FloodControl(rate_per_s=1_000.0, burst=1_000)  # a test taps faster than an operator
    radius = await _send_location(bot_api, ADMIN, *KINGDOM_CENTRE, after="/new")
    answer = await _press(bot_api, ADMIN, radius, "sg:r:100")
    for data in ("sr:roadworks", "ss:full", "sd:both", "st:now"):
        answer = await _press(bot_api, ADMIN, answer, data)
    answer = await _ask(bot_api, ADMIN, "3h")
    for data in ("sx:skip", "ta:use", "te:skip"):
        answer = await _press(bot_api, ADMIN, answer, data)
    since = len(bot_api.calls)
    confirmed = await _press(bot_api, ADMIN, answer, "sv:confirm")
    closure = services.closures.get(int(re.search(r"#(\d+)", confirmed.text or "")[1]))
    # The worker slept (nothing was due) for up to IDLE_POLL; the confirm's commit woke it.
    photo = await bot_api.wait_for(lambda c: c.method == "sendPhoto" and c.chat_id == CHANNEL, since=since)
    assert closure.title_ar in photo.text


async def test_admins_see_the_backlog_and_dead_letters_and_retry_one(publishing_bot, bot_api, clock):
    app, services = publishing_bot
    bot_api.fail_next("sendPhoto", status=400, description="Bad Request: PHOTO_INVALID_DIMENSIONS")
    services.closures.register("riyadh", draft_factory(clock)(), Actor.system("test"))
    wiring.wake(app)
    await bot_api.wait_for(lambda c: c.method == "sendPhoto" and not c.ok)
    await wiring.stop(app)  # the round ends with the refusal recorded; a fresh worker takes over
    (letter,) = [r for r in rows(services.engine) if r.status == "dead"]
    await wiring.start(app)

    report = await _ask(bot_api, ADMIN, "/outbox")
    assert "dead letters" in report.text
    assert f"#{letter.id} · closure {letter.closure_id} · announced → telegram:@riyadh_roads" in report.text
    assert "attempts: 1 · telegram refused: Photo_invalid_dimensions" in report.text
    button = report.params["reply_markup"]["inline_keyboard"][0][0]
    assert button == {"text": f"🔁 Retry #{letter.id}", "callback_data": f"outbox:retry:{letter.id}"}

    since = len(bot_api.calls)
    bot_api.user_presses_button(ADMIN, report.result, button["callback_data"])
    answer = await bot_api.wait_for(lambda c: c.method == "answerCallbackQuery", since=since)
    assert answer.params["text"] == f"#{letter.id} is queued again."
    await bot_api.wait_for(lambda c: c.method == "sendPhoto" and c.ok, since=since)

    again = await _ask(bot_api, ADMIN, f"/outbox retry {letter.id}")
    assert again.text == f"#{letter.id} is not a dead letter, so there is nothing to retry."


async def test_drivers_cannot_see_the_outbox(publishing_bot, bot_api):
    answer = await _ask(bot_api, DRIVER, "/outbox")
    assert answer.text == "Sorry, this command is for municipality staff only."


async def test_the_worker_runs_with_the_bot_and_stops_with_it(publishing_bot):
    app, _ = publishing_bot
    task = app.bot_data["outbox_task"]
    assert not task.done()
    await wiring.stop(app)
    assert task.done()
    assert "outbox_task" not in app.bot_data


def test_the_worker_posts_through_the_bots_gate(bot_api, tmp_path, sqlite_template, clock):
    shutil.copyfile(sqlite_template, tmp_path / "bot.sqlite")
    services = Services.build(bot_settings(bot_api, tmp_path / "bot.sqlite"), clock=clock)
    app = build_application(services)  # as in production: every request through the gate
    worker = wiring.build_worker(services, app.bot)
    gate = app.bot.rate_limiter
    assert isinstance(gate, TelegramGate)
    assert isinstance(app.bot.request, AiohttpRequest)
    assert worker.publishers["telegram"].bot is app.bot  # type: ignore[attr-defined]
    assert worker.publishers["alert"].bot is app.bot  # type: ignore[attr-defined]
    assert all(p.intent_per_attempt for p in worker.publishers.values())  # type: ignore[attr-defined]
    pacer = gate.pacer
    assert (pacer.rate, pacer.chat_gap, pacer.group_per_minute) == (30.0, 1.0, 20)  # Telegram's limits
    services.close()
