"""/start, /help, /language and /radius: greeting the driver and their settings."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotContext, BotHandler
from bot.handlers import menus
from bot.handlers.common import addressed_to_me, blocking, driver_of, reply
from bot.i18n import LANGUAGES, get_translator
from bot.text import keyboards
from bot.text.emergency import kept_for
from closures.drivers import RADIUS_RANGE_M
from geo.parse import normalise_digits


async def start(update: Update, context: BotContext) -> None:
    """Greet the driver, say what the bot does, and offer the share-location button."""
    if not addressed_to_me(update, context) or update.effective_message is None:
        return
    me = await driver_of(update, context)
    keyboard = None
    if update.effective_message.chat.type == ChatType.PRIVATE:  # Telegram refuses the button elsewhere
        keyboard = keyboards.share_location(me.tr)
        await menus.greet_menu(context.bot, context.services.staff, me.user_id)
    kept = me.tr.t("start.locations_kept", duration=kept_for(me.tr, context.services.recent_window))
    text = f"{me.tr.t('start.welcome')}\n\n{me.tr.t('help.text')}\n\n{kept}"
    await reply(update.effective_message, text, reply_markup=keyboard)


async def language(update: Update, context: BotContext) -> None:
    """Offer the two languages as buttons."""
    if not addressed_to_me(update, context) or update.effective_message is None:
        return
    me = await driver_of(update, context)
    await reply(update.effective_message, me.tr.t("language.choose"), reply_markup=keyboards.languages())


async def language_chosen(update: Update, context: BotContext) -> None:
    """Store the chosen language and confirm in it."""
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    lang = query.data.removeprefix("lang:")
    if lang not in LANGUAGES:
        await query.answer()
        return
    await blocking(context.services.drivers.set_language, query.from_user.id, lang)
    await query.answer()
    await query.edit_message_text(get_translator(lang).t("language.switched"))


async def radius(update: Update, context: BotContext) -> None:
    """``/radius 2`` (km) or ``/radius 2000`` (m): change the search radius, within bounds."""
    message = update.effective_message
    if not addressed_to_me(update, context) or message is None:
        return
    me = await driver_of(update, context)
    args = context.args or []
    if not args:
        await reply(message, me.tr.t("radius.usage", radius=me.tr.distance(me.radius_m)))
        return
    metres = _metres(args[0])
    low, high = RADIUS_RANGE_M
    if metres is None or not low <= metres <= high:
        bounds = {"min": me.tr.distance(low), "max": me.tr.distance(high)}
        await reply(message, me.tr.t("radius.out_of_bounds", **bounds))
        return
    await blocking(context.services.drivers.set_radius, me.user_id, metres)
    await reply(message, me.tr.t("radius.set", radius=me.tr.distance(metres)))


def _metres(text: str) -> int | None:
    """'2km' and a bare '2' are kilometres (nobody searches within 2 m); '2000' and '2000m' are metres."""
    clean = normalise_digits(text).strip().lower().replace(",", ".")
    unit: float | None = None
    for suffix, factor in (("km", 1000.0), ("كم", 1000.0), ("m", 1.0), ("م", 1.0)):
        if clean.endswith(suffix):
            clean, unit = clean.removesuffix(suffix).strip(), factor
            break
    try:
        value = float(clean)
    except ValueError:
        return None
    if not 0 < value < 1e9:  # also refuses NaN
        return None
    if unit is None:
        unit = 1000.0 if value < 100 else 1.0
    return round(value * unit)


def handlers() -> list[BotHandler]:
    return [
        CommandHandler(["start", "help"], start),
        CommandHandler("language", language),
        CallbackQueryHandler(language_chosen, pattern=r"^lang:"),
        CommandHandler("radius", radius),
    ]
