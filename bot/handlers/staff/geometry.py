"""The first answer of ``/new``: where the closure is.

One shared location is a point (the operator picks its radius); more make a line through them (along the
roads when a road router is configured, else straight segments) or, with "Done as area", an area. Pasted
GeoJSON or WKT, typed coordinates, a map link, or an uploaded GeoJSON / KML / GPX file work too. Each shape
is checked at once: valid, not too large, inside one of the operator's municipalities. With a geocoder, a
typed place name is looked up inside those municipalities and becomes a point, and the street at the chosen
shape is looked up (in Arabic and English) for the title the conversation proposes.
"""

from __future__ import annotations

import html
import logging

from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from telegram import Message, Update

from bot.context import BotContext
from bot.handlers import geocode
from bot.handlers.common import blocking, reply
from bot.handlers.staff.auth import Operator
from bot.handlers.staff.draft import Draft
from bot.handlers.staff.flow import GEOMETRY, RADII_M, State, done, draw_button, keep, problem, step
from bot.text import keyboards, staff_questions
from closures.errors import ValidationError
from closures.staff import Membership
from geo.errors import GeocodingError, GeometryError, Reason
from geo.files import MAX_FILE_BYTES, FileError, FileProblem, geometry_from_file
from geo.parse import looks_like_geometry, parse_geometry
from geo.routing import Router
from geo.shortlinks import ShortLinkError, is_short_link
from geo.snapping import Snapped, leg_router, snap_line

_REFUSED = (GeometryError, ValidationError, FileError)
log = logging.getLogger(__name__)


