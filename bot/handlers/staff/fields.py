"""The answers of ``/new`` after the place: reason, lanes, direction, start, end, detour and titles.

Each handler reads one answer, checks it as far as it can alone (a time that reads, an end after the start,
a start more than an hour ago confirmed on purpose), stores it in the draft and asks the next question.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Message, Update

from bot.context import BotContext
from bot.handlers.common import reply
from bot.handlers.staff.auth import Operator
from bot.handlers.staff.draft import Draft
from bot.handlers.staff.flow import (
    DETOUR,
    END,
    HEADING,
    LANES,
    START,
    START_PAST,
    TITLE_AR,
    TITLE_EN,
    State,
    ask,
    done,
    keep,
    problem,
    proposal,
    step,
)  # fmt: skip
from bot.handlers.staff.timeinput import TimeInputError, parse_end, parse_when
from bot.text import staff_questions
from closures.errors import Refusal, ValidationError
from closures.rules import MAX_LANES, MAX_TEXT, MAX_TITLE

# The start buttons, as the words they stand for (read by the same parser as typed text).
_START_BUTTONS = {"now": "now", "in1h": "in 1 hour", "tonight": "tonight 22:00", "tomorrow": "tomorrow 06:00"}


@step
async def on_reason(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """A reason button."""
    draft.set("reason", _choice(update))
    return await done(message, context, op, draft, "reason")


@step
async def on_severity(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """Full or partial; partial asks which lanes."""
    draft.set("severity", _choice(update))
    if draft.get("severity") == "partial":
        return await ask(message, context, op, draft, LANES)
    draft.set_text("lanes", None)
    return await done(message, context, op, draft, "severity")


@step
async def on_lanes(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """Which lanes are closed, in the operator's words."""
    text = await _text(message, op, MAX_LANES)
    if text is None:
        return LANES
    draft.set_text("lanes", text)
    return await done(message, context, op, draft, "severity")


@step
async def on_direction(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """Both directions, or one (then: which way)."""
    draft.set("direction", _choice(update))
    if draft.get("direction") == "one":
        return await ask(message, context, op, draft, HEADING)
    draft.set("heading", None)
    return await done(message, context, op, draft, "direction")


@step
async def on_heading(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """The compass direction of the closed traffic."""
    draft.set("heading", _choice(update))
    return await done(message, context, op, draft, "direction")


@step
async def on_start(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """ "Now", or a typed date-time in the municipality's zone; over an hour ago needs a confirmation."""
    services = context.services
    now = services.clock()
    typed = _START_BUTTONS.get(_choice(update), "now") if update.callback_query else message.text or ""
    try:
        start = parse_when(typed, tz=_zone(context, draft), now=now)
    except TimeInputError as exc:
        await reply(message, problem(exc, op.tr))
        return START
    if start < now - services.closures.max_past_start:
        return await _confirm_past(message, context, op, draft, start)
    draft.set("starts_at", start)
    draft.past_ok = False
    return await done(message, context, op, draft, "starts_at")


@step
async def on_start_past(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """Yes, it really started then — or no, ask again."""
    if _choice(update) != "yes" or draft.pending_start is None:
        draft.pending_start = None
        return await ask(message, context, op, draft, START)
    draft.values["starts_at"], draft.pending_start, draft.past_ok = draft.pending_start, None, True
    return await done(message, context, op, draft, "starts_at")


@step
async def on_end(update: Update, context: BotContext, op: Operator, message: Message, draft: Draft) -> State:
    """ "Open-ended", a duration after the start, or a date-time; it must come after the start and now."""
    now, start = context.services.clock(), draft.get("starts_at")
    try:
        end = (
            None
            if update.callback_query
            else parse_end(message.text or "", start=start, tz=_zone(context, draft), now=now)
        )
        if end is not None and end <= start:
            raise ValidationError(Refusal.END_BEFORE_START, field="ends_at")
        if end is not None and end <= now:
            raise ValidationError(Refusal.END_IN_PAST, field="ends_at")
    except (TimeInputError, ValidationError) as exc:
        await reply(message, problem(exc, op.tr))
        return END
    draft.set("ends_at", end)
    return await done(message, context, op, draft, "ends_at")


@step
async def on_detour(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """The way around, in the operator's words, or "no detour"."""
    text = None if update.callback_query else await _text(message, op, MAX_TEXT)
    if text is None and not update.callback_query:
        return DETOUR
    draft.set_text("detour", text)
    return await done(message, context, op, draft, "detour")


@step
async def on_title_ar(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """The Arabic title, typed or the proposed one; one that names no place is asked for again."""
    title = proposal(draft, "ar") if update.callback_query else await _text(message, op, MAX_TITLE)
    if title is None:
        return TITLE_AR
    if staff_questions.too_vague(title):
        await reply(message, op.tr.t("staff.title.too_vague"))
        return TITLE_AR
    draft.set("title_ar", title)
    return await ask(message, context, op, draft, TITLE_EN)


@step
async def on_title_en(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """The English title: typed, the proposed one, or none."""
    choice = _choice(update) if update.callback_query else None
    title = (
        {"use": proposal(draft, "en"), "skip": None}[choice]
        if choice
        else await _text(message, op, MAX_TITLE)
    )
    if title is None and choice is None:
        return TITLE_EN
    if title is not None and staff_questions.too_vague(title):
        await reply(message, op.tr.t("staff.title.too_vague"))
        return TITLE_EN
    draft.set("title_en", title)
    return await done(message, context, op, draft, "title")


async def _confirm_past(
    message: Message, context: BotContext, op: Operator, draft: Draft, start: datetime
) -> State:
    draft.pending_start = start.isoformat()
    keep(context, draft)
    when = op.tr.time(start, _zone(context, draft), context.services.clock())
    markup = staff_questions.start_in_the_past(op.tr)
    await reply(message, op.tr.t("staff.ask.start_past", time=when), reply_markup=markup)
    return START_PAST


async def _text(message: Message, op: Operator, limit: int) -> str | None:
    """The typed text, trimmed; None (after saying why) when it is empty or too long."""
    text = (message.text or "").strip()
    if not text or len(text) > limit:
        await reply(message, op.tr.t("staff.text.too_long" if text else "staff.text.empty", max=limit))
        return None
    return text


def _choice(update: Update) -> str:
    data = update.callback_query.data if update.callback_query else None
    return (data or ":").split(":", 1)[1]


def _zone(context: BotContext, draft: Draft) -> ZoneInfo:
    return context.services.zone(draft.municipality_id or 0)
