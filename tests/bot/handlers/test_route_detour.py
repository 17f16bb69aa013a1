"""The driver's /route on real roads: Valhalla on the Helsinki tiles, a closed street, and the way around.

The bot's answer is checked against the router asked directly (the router itself is tested against the
street geometry in tests/geo/test_valhalla.py): the same road length, the detour's length, extra length and
extra time.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from shapely.geometry import LineString, Polygon

from bot.app import build_application
from bot.i18n import get_translator
from bot.localapi import FakeUser, LocalBotApi
from bot.services import Services
from closures.models import Municipality
from closures.rules import ClosureDraft
from closures.service import Actor
from closures.store import session_scope
from geo.osrm import OsrmHttp
from geo.routing import FallbackRouter, Router
from geo.valhalla import ValhallaEmbedded
from tests.bot.conftest import RunningBot, bot_settings
from tests.bot.handlers.test_route import ask_route
from tests.conftest import FakeClock
from tests.fakes.routing import RoutingServer, bent_line
from tests.geo.helsinki import ETELAESPLANADI, LASIPALATSI, YLIOPISTONKATU

HELSINKI = Polygon([(24.90, 60.15), (24.98, 60.15), (24.98, 60.19), (24.90, 60.19)])
START = (LASIPALATSI.y, LASIPALATSI.x)  # lat, lon as a driver shares them
DESTINATION = (YLIOPISTONKATU.y, YLIOPISTONKATU.x)
LANGS = pytest.mark.parametrize("lang", ["ar", "en"])


def add_closure(
    services: Services, geometry: LineString, *, starts_in: timedelta, severity: str = "full"
) -> None:
    now = services.clock()
    draft = ClosureDraft(
        geometry=geometry,
        reason="roadworks",
        starts_at=now + starts_in,
        ends_at=now + timedelta(days=2),
        title_ar="أعمال صيانة في الشارع",
        title_en="Street works",
        severity=severity,
    )
    services.closures.register("helsinki", draft, Actor.system("test"), allow_past_start=True)


async def start_bot(
    bot_api: LocalBotApi, tmp_path: Path, template: Path, clock: FakeClock, router: Router
) -> RunningBot:
    database = tmp_path / "bot.sqlite"
    shutil.copyfile(template, database)
    services = Services.build(bot_settings(bot_api, database), clock=clock, router=router)
    with session_scope(services.engine, write=True) as session:
        session.add(
            Municipality(
                slug="helsinki",
                name_ar="هلسنكي",
                name_en="Helsinki",
                boundary_geojson=json.dumps(HELSINKI.__geo_interface__),
                timezone="Europe/Helsinki",
            )
        )
    app = build_application(services, rate_limit=False)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    return RunningBot(app, bot_api, services, clock)


async def stop_bot(bot: RunningBot) -> None:
    assert bot.app.updater is not None
    await bot.app.updater.stop()
    await bot.app.stop()
    await bot.app.shutdown()


@pytest.fixture
async def helsinki_bot(
    bot_api: LocalBotApi, tmp_path: Path, sqlite_template: Path, clock: FakeClock, helsinki_tiles: Path
) -> AsyncIterator[RunningBot]:
    bot = await start_bot(
        bot_api, tmp_path, sqlite_template, clock, FallbackRouter(ValhallaEmbedded(helsinki_tiles))
    )
    try:
        yield bot
    finally:
        await stop_bot(bot)


@LANGS
async def test_a_full_closure_on_the_road_route_is_answered_with_the_detour(
    helsinki_bot: RunningBot, valhalla: ValhallaEmbedded, lang: str
) -> None:
    tr = get_translator(lang)
    add_closure(helsinki_bot.services, ETELAESPLANADI, starts_in=-timedelta(hours=1))
    plain = valhalla.route(LASIPALATSI, YLIOPISTONKATU)
    detour = valhalla.route(LASIPALATSI, YLIOPISTONKATU, avoid=[ETELAESPLANADI])

    answer = await ask_route(helsinki_bot, FakeUser(301, language_code=lang), START, DESTINATION)

    parts = (answer.text or "").split("\n\n")
    assert parts[0] == f"<b>{tr.n('route.header', 1, length=tr.distance(plain.length_m))}</b>"
    assert parts[1] == tr.t("route.blocked")
    assert parts[-1] == tr.t(
        "route.detour",
        length=tr.distance(detour.length_m),
        extra=tr.distance(detour.length_m - plain.length_m),
        extra_time=tr.n("route.minutes", math.ceil((detour.duration_s - plain.duration_s) / 60)),
    )
    assert tr.t("route.approximate") not in (answer.text or "")
    assert detour.length_m - plain.length_m > 100


async def test_a_closure_that_has_not_started_leaves_the_road_route_alone(
    helsinki_bot: RunningBot, valhalla: ValhallaEmbedded
) -> None:
    en = get_translator("en")
    add_closure(helsinki_bot.services, ETELAESPLANADI, starts_in=timedelta(hours=3))
    plain = valhalla.route(LASIPALATSI, YLIOPISTONKATU)

    answer = await ask_route(helsinki_bot, FakeUser(302, language_code="en"), START, DESTINATION)

    text = answer.text or ""
    assert text.split("\n\n")[0] == f"<b>{en.n('route.header', 1, length=en.distance(plain.length_m))}</b>"
    assert len(text.split("\n\n")) == 2  # the header and the closure: no block, no detour, no label


async def test_a_partial_closure_on_the_route_does_not_block_it(helsinki_bot: RunningBot) -> None:
    en = get_translator("en")
    add_closure(helsinki_bot.services, ETELAESPLANADI, starts_in=-timedelta(hours=1), severity="partial")

    answer = await ask_route(helsinki_bot, FakeUser(303, language_code="en"), START, DESTINATION)

    assert en.t("route.blocked") not in (answer.text or "")


@pytest.fixture
def osrm_server() -> Iterator[RoutingServer]:
    with RoutingServer().running() as server:
        yield server


@LANGS
async def test_osrm_cannot_go_round_a_closure_so_the_driver_is_told_there_is_no_detour(
    bot_api: LocalBotApi,
    tmp_path: Path,
    sqlite_template: Path,
    clock: FakeClock,
    osrm_server: RoutingServer,
    lang: str,
) -> None:
    tr = get_translator(lang)
    router = FallbackRouter(OsrmHttp(osrm_server.url))
    bot = await start_bot(bot_api, tmp_path, sqlite_template, clock, router)
    try:
        # The stand-in's road bends east through the midpoint: close its first half.
        a, bend, _ = bent_line((LASIPALATSI.x, LASIPALATSI.y), (YLIOPISTONKATU.x, YLIOPISTONKATU.y))
        add_closure(bot.services, LineString([a, bend]), starts_in=-timedelta(hours=1))

        answer = await ask_route(bot, FakeUser(304, language_code=lang), START, DESTINATION)
    finally:
        await stop_bot(bot)
        router.close()

    parts = (answer.text or "").split("\n\n")
    assert parts[1] == tr.t("route.blocked")
    assert parts[-1] == tr.t("route.no_detour")
    assert len(osrm_server.requests) == 2  # the route, then the request for a way around
