"""Live location: the bot follows the fixes and warns once of a closure ahead, at most one message per 30 s.

The driver heads due north from a quiet corner of Riyadh, 200 m per 10 s (72 km/h), towards test closures
registered on that line. Between fixes the test clock moves 10 s, and ``settle`` waits until the bot has
handled the fix, so "no message" is a fact, not a timeout. Flood control runs on the same test clock (a
real driver's fixes come seconds apart; the test sends them as fast as the bot answers).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import Point

from bot.i18n import Translator, get_translator
from bot.localapi import ApiCall, FakeUser
from bot.services.throttle import FloodControl
from tests.bot.conftest import RunningBot
from tests.bot.handlers.test_nearby import (
    QUIET,
    assert_arabic_numerals,
    destination,
    reach,
    register_point,
    settle,
)

FIX_EVERY = timedelta(seconds=10)
RADIUS_M = 50.0
NORTH, SOUTH = 0.0, 180.0
RIYADH = ZoneInfo("Asia/Riyadh")


@pytest.fixture
def live_bot(running_bot: RunningBot) -> RunningBot:
    clock = running_bot.clock
    running_bot.services.flood = FloodControl(clock=lambda: clock().timestamp())
    return running_bot


def ahead(metres: float) -> tuple[float, float]:
    """The point ``metres`` north of where the drive starts."""
    return destination(*QUIET, NORTH, metres)


class Drive:
    """One user sharing a live location from QUIET, one fix at a time."""

    def __init__(self, bot: RunningBot, user: FakeUser) -> None:
        self.bot, self.user = bot, user
        self.message_id = 0

    async def start(self) -> ApiCall:
        since = len(self.bot.api.calls)
        update = self.bot.api.user_sends_location(self.user, *QUIET, live_period=900)
        self.message_id = update["message"]["message_id"]
        return await self.bot.reply_to(self.user, since=since)

    async def fix(self, lat: float, lon: float, *, after: timedelta = FIX_EVERY) -> list[str]:
        """Move the live location ``after`` the previous fix; the texts the bot sent in answer."""
        self.bot.clock.advance(after)
        since = len(self.bot.api.calls)
        self.bot.api.user_edits_live_location(self.user, self.message_id, lat, lon)
        await settle(self.bot)
        new = self.bot.api.calls[since:]
        return [c.text or "" for c in new if c.method == "sendMessage" and c.chat_id == self.user.id]

    async def stop(self) -> ApiCall:
        since = len(self.bot.api.calls)
        self.bot.api.user_stops_live_location(self.user, self.message_id)
        return await self.bot.reply_to(self.user, since=since)


def alert(tr: Translator, title: str, at: tuple[float, float], closure: tuple[float, float]) -> str:
    """The alert for a closure, at our own geodesic distance from the fix to its edge."""
    distance = reach(*at, Point(closure[1], closure[0]), RADIUS_M).distance_m
    return tr.t("live.alert", title=title, distance=tr.distance(distance))


async def test_live_location_is_followed_until_sharing_stops(live_bot: RunningBot) -> None:
    for user_id, lang in enumerate(["ar", "en"], start=501):
        tr = get_translator(lang)
        drive = Drive(live_bot, FakeUser(user_id, language_code=lang))

        assert (await drive.start()).text == tr.t("live.started")
        assert (await drive.stop()).text == tr.t("live.stopped")


@pytest.mark.parametrize("lang", ["ar", "en"])
async def test_driving_towards_a_closure_warns_once(live_bot: RunningBot, lang: str) -> None:
    tr = get_translator(lang)
    closure = ahead(2_950)  # its edge is 2.9 km ahead: within 2 km from the fifth fix (1 km driven)
    title = register_point(live_bot.services, *closure, name=0, radius_m=RADIUS_M)[lang]
    drive = Drive(live_bot, FakeUser(502, language_code=lang))
    await drive.start()

    answers = [await drive.fix(*ahead(200 * k)) for k in range(1, 10)]

    assert answers == [[], [], [], [], [alert(tr, title, ahead(1_000), closure)], [], [], [], []]
    if lang == "ar":
        assert_arabic_numerals(answers[4][0], staff=[title])
    assert (await drive.stop()).text == tr.t("live.stopped")


async def test_driving_away_from_a_closure_gives_no_warning(live_bot: RunningBot) -> None:
    register_point(live_bot.services, *ahead(1_500), name=0, radius_m=RADIUS_M)
    drive = Drive(live_bot, FakeUser(503, language_code="en"))
    await drive.start()

    answers = [await drive.fix(*destination(*QUIET, SOUTH, 200 * k)) for k in range(1, 6)]

    assert answers == [[]] * 5


async def test_walking_pace_towards_a_closure_gives_no_warning(live_bot: RunningBot) -> None:
    register_point(live_bot.services, *ahead(1_500), name=0, radius_m=RADIUS_M)
    drive = Drive(live_bot, FakeUser(504, language_code="en"))
    await drive.start()

    answers = [await drive.fix(*ahead(20 * k)) for k in range(1, 6)]  # 20 m per 10 s: 7.2 km/h

    assert answers == [[]] * 5


async def test_a_second_closure_waits_30_seconds_after_the_first_warning(live_bot: RunningBot) -> None:
    en = get_translator("en")
    first, second = ahead(2_950), ahead(3_350)  # edges 2.9 and 3.3 km ahead
    first_title = register_point(live_bot.services, *first, name=0, radius_m=RADIUS_M)["en"]
    second_title = register_point(live_bot.services, *second, name=1, radius_m=RADIUS_M)["en"]
    drive = Drive(live_bot, FakeUser(505, language_code="en"))
    await drive.start()
    for k in range(1, 5):
        assert await drive.fix(*ahead(200 * k)) == []

    at_50s = await drive.fix(*ahead(1_000))
    at_60s = await drive.fix(*ahead(1_200))
    at_70s = await drive.fix(*ahead(1_400))  # the second is within 2 km now, but only 20 s have passed
    at_80s = await drive.fix(*ahead(1_600))

    assert at_50s == [alert(en, first_title, ahead(1_000), first)]
    assert at_60s == at_70s == []
    assert at_80s == [alert(en, second_title, ahead(1_600), second)]


async def test_a_closure_starting_tomorrow_gives_no_warning_tonight(live_bot: RunningBot) -> None:
    register_point(live_bot.services, *ahead(1_800), name=0, radius_m=RADIUS_M, starts_in=timedelta(hours=5))
    drive = Drive(live_bot, FakeUser(506, language_code="en"))
    await drive.start()

    answers = [await drive.fix(*ahead(200 * k)) for k in range(1, 8)]

    assert answers == [[]] * 7  # ahead and near, but it begins hours after the driver has passed


@pytest.mark.parametrize("lang", ["ar", "en"])
async def test_a_closure_starting_before_the_driver_gets_there_is_warned_of_with_its_start(
    live_bot: RunningBot, lang: str
) -> None:
    tr = get_translator(lang)
    # The edge is 1.55 km from the first fix; at 72 km/h, with roads 1.3 times the straight line and no
    # faster than 60 km/h, the driver needs about 2 minutes: a closure starting in 1 minute is there first,
    # one starting in 5 minutes is not (and never will be, at this speed).
    closure = ahead(1_800)
    starts_in = timedelta(minutes=1)
    title = register_point(
        live_bot.services, *closure, name=0, radius_m=RADIUS_M, starts_in=starts_in + FIX_EVERY
    )[lang]
    register_point(
        live_bot.services, *ahead(1_900), name=1, radius_m=RADIUS_M, starts_in=timedelta(minutes=5)
    )
    drive = Drive(live_bot, FakeUser(507, language_code=lang))
    await drive.start()

    answers = [await drive.fix(*ahead(200 * k)) for k in range(1, 3)]

    distance = reach(*ahead(200), Point(closure[1], closure[0]), RADIUS_M).distance_m
    at_first_fix = live_bot.clock() - FIX_EVERY
    starts = tr.time(at_first_fix + starts_in, RIYADH, at_first_fix)
    wanted = tr.t("live.alert_starts", title=title, distance=tr.distance(distance), time=starts)
    assert answers == [[wanted], []]


async def test_several_closures_ahead_come_in_one_message(live_bot: RunningBot) -> None:
    en = get_translator("en")
    first, second = ahead(1_420), ahead(1_730)
    titles = [
        register_point(live_bot.services, *p, name=i, radius_m=RADIUS_M)["en"]
        for i, p in enumerate((first, second))
    ]
    drive = Drive(live_bot, FakeUser(508, language_code="en"))
    await drive.start()

    answers = [await drive.fix(*ahead(200 * k)) for k in range(1, 3)]

    items = [
        en.t(
            "live.alert_item",
            title=title,
            distance=en.distance(reach(*ahead(200), Point(p[1], p[0]), RADIUS_M).distance_m),
        )
        for title, p in zip(titles, (first, second), strict=True)
    ]
    assert answers == [
        ["\n".join([f"<b>{en.n('live.alerts_header', 2)}</b>", *(f"• {i}" for i in items)])],
        [],
    ]


async def test_a_location_sent_on_a_live_trip_reads_on_your_way_and_behind_you(live_bot: RunningBot) -> None:
    front = register_point(live_bot.services, *ahead(3_500), name=0, radius_m=RADIUS_M)["en"]
    back = register_point(live_bot.services, *destination(*QUIET, SOUTH, 600), name=1, radius_m=RADIUS_M)[
        "en"
    ]
    user = FakeUser(509, language_code="en")
    drive = Drive(live_bot, user)
    await drive.start()
    await drive.fix(*ahead(200))

    answer = await live_bot.send_location(user, *ahead(200))

    text = (answer.text or "").replace("\u2068", "").replace("\u2069", "")
    assert f"<b>{front}</b>\n" in text
    assert " on your way · " in text.split(front)[1].split("\n\n")[0]
    assert " behind you · " in text.split(back)[1].split("\n\n")[0]
