"""``/emergency`` through the real Application over HTTP against the local Bot API (and X against the local
X API): an operator declares a flood over a playbook's area; the channel gets one pinned post, X one post
(and its English reply), every subscriber and recent driver inside exactly one message in their language,
nobody outside anything; the update and the end reach the same people as replies and move the pin; an
exercise reaches staff only; a stranger is refused; a worker killed in the fan-out resumes without a
duplicate."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from shapely.geometry import Point

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from bot.publish import wiring
from closures.emergency_models import Emergency
from closures.lifecycle import Phase, phase_at
from closures.service import Actor
from tests.bot.handlers.staff.conftest import RIYADH, RIYADH_ADMIN, RIYADH_EN, STRANGER, StaffBot
from tests.closures.conftest import offset
from tests.closures.emergency_support import KHURAIS, khurais_playbook
from tests.fakes.x_api import ACCOUNT, LocalXApi

CHANNEL = "@riyadh_roads"
CENTRE = offset(KHURAIS, 90, 600)  # the middle of the playbook's 3 km square
INSIDE = [offset(CENTRE, azimuth, 400) for azimuth in (0, 90, 180, 270)]  # (lon, lat)
OUTSIDE = offset(CENTRE, 90, 5000)
A = FakeUser(50001, language_code="ar")  # subscriber inside, Arabic
B = FakeUser(50002, language_code="en")  # subscriber inside, English
C = FakeUser(50003, language_code="ar")  # subscriber outside
D = FakeUser(50004, language_code="en")  # driver who shared a location inside
E = FakeUser(50005, language_code="ar")  # driver who shared a location outside
F = FakeUser(50006, language_code="ar")  # subscriber inside who also shared a location there
REACHED = {A.id: "ar", B.id: "en", D.id: "en", F.id: "ar"}


def emergency_settings(x_api: LocalXApi) -> dict[str, Any]:
    """A channel and an X account for Riyadh (the X keys the local X API checks, X_API_BASE_URL pointing at
    it); no background worker."""
    keys = {
        "consumer_key": ACCOUNT.consumer_key, "consumer_secret": ACCOUNT.consumer_secret,
        "access_token": ACCOUNT.access_token, "access_token_secret": ACCOUNT.access_token_secret,
    }  # fmt: skip
    return {
        "publish_destinations": {"riyadh": {"telegram": [CHANNEL], "x": "riyadh_roads"}},
        "x_accounts": {"riyadh_roads": keys},
        "outbox_worker": False,  # each test drains its own worker: no background timing
        "x_daily_budget": 500,
        "x_api_base_url": x_api.base_url,
    }


bot_overrides = pytest.fixture(emergency_settings, name="bot_overrides")


@pytest.fixture
async def people(staff_bot: StaffBot, x_api: LocalXApi) -> None:
    """The playbook, three subscribers, three drivers who shared their location (written to the store);
    the sample closures' own posts already out (a bot that has been running), and forgotten."""
    await drain(staff_bot, x_api)
    services = staff_bot.services
    services.emergencies.playbooks.save("riyadh", khurais_playbook(), Actor.system("test"))
    for user, where in ((A, INSIDE[0]), (B, INSIDE[1]), (C, OUTSIDE), (F, INSIDE[2])):
        services.drivers.save_place(user.id, "home", Point(where))
        services.drivers.subscribe(user.id, "home", 500, user.language_code or "ar")
    for user, (lon, lat) in ((D, INSIDE[3]), (E, OUTSIDE), (F, INSIDE[2])):
        await staff_bot.send_location(user, lat, lon)
    await asyncio.to_thread(services.locations.flush)
    x_api.tweets.clear()
    staff_bot.api.calls.clear()


async def drain(staff_bot: StaffBot, x_api: LocalXApi, **options: Any) -> int:
    worker = wiring.build_worker(staff_bot.services, staff_bot.app.bot, **options)
    try:
        return await worker.drain()
    finally:
        await wiring.close_x(worker)


async def declare(staff_bot: StaffBot, user: FakeUser, *, command: str = "/emergency") -> ApiCall:
    """From ``/emergency`` to the preview, over the playbook's area, with every proposal taken."""
    answer = await staff_bot.say(user, command)
    answer = await staff_bot.press(user, answer, "ea:p:0")  # the playbook's area (and the playbook)
    for data in ("eh:flood", "el:alarm", "et:headline_ar", "et:headline_en", "et:instruction_ar",
                 "et:instruction_en", "ex:6"):  # fmt: skip
        answer = await staff_bot.press(user, answer, data)
    return await staff_bot.press(user, answer, "ep:go")


