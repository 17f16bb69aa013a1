"""Saved places and routes, subscriptions to them, and ``/forget``.

Saving: a "save" button under an answer remembers its point (or route); the next text names it.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import LineString, Point
from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotContext, BotHandler
from bot.handlers.common import Driver, addressed_to_me, blocking, driver_of, reply
from bot.text import keyboards
from bot.text.emergency import kept_for
from closures.drivers import MAX_PLACES, Place
from closures.errors import NotFound, Refusal, ValidationError

SUBSCRIPTION_RADIUS_M = 2_000


async def on_save(update: Update, context: BotContext) -> None:
    """The save button: remember what to save and ask for its name."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    data = context.user_data if context.user_data is not None else {}
    geometry = _last_route(data) if query.data == "save:route" else _last_point(data)
    if geometry is None or not isinstance(query.message, Message):
        return
    data["naming"] = geometry
    me = await driver_of(update, context)
    await reply(query.message, me.tr.t("places.ask_name"))


async def on_place_name(update: Update, context: BotContext, me: Driver, text: str) -> bool:
    """If a place is waiting for its name, this text is it; True when it was used."""
    message = update.effective_message
    data = context.user_data
    if data is None or message is None or "naming" not in data:
        return False
    geometry = data.pop("naming")
    try:
        place = await blocking(context.services.drivers.save_place, me.user_id, text, geometry)
    except ValidationError as exc:
        key = "places.too_many" if exc.code is Refusal.BAD_VALUE and exc.field == "name" else "input.too_long"
        await reply(message, me.tr.t(key, max=MAX_PLACES))
        return True
    await reply(message, me.tr.t("places.saved", name=place.name))
    return True


async def places(update: Update, context: BotContext) -> None:
    """List saved places (with their alert radius when subscribed), each with a delete button."""
    got = await _saved_places(update, context)
    if got is None:
        return
    message, me, saved = got
    subs = {s.name: s.radius_m for s in await blocking(context.services.drivers.subscriptions, me.user_id)}
    lines = [me.tr.t("places.header")]
    for place in saved:
        if place.name in subs:
            lines.append(
                "• " + me.tr.t("places.item", name=place.name, radius=me.tr.distance(subs[place.name]))
            )
        else:
            key = "places.item_route" if place.kind == "route" else "places.item_saved"
            lines.append("• " + me.tr.t(key, name=place.name))
    markup = keyboards.saved_places(me.tr, (p.name for p in saved))
    await reply(message, "\n".join(lines), reply_markup=markup)


async def subscribe(update: Update, context: BotContext) -> None:
    """Offer the saved places to watch."""
    got = await _saved_places(update, context)
    if got is None:
        return
    message, me, saved = got
    text = me.tr.t("subscribe.choose", radius=me.tr.distance(SUBSCRIPTION_RADIUS_M))
    await reply(message, text, reply_markup=keyboards.subscribe(p.name for p in saved))


async def on_place_button(update: Update, context: BotContext) -> None:
    """``sub:N`` subscribes to the N-th saved place; ``delplace:N`` deletes it."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    action, _, index = (query.data or "").partition(":")
    me = await driver_of(update, context)
    drivers = context.services.drivers
    saved = await blocking(drivers.places, me.user_id)
    if not index.isdigit() or int(index) >= len(saved) or not isinstance(query.message, Message):
        return
    name = saved[int(index)].name
    try:
        if action == "sub":
            await blocking(drivers.subscribe, me.user_id, name, SUBSCRIPTION_RADIUS_M, me.tr.lang)
            text = me.tr.t("subscribe.done", name=name, radius=me.tr.distance(SUBSCRIPTION_RADIUS_M))
        else:
            await blocking(drivers.delete_place, me.user_id, name)
            text = me.tr.t("places.deleted", name=name)
    except NotFound:
        return  # deleted meanwhile (another device): the list they pressed on is stale
    await reply(query.message, text)


async def forget(update: Update, context: BotContext) -> None:
    """Ask before deleting everything stored about the user."""
    message = update.effective_message
    if not addressed_to_me(update, context) or message is None:
        return
    me = await driver_of(update, context)
    kept = me.tr.t("forget.locations_kept", duration=kept_for(me.tr, context.services.recent_window))
    await reply(message, f"{me.tr.t('forget.confirm')}\n{kept}", reply_markup=keyboards.forget(me.tr))


async def on_forget(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    me = await driver_of(update, context)
    if query.data != "forget:yes":
        await query.edit_message_text(me.tr.t("forget.cancelled"))
        return
    await blocking(context.services.drivers.forget, me.user_id)
    if context.user_data is not None:
        context.user_data.clear()
    await query.edit_message_text(me.tr.t("forget.done"))


async def _saved_places(update: Update, context: BotContext) -> tuple[Message, Driver, list[Place]] | None:
    """The command's message, the driver and their places; None (having said so) when there are none."""
    message = update.effective_message
    if not addressed_to_me(update, context) or message is None:
        return None
    me = await driver_of(update, context)
    saved = await blocking(context.services.drivers.places, me.user_id)
    if not saved:
        await reply(message, me.tr.t("places.empty"))
        return None
    return message, me, saved


def _last_point(data: dict[str, Any]) -> Point | None:
    last = data.get("last_query")
    return Point(last[0], last[1]) if last else None


def _last_route(data: dict[str, Any]) -> LineString | None:
    coords = data.get("last_route")
    return LineString(coords) if coords else None


def handlers() -> list[BotHandler]:
    return [
        CommandHandler("places", places),
        CommandHandler("subscribe", subscribe),
        CommandHandler("forget", forget),
        CallbackQueryHandler(on_save, pattern=r"^save:(point|route)$"),
        CallbackQueryHandler(on_place_button, pattern=r"^(sub|delplace):\d+$"),
        CallbackQueryHandler(on_forget, pattern=r"^forget:(yes|no)$"),
    ]
