"""The answers of ``/emergency``: the area (corners, pasted or uploaded shapes, a playbook's area, the whole
municipality — checked against the boundary at once, the share cut off said), the hazard and level, the
texts, the expiry and the playbooks to activate. Each answer asks the next question (``emergency_flow``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from telegram import Message, Update

from bot.context import BotContext
from bot.handlers.common import blocking, reply
from bot.handlers.staff.auth import Operator
from bot.handlers.staff.emergency_draft import Declaration
from bot.handlers.staff.emergency_flow import (
    AREA,
    EXPIRY,
    HAZARD,
    LEVEL,
    MUNI,
    PLAYBOOKS,
    TEXT_OF,
    State,
    ask,
    data,
    following,
    problem,
    proposed,
    step,
)
from bot.handlers.staff.timeinput import TimeInputError, parse_end
from bot.text import emergency_staff as ask_text
from closures.emergency_models import AlertLevel, AreaSource, Hazard
from closures.emergency_rules import AREA_LIMITS
from closures.errors import Refusal, ValidationError
from geo.errors import GeometryError
from geo.files import MAX_FILE_BYTES, FileError, FileProblem, geometry_from_file
from geo.parse import parse_geometry

# --- answers --------------------------------------------------------------------------------------------


@step
async def on_municipality(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    chosen = int(data(update).removeprefix("em:") or 0)
    membership = op.membership(chosen)
    if membership is None:
        return MUNI
    draft.municipality_id = chosen
    draft.texts["area_ar"], draft.texts["area_en"] = membership.name_ar, membership.name_en
    return await ask(message, context, op, draft, AREA)


@step
async def on_corner(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """A shared location: one more corner of the area."""
    assert message.location is not None
    draft.points.append([message.location.longitude, message.location.latitude])
    draft.keep(context)
    markup = ask_text.area(op.tr, draft.offered_names, points=len(draft.points))
    await reply(message, op.tr.n("emergency.area_points", len(draft.points)), reply_markup=markup)
    return AREA


@step
async def on_area_text(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """Pasted GeoJSON or WKT."""
    try:
        area = await blocking(parse_geometry, message.text or "", limits=AREA_LIMITS)
    except GeometryError as exc:
        await reply(message, problem(exc, op.tr))
        return AREA
    return await _take_area(message, context, op, draft, area)


@step
async def on_area_file(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """An uploaded GeoJSON (or KML) file of the area, at most 1 MB."""
    document = message.document
    assert document is not None
    try:
        if (document.file_size or 0) > MAX_FILE_BYTES:
            raise FileError(FileProblem.TOO_BIG, f"{document.file_size} bytes")
        content = bytes(await (await document.get_file()).download_as_bytearray())
        area = await blocking(geometry_from_file, document.file_name, content, limits=AREA_LIMITS)
    except (GeometryError, FileError) as exc:
        await reply(message, problem(exc, op.tr))
        return AREA
    return await _take_area(message, context, op, draft, area)


@step
async def on_area_button(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """Done (the corners' outline), a playbook's area, or the whole municipality."""
    choice = data(update).removeprefix("ea:")
    if choice == "whole":
        draft.area, draft.area_from, draft.points = None, AreaSource.MUNICIPALITY.value, []
        return await _area_taken(message, context, op, draft)
    if choice.startswith("p:"):
        index = int(choice.removeprefix("p:"))
        if index >= len(draft.offered):
            return AREA
        slug = draft.offered[index]
        if draft.mode == "update":  # its area, as drawn: the playbook itself may be active already
            book = await blocking(
                context.services.emergencies.playbooks.get, draft.municipality_id or 0, slug
            )
            assert book.area is not None  # only playbooks with an area are offered here
            return await _take_area(message, context, op, draft, book.area)
        draft.area, draft.area_from, draft.points = None, AreaSource.PLAYBOOK.value, []
        draft.playbooks = sorted({*draft.playbooks, slug})  # preselected for activation (untick it later)
        name = draft.offered_names[index]
        draft.texts["area_ar"] = draft.texts["area_en"] = name
        return await _area_taken(message, context, op, draft)
    if len(draft.points) < 3:
        await reply(message, op.tr.t("emergency.refused.not_an_area"))
        return AREA
    return await _take_area(message, context, op, draft, Polygon(draft.points))


async def _take_area(
    message: Message, context: BotContext, op: Operator, draft: Declaration, area: BaseGeometry
) -> State:
    """Check a drawn area at once (cut to the boundary, the share cut said), then go on."""
    try:
        clipped = await blocking(context.services.emergencies.check_area, draft.municipality_id or 0, area)
    except (GeometryError, ValidationError) as exc:
        draft.points = []
        draft.keep(context)
        await reply(message, problem(exc, op.tr))
        return AREA
    draft.area, draft.area_from, draft.points = (
        shapely.to_geojson(clipped.geometry),
        AreaSource.DRAWN.value,
        [],
    )
    if clipped.clipped_share >= 0.005:
        membership = op.membership(draft.municipality_id or 0)
        name = op.name_of(membership) if membership else ""
        share = ask_text.percent(op.tr, clipped.clipped_share)
        await reply(message, op.tr.t("emergency.area.clipped", percent=share, municipality=name))
    return await _area_taken(message, context, op, draft)


async def _area_taken(message: Message, context: BotContext, op: Operator, draft: Declaration) -> State:
    if draft.mode == "update" and "area" not in draft.changed:
        draft.changed.append("area")
    return await following(message, context, op, draft, AREA)


@step
async def on_hazard(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    hazard = data(update).removeprefix("eh:")
    if hazard not in {h.value for h in Hazard}:
        return HAZARD
    draft.hazard = hazard
    return await following(message, context, op, draft, HAZARD)


@step
async def on_level(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    level = data(update).removeprefix("el:")
    if level not in {lv.value for lv in AlertLevel}:
        return LEVEL
    draft.level = level
    if draft.mode == "update" and "level" not in draft.changed:
        draft.changed.append("level")
    return await following(message, context, op, draft, LEVEL)


def on_text_for(state: str) -> Callable[[Update, BotContext], Coroutine[Any, Any, State]]:
    """The answer to a headline or instruction question: typed, or the proposal's button."""
    name = TEXT_OF[state]

    @step
    async def on_text(
        update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
    ) -> State:
        text = proposed(draft, name) if update.callback_query is not None else (message.text or "")
        draft.texts[name] = " ".join(text.split())
        if draft.mode == "update":
            group = name.rsplit("_", 1)[0]
            if group not in draft.changed:
                draft.changed.append(group)
        return await following(message, context, op, draft, state)

    on_text.__name__ = on_text.__qualname__ = f"on_{name}"
    return on_text


@step
async def on_expiry(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """A duration button, or a typed duration or time (in the municipality's zone)."""
    services = context.services
    now = services.clock()
    expires: datetime | None
    if update.callback_query is not None:
        expires = now + timedelta(hours=int(data(update).removeprefix("ex:") or 0))
    else:
        zone = services.zone(draft.municipality_id or 0)
        try:
            expires = parse_end(message.text or "", start=now, tz=zone, now=now)
        except TimeInputError as exc:
            await reply(message, problem(exc, op.tr))
            return EXPIRY
    if expires is None:
        await reply(message, op.tr.t("emergency.not_expiry"))
        return EXPIRY
    if expires <= now:
        await reply(message, problem(ValidationError(Refusal.EXPIRY_IN_PAST), op.tr))
        return EXPIRY
    draft.expires_at = expires.isoformat()
    if draft.mode == "update" and "expiry" not in draft.changed:
        draft.changed.append("expiry")
    return await following(message, context, op, draft, EXPIRY)


@step
async def on_playbook(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Declaration
) -> State:
    """A playbook's button toggles it; Continue goes on."""
    choice = data(update).removeprefix("ep:")
    if choice == "go":
        if draft.mode == "update" and draft.playbooks and "playbooks" not in draft.changed:
            draft.changed.append("playbooks")
        return await following(message, context, op, draft, PLAYBOOKS)
    index = int(choice) if choice.isdigit() else len(draft.offered)
    if index < len(draft.offered):
        slug = draft.offered[index]
        draft.playbooks = sorted(set(draft.playbooks) ^ {slug})
    draft.keep(context)
    chosen = [slug in draft.playbooks for slug in draft.offered]
    if update.callback_query is not None:
        await update.callback_query.edit_message_reply_markup(
            ask_text.playbooks(op.tr, draft.offered_names, chosen)
        )
    return PLAYBOOKS