def dms(staff_bot: StaffBot, since: int = 0) -> dict[int, list[ApiCall]]:
    out: dict[int, list[ApiCall]] = {}
    for call in staff_bot.api.calls[since:]:
        if (
            call.method == "sendMessage"
            and call.ok
            and isinstance(call.chat_id, int)
            and call.chat_id >= 50000
        ):
            out.setdefault(call.chat_id, []).append(call)
    return out


def channel(staff_bot: StaffBot, since: int = 0) -> list[ApiCall]:
    return [
        c for c in staff_bot.api.calls[since:] if c.ok and c.method == "sendMessage" and c.chat_id == CHANNEL
    ]


def current(staff_bot: StaffBot) -> Emergency:
    (emergency,) = staff_bot.services.emergencies.listing("riyadh")
    return emergency


@pytest.mark.usefixtures("people")
async def test_a_flood_over_a_playbook_reaches_the_channel_x_and_everyone_inside_once(staff_bot, x_api):
    en = get_translator("en")

    preview = await declare(staff_bot, RIYADH_EN)

    people = en.n("emergency.preview.people", 4)  # A, B, F subscribe; D drove there; F counted once
    assert en.t("emergency.preview.reach", people=people, subscribers="3", drivers="1") in preview.text
    assert en.n("emergency.preview.closures", 3) in preview.text
    assert staff_bot.services.emergencies.listing("riyadh") == []  # nothing written before Confirm
    done = await staff_bot.press(RIYADH_EN, preview, "ev:confirm")
    first = current(staff_bot)
    assert done.text == en.t("emergency.declared", id=first.first_id)
    links = staff_bot.services.emergencies.closures_of(first.first_id)
    assert [closure.title_en for _, closure in links] == [f"Khurais underpass {i}" for i in (1, 2, 3)]

    await drain(staff_bot, x_api)

    (post,) = channel(staff_bot)
    assert "Flooding" in post.text
    assert "سيول" in post.text
    assert "Khurais underpass 1" in post.text
    assert staff_bot.api.pinned(CHANNEL) == [post.result["message_id"]]
    arabic, english = x_api.tweets  # one post, and its English reply
    assert (arabic["reply_to"], english["reply_to"]) == (None, arabic["id"])
    assert "سيول" in arabic["text"]
    received = dms(staff_bot)
    assert {user: len(calls) for user, calls in received.items()} == dict.fromkeys(REACHED, 1)
    for user, lang in REACHED.items():
        text = received[user][0].text or ""
        tr = get_translator(lang)
        assert tr.t(f"emergency.level.{first.level}") in text
        assert (first.headline_ar if lang == "ar" else first.headline_en) in text
    assert get_translator("en").t("emergency.dm.why.driver") in (received[D.id][0].text or "")


@pytest.mark.usefixtures("people")
async def test_the_update_and_the_end_reach_the_same_people_as_replies_and_move_the_pin(staff_bot, x_api):
    done = await staff_bot.press(RIYADH_EN, await declare(staff_bot, RIYADH_EN), "ev:confirm")
    assert done.text.startswith("Declared")
    await drain(staff_bot, x_api)
    (post,) = channel(staff_bot)
    firsts = {user: calls[0].result["message_id"] for user, calls in dms(staff_bot).items()}
    since = len(staff_bot.api.calls)

    menu = await staff_bot.say(RIYADH_EN, "/emergency update")
    question = await staff_bot.press(RIYADH_EN, menu, "ec:expiry")
    preview = await staff_bot.press(RIYADH_EN, question, "ex:12")
    updated = await staff_bot.press(RIYADH_EN, preview, "ev:confirm")
    assert updated.text == get_translator("en").t(
        "emergency.updated", id=current(staff_bot).first_id, version=2
    )
    await drain(staff_bot, x_api)

    (reply,) = channel(staff_bot, since)
    assert reply.params["reply_parameters"]["message_id"] == post.result["message_id"]
    assert staff_bot.api.pinned(CHANNEL) == [reply.result["message_id"]]
    first_tweet = x_api.tweets[0]["id"]
    assert [t["reply_to"] for t in x_api.tweets[2:]] == [first_tweet, x_api.tweets[2]["id"]]
    again = dms(staff_bot, since)
    assert {u: len(c) for u, c in again.items()} == dict.fromkeys(REACHED, 1)
    assert {u: c[0].params["reply_parameters"]["message_id"] for u, c in again.items()} == firsts
    khurais = [
        closure for _, closure in staff_bot.services.emergencies.closures_of(current(staff_bot).first_id)
    ]
    assert [c.ends_at for c in khurais[:2]] == [current(staff_bot).expires_at] * 2
    since = len(staff_bot.api.calls)

    question = await staff_bot.say(RIYADH_EN, "/emergency end")
    ended = await staff_bot.press(RIYADH_EN, question, "ee:yes")
    assert ended.text == get_translator("en").t("emergency.ended", id=current(staff_bot).first_id)
    await drain(staff_bot, x_api)

    (last,) = channel(staff_bot, since)
    assert last.params["reply_parameters"]["message_id"] == post.result["message_id"]
    assert staff_bot.api.pinned(CHANNEL) == []
    assert {
        u: c[0].params["reply_parameters"]["message_id"] for u, c in dms(staff_bot, since).items()
    } == firsts
    now = staff_bot.clock.now
    phases = [phase_at(staff_bot.services.closures.get(c.id), now) for c in khurais]
    assert phases == [Phase.LIFTED, Phase.LIFTED, Phase.ACTIVE]  # the third keeps its own two hours


