"""The channel publisher: map from tiles, caption and pin, edits and replies, the longest names within
Telegram's limits as the local Bot API checks them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import shapely
from PIL import Image
from shapely.geometry import Point

from bot.publish.maps import MapMaker
from bot.publish.telegram_channel import ChannelPublisher
from closures.service import Actor, ClosureService
from geo.measure import pin_of
from geo.render import TileSource
from tests.closures.conftest import draft_factory
from tests.closures.publishing_support import CHANNEL, local_bot, row, rows, worker
from tests.fakes.tiles import TILE_COLOUR, TileServer

SYSTEM = Actor.system("test")
LONG_AR = ("إغلاق جزئي لطريق الأمير محمد بن سلمان بن عبدالعزيز عند تقاطع طريق الملك فهد " * 4)[:200]


@pytest.fixture
async def tg(bot_api):
    async with local_bot(bot_api) as bot:
        yield bot


@pytest.fixture
def make_draft(clock):
    return draft_factory(clock)


@pytest.fixture
def posting(engine, clock, municipalities) -> ClosureService:
    return ClosureService(engine, clock=clock, destinations={"telegram": CHANNEL})


@pytest.fixture
def tiles():
    server = TileServer()
    with server.running():
        yield server


async def test_the_announcement_carries_a_tiled_map_and_a_pin_at_the_closure(
    posting, engine, clock, bot_api, tg, make_draft, tiles
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    maps = MapMaker(TileSource(tiles.url_template, timeout_s=2))
    await worker(engine, clock, {"telegram": ChannelPublisher(tg, maps)}).drain()
    maps.close()

    photo = bot_api.sent(CHANNEL, "sendPhoto")[0]
    image = Image.open(io.BytesIO(photo.params["photo"].content)).convert("RGB")
    assert image.getpixel((5, 100)) == TILE_COLOUR
    pin = bot_api.sent(CHANNEL, "sendLocation")[0]
    geometry = shapely.from_geojson(closure.geometry_geojson)
    expected = pin_of(geometry)
    assert (pin.params["latitude"], pin.params["longitude"]) == pytest.approx((expected.y, expected.x))
    assert geometry.distance(Point(pin.params["longitude"], pin.params["latitude"])) < 1e-9


async def test_an_update_edits_the_original_and_replies_with_what_changed(
    posting, engine, clock, bot_api, tg, make_draft
):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    w = worker(engine, clock, {"telegram": ChannelPublisher(tg, MapMaker())})
    await w.drain()
    original = bot_api.sent(CHANNEL, "sendPhoto")[0].result["message_id"]

    posting.update(closure.id, 1, {"detour_en": "Take Olaya St", "detour_ar": "عبر شارع العليا"}, SYSTEM)
    await w.drain()

    edit = bot_api.sent(CHANNEL, "editMessageCaption")[0]
    assert edit.params["message_id"] == original
    assert "Take Olaya St" in edit.text
    reply = bot_api.sent(CHANNEL, "sendMessage")[-1]
    assert reply.params["reply_parameters"]["message_id"] == original
    assert "Changed: the detour" in reply.text
    channel = bot_api.messages(CHANNEL)
    assert "Take Olaya St" in next(m for m in channel if m["message_id"] == original)["caption"]


async def test_the_longest_names_fit_every_post_telegram_checks(
    posting, engine, clock, bot_api, tg, make_draft
):
    draft = make_draft(
        title_ar=LONG_AR, title_en="K" * 200, lanes_ar=LONG_AR, lanes_en="L" * 200, severity="partial",
        detour_ar=("استخدم طريق العليا " * 200)[:2000], detour_en=("<Use> & Olaya " * 200)[:2000],
    )  # fmt: skip
    closure = posting.register("riyadh", draft, SYSTEM)
    w = worker(engine, clock, {"telegram": ChannelPublisher(tg, MapMaker())})
    await w.drain()
    posting.update(closure.id, 1, {"title_en": "Q" * 200}, SYSTEM)
    await w.drain()
    clock.advance(timedelta(hours=1))
    await w.drain()
    posting.lift(closure.id, SYSTEM)
    await w.drain()

    assert [c for c in bot_api.calls if not c.ok] == []  # Telegram would have refused nothing
    assert {r.event: r.status for r in rows(engine)} == {
        "announced": "done", "updated": "done", "started": "done", "ended": "superseded", "lifted": "done"
    }  # fmt: skip


async def test_a_failed_pin_does_not_send_the_post_again(posting, engine, clock, bot_api, tg, make_draft):
    closure = posting.register("riyadh", make_draft(), SYSTEM)
    bot_api.fail_next("sendLocation", status=500)
    await worker(engine, clock, {"telegram": ChannelPublisher(tg, MapMaker())}).drain()
    assert row(engine, closure.id, "announced").status == "done"
    assert len(bot_api.sent(CHANNEL, "sendPhoto")) == 1