@step
async def on_location(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """A shared location: one more point of the closure."""
    assert message.location is not None
    return await add_point(
        message, context, op, draft, Point(message.location.longitude, message.location.latitude)
    )


@step
async def on_text(update: Update, context: BotContext, op: Operator, message: Message, draft: Draft) -> State:
    """GeoJSON, WKT, coordinates or a map link; else a place name, when a geocoder is configured."""
    services = context.services
    text = message.text or ""
    if is_short_link(text):
        try:
            point = await services.short_links.resolve(text)
        except (ShortLinkError, GeometryError) as exc:
            log.warning("short map link not resolved: %s", exc)
            await reply(message, op.tr.t("link.unresolved"))
            return GEOMETRY
        return await add_point(message, context, op, draft, point)
    try:
        geometry = await blocking(parse_geometry, text, limits=services.closures.limits)
    except GeometryError as exc:
        # Text meant as a location (a broken pair, a link) is judged, never sent to the geocoder.
        unrecognised = exc.reason is Reason.UNRECOGNISED and not looks_like_geometry(text)
        if unrecognised and services.geocoder is not None:
            return await _place_name(message, context, op, draft, text)
        extra = f"\n\n{op.tr.t('staff.ask.no_geocoder')}" if unrecognised else ""
        await reply(message, problem(exc, op.tr) + extra)
        return GEOMETRY
    return await _shape(message, context, op, draft, geometry)


async def _place_name(message: Message, context: BotContext, op: Operator, draft: Draft, text: str) -> State:
    """Look the name up inside the operator's municipalities: one place is a point, several are buttons."""
    services = context.services
    editing = draft.municipality_id if draft.closure_id is not None else None
    within = [editing] if editing is not None else op.municipality_ids()
    try:
        bias = await geocode.bias_within(services, within)
        found = await geocode.find(services, text, bias=bias, language=op.tr.lang)
    except GeocodingError as exc:
        await reply(message, geocode.problem_text(exc, op.tr))
        return GEOMETRY
    if not found:
        await reply(message, op.tr.t("geocode.not_found", query=html.escape(text.strip())))
        return GEOMETRY
    if len(found) == 1:
        return await _found(message, context, op, draft, geocode.label(found[0]), found[0].point)
    draft.places = [[p.point.x, p.point.y, geocode.label(p)] for p in found]
    keep(context, draft)
    markup = keyboards.choices((label for _, _, label in draft.places), "sg:p:")
    await reply(message, op.tr.t("geocode.choose"), reply_markup=markup)
    return GEOMETRY


@step
async def on_place_pick(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """A candidate's button under "Which place did you mean?": that place is the next point."""
    index = int(_data(update).rsplit(":", 1)[1])
    if index >= len(draft.places):
        return GEOMETRY  # an old list, already used
    lon, lat, name = draft.places[index]
    draft.places = []
    return await _found(message, context, op, draft, name, Point(lon, lat))


async def _found(
    message: Message, context: BotContext, op: Operator, draft: Draft, name: str, point: Point
) -> State:
    await reply(message, op.tr.t("geocode.found", name=html.escape(name)))
    return await add_point(message, context, op, draft, point)


@step
async def on_document(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """An uploaded GeoJSON, KML or GPX file of at most 1 MB, fetched from the Bot API's file server."""
    document = message.document
    assert document is not None
    try:
        if (document.file_size or 0) > MAX_FILE_BYTES:
            raise FileError(FileProblem.TOO_BIG, f"{document.file_size} bytes")
        data = bytes(await (await document.get_file()).download_as_bytearray())
        limits = context.services.closures.limits
        geometry = await blocking(geometry_from_file, document.file_name, data, limits=limits)
    except _REFUSED as exc:
        await reply(message, problem(exc, op.tr))
        return GEOMETRY
    return await _shape(message, context, op, draft, geometry)


@step
async def on_radius(
    update: Update, context: BotContext, op: Operator, message: Message, draft: Draft
) -> State:
    """A radius button under the first point: the closure is that point."""
    if len(draft.points) != 1:
        await reply(message, op.tr.t("staff.points.use_done"))
        return GEOMETRY
    radius = float(_data(update).rsplit(":", 1)[1])
    return await finish(message, context, op, draft, Point(draft.points[0]), radius)


@step
async def on_done(update: Update, context: BotContext, op: Operator, message: Message, draft: Draft) -> State:
    """ "Done" (a line through the points) or "Done as area" (the area they outline)."""
    area = update.callback_query is not None and update.callback_query.data == "sg:area"
    if len(draft.points) < (3 if area else 2):
        await reply(message, op.tr.t("staff.points.too_few"))
        return GEOMETRY
    points = [Point(p) for p in draft.points]
    if area:
        return await finish(message, context, op, draft, Polygon([(p.x, p.y) for p in points]), None)
    snapped = await blocking(line_through, points, context.services.router)
    if snapped.refused:
        await reply(message, op.tr.t("staff.points.kept_straight"))
    return await finish(message, context, op, draft, snapped.line, None)


async def add_point(message: Message, context: BotContext, op: Operator, draft: Draft, point: Point) -> State:
    """Check the point lies in the operator's municipality, keep it, and offer what can follow."""
    try:
        await blocking(_place, context, op, draft, point)
    except _REFUSED as exc:
        await reply(message, problem(exc, op.tr))
        return GEOMETRY
    draft.points.append([point.x, point.y])
    keep(context, draft)
    count = len(draft.points)
    if count == 1:
        await reply(message, op.tr.t("staff.ask.radius"), reply_markup=staff_questions.radii(op.tr, RADII_M))
        return GEOMETRY
    markup = staff_questions.points_done(op.tr, count)
    await reply(message, op.tr.n("staff.ask.more_points", count), reply_markup=markup)
    return GEOMETRY


async def finish(
    message: Message,
    context: BotContext,
    op: Operator,
    draft: Draft,
    geometry: BaseGeometry,
    radius: float | None,
) -> State:
    """The shape is chosen: place it in a municipality, store it in the draft and ask the next question."""
    if await settle(message, context, op, draft, geometry, radius) is None:
        return GEOMETRY
    return await done(message, context, op, draft, "geometry")


async def settle(
    message: Message,
    context: BotContext,
    op: Operator,
    draft: Draft,
    geometry: BaseGeometry,
    radius: float | None,
) -> BaseGeometry | None:
    """Place the shape in one of the operator's municipalities and store it in the draft: the shape as
    stored, or None when it is refused (the operator is told why and asked again)."""
    try:
        geometry, membership = await blocking(_place, context, op, draft, geometry)
    except _REFUSED as exc:
        draft.points = []
        keep(context, draft)
        again = f"{problem(exc, op.tr)}\n\n{op.tr.t('staff.ask.geometry_again')}"
        await reply(message, again, reply_markup=draw_button(context, op, draft))
        return None
    draft.set("geometry", geometry)
    draft.set("radius_m", radius)
    draft.municipality_id, draft.points, draft.map_token = membership.municipality_id, [], None
    draft.streets = await geocode.street_names(context.services, geometry)  # for the proposed titles
    return geometry


def line_through(points: list[Point], router: Router) -> Snapped:
    """The line through the points: along the roads when the router follows them sensibly, else straight."""
    return snap_line(points, leg_router(router))


async def _shape(
    message: Message, context: BotContext, op: Operator, draft: Draft, geometry: BaseGeometry
) -> State:
    if isinstance(geometry, Point):
        return await add_point(message, context, op, draft, geometry)
    return await finish(message, context, op, draft, geometry, None)


def _place(
    context: BotContext, op: Operator, draft: Draft, geometry: BaseGeometry
) -> tuple[BaseGeometry, Membership]:
    services = context.services
    only = draft.municipality_id if draft.closure_id is not None else None
    return services.staff.place(
        op.user_id,
        geometry,
        limits=services.closures.limits,
        tolerance_m=services.closures.boundary_tolerance_m,
        only=only,
    )


def _data(update: Update) -> str:
    """The pressed button's data (its pattern matched, so it has the expected form)."""
    return (update.callback_query.data if update.callback_query else None) or ""