@pytest.mark.usefixtures("people")
async def test_an_exercise_reaches_only_the_municipalitys_staff(staff_bot, x_api):
    preview = await declare(staff_bot, RIYADH_EN, command="/emergency exercise")
    assert get_translator("en").t("emergency.preview.header_exercise") in preview.text
    await staff_bot.press(RIYADH_EN, preview, "ev:confirm")

    await drain(staff_bot, x_api)

    assert channel(staff_bot) == []
    assert x_api.tweets == []
    assert dms(staff_bot) == {}
    staff = {RIYADH.id, RIYADH_EN.id, RIYADH_ADMIN.id}
    told = {
        c.chat_id
        for c in staff_bot.api.calls
        if c.method == "sendMessage" and c.ok and "🧪" in (c.text or "")
    }
    assert told == staff
    assert staff_bot.services.emergencies.closures_of(current(staff_bot).first_id) == []


async def test_a_stranger_calling_emergency_is_refused_and_nothing_is_written(staff_bot):
    before = staff_bot.writes()
    answer = await staff_bot.say(STRANGER, "/emergency")
    assert answer.text == get_translator("en").t("error.not_authorised")
    assert staff_bot.writes() == before
    assert staff_bot.services.emergencies.listing("riyadh") == []


@pytest.mark.usefixtures("people")
async def test_a_worker_killed_in_the_fan_out_resumes_without_a_duplicate(staff_bot, x_api):
    await staff_bot.press(RIYADH_EN, await declare(staff_bot, RIYADH_EN), "ev:confirm")
    sent, never = asyncio.Event(), asyncio.Event()
    delivered: list[str] = []

    async def crash_on_the_second_message(item, remote_id):
        delivered.append(item.destination)
        if sum(d.startswith("emergency-dm:") for d in delivered) == 2:
            sent.set()
            await never.wait()  # the process dies before the outcome is recorded

    task = asyncio.create_task(drain(staff_bot, x_api, after_send=crash_on_the_second_message, concurrency=1))
    await asyncio.wait_for(sent.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    staff_bot.clock.advance(timedelta(minutes=6))  # the dead worker's lease runs out; a new one resumes
    await drain(staff_bot, x_api)

    assert {user: len(calls) for user, calls in dms(staff_bot).items()} == dict.fromkeys(REACHED, 1)
    assert len(channel(staff_bot)) == 1


@pytest.mark.usefixtures("people")
async def test_an_update_to_a_larger_area_gives_newcomers_a_first_message_and_the_others_a_reply(
    staff_bot, x_api
):
    await staff_bot.press(RIYADH_EN, await declare(staff_bot, RIYADH_EN), "ev:confirm")
    await drain(staff_bot, x_api)
    firsts = {user: calls[0].result["message_id"] for user, calls in dms(staff_bot).items()}
    since = len(staff_bot.api.calls)

    menu = await staff_bot.say(RIYADH_EN, "/emergency update")
    question = await staff_bot.press(RIYADH_EN, menu, "ec:area")
    preview = await staff_bot.press(RIYADH_EN, question, "ea:whole")
    en = get_translator("en")
    people = en.n("emergency.preview.people", 6)  # A, B, F and the driver D as before; C and E now inside
    assert en.t("emergency.preview.reach", people=people, subscribers="4", drivers="2") in preview.text
    await staff_bot.press(RIYADH_EN, preview, "ev:confirm")
    await drain(staff_bot, x_api)

    again = dms(staff_bot, since)
    assert {u: len(c) for u, c in again.items()} == dict.fromkeys([*REACHED, C.id, E.id], 1)
    replies = {u: (c[0].params.get("reply_parameters") or {}).get("message_id") for u, c in again.items()}
    assert replies == firsts | {C.id: None, E.id: None}
