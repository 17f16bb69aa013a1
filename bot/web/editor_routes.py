"""The map editor's routes, a Telegram Mini App for staff (the design: ``bot.webapp``).

``GET /webapp/editor`` is the page. Its requests carry the ``initData`` Telegram signed for it:
``POST /webapp/session`` (may this operator draw, and where), ``POST /webapp/snap`` (one leg of tapped points
along the roads, with the snapping ``/new`` uses) and ``POST /webapp/drawing`` (the finished shape, fed to
the operator's conversation: a closure's place for ``/new``, or an emergency's area for ``/emergency``,
checked by that conversation's rules). Every refusal of the signature, its age, the user's rights or a
replay is a 403 with the operator's sentence and a log line naming the reason (never the data); a shape the
parser or the municipality refuses is a 422 that changes nothing, so the operator can fix the drawing on
the page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import sqlalchemy.exc
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Update

from bot.context import BotApplication
from bot.i18n import Translator, get_translator
from bot.services import Services
from bot.text.staff_questions import RADII_M
from bot.web.editor_page import EditorOptions, editor_page
from bot.web.map_page import pick_language
from bot.web.webhook import read_limited
from bot.webapp.drawing import BadDrawing, Drawing, read_request, update_for, update_id_for
from bot.webapp.initdata import LONGEST_AGE_S, SKEW_S, InitData, InitDataRefused, Refusal, verify_init_data
from closures import used_keys
from closures.emergency_rules import AREA_LIMITS
from closures.errors import NotFound, ValidationError
from closures.errors import Refusal as ClosureRefusal
from closures.staff import Membership
from geo.errors import GeometryError
from geo.parse import parse_geometry
from geo.routing import StraightLineRouter
from geo.snapping import leg_router, snap_line

log = logging.getLogger(__name__)
type Handle = Callable[[bytes, Translator], Awaitable[Response]]
MAX_BODY_BYTES = 1024 * 1024  # a drawing of the largest closure allowed (10,000 vertices) fits easily
MAX_SNAP_POINTS = 50
PURPOSE = "webapp-drawing"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
BAD_REQUEST = "web.editor.bad_request"
NOT_STAFF = "web.editor.refused.not_staff"
# Why an initData is refused → the sentence the page shows.
_TEXT_OF = {
    Refusal.MISSING: "web.editor.refused.no_telegram", Refusal.MALFORMED: "web.editor.refused.forged",
    Refusal.BAD_SIGNATURE: "web.editor.refused.forged", Refusal.NO_USER: "web.editor.refused.forged",
    Refusal.STALE: "web.editor.refused.stale", Refusal.FUTURE: "web.editor.refused.stale",
}  # fmt: skip


class Refused(Exception):
    """A request answered with ``status``, the error ``code`` and the catalogue's sentence ``key``; the log
    line names the code and the ``detail`` (never the request's data)."""

    def __init__(self, status: int, code: str, key: str, *, detail: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.key, self.detail = status, code, key, detail


def editor_routes(services: Services, application: BotApplication | None) -> list[BaseRoute]:
    """The editor's routes, when the bot runs here (``application``) and ``WEBAPP_URL`` is set; else none."""
    settings = services.settings
    token = settings.telegram_bot_token
    if application is None or token is None or not settings.webapp_url:
        return []
    bot_token = token.get_secret_value()

    def translator(request: Request) -> Translator:
        asked, accepted = request.query_params.get("lang"), request.headers.get("accept-language")
        return get_translator(pick_language(asked, accepted, settings.default_language))

    def verified(init_data: object) -> InitData:
        try:
            return verify_init_data(
                init_data if isinstance(init_data, str) else "",
                bot_token,
                now=services.clock(),
                max_age_s=settings.webapp_max_age_s,
            )
        except InitDataRefused as exc:
            raise Refused(403, exc.reason.value, _TEXT_OF[exc.reason]) from None

    async def staff_of(init: InitData) -> list[Membership]:
        memberships = await asyncio.to_thread(services.staff.memberships, init.user_id)
        if not memberships:
            raise Refused(403, "not_staff", NOT_STAFF, detail=f"user {init.user_id}")
        return memberships

    async def editing(init: InitData, closure_id: int | None, memberships: list[Membership]) -> int | None:
        """The municipality of the closure being edited, which must be one of the operator's."""
        if closure_id is None:
            return None
        try:
            closure = await asyncio.to_thread(services.closures.get, closure_id)
        except NotFound:
            raise Refused(422, "closure_gone", "staff.gone", detail=f"closure {closure_id}") from None
        if not any(m.municipality_id == closure.municipality_id for m in memberships):
            detail = f"user {init.user_id}, closure {closure_id}"
            raise Refused(403, "not_staff", NOT_STAFF, detail=detail)
        return closure.municipality_id

    def area_in(init: InitData, municipality_id: int, memberships: list[Membership]) -> int:
        """The municipality an emergency's area is drawn in, which must be one of the operator's."""
        if not any(m.municipality_id == municipality_id for m in memberships):
            detail = f"user {init.user_id}, municipality {municipality_id}"
            raise Refused(403, "not_staff", NOT_STAFF, detail=detail)
        return municipality_id

    async def page(request: Request) -> Response:
        """The editor, in the operator's language."""
        tr = translator(request)
        draft = request.query_params.get("d")
        closure, emergency = request.query_params.get("c", ""), request.query_params.get("e", "")
        options = EditorOptions(
            draft=draft if draft and _TOKEN.fullmatch(draft) else None,
            closure_id=_number(closure),
            emergency_in=_number(emergency),
            radii_m=RADII_M,
            default_radius_m=RADII_M[1],
            snap=services.router.name != StraightLineRouter.name,
            tile_url=settings.map_tile_url,
            tile_attribution=settings.map_tile_attribution,
        )
        headers = {"Content-Language": tr.lang, "Cache-Control": "no-cache"}
        return HTMLResponse(editor_page(tr, options), headers=headers)

    async def session(raw: bytes, tr: Translator) -> Response:
        """Whether the operator may draw, and in which municipalities (the page frames them)."""
        body = _json_object(raw)
        init = verified(body.get("initData"))
        memberships = await staff_of(init)
        closure, emergency = body.get("closure"), body.get("emergency")
        if type(emergency) is int:
            only: int | None = area_in(init, emergency, memberships)
        else:
            only = await editing(init, closure if type(closure) is int else None, memberships)
        slugs = [m.slug for m in memberships if only is None or m.municipality_id == only]
        return JSONResponse({"municipalities": slugs})

    async def snap(raw: bytes, tr: Translator) -> Response:
        """The road between tapped points, as ``/new`` snaps them (straight where the road is implausible)."""
        body = _json_object(raw)
        await staff_of(verified(body.get("initData")))
        points = _points(body.get("points"))
        snapped = await asyncio.to_thread(snap_line, points, leg_router(services.router))
        coordinates = [[round(x, 7), round(y, 7)] for x, y in snapped.line.coords]
        answer = {"coordinates": coordinates, "on_roads": snapped.on_roads, "refused": snapped.refused}
        return JSONResponse(answer)

    async def drawing(raw: bytes, tr: Translator) -> Response:
        """Check the drawing as every other place (or area) input is checked, then continue the operator's
        conversation."""
        try:
            init_data, drawn = read_request(raw, radii=RADII_M)
        except BadDrawing as exc:
            raise Refused(400, "bad_request", BAD_REQUEST, detail=str(exc)) from None
        init = verified(init_data)
        memberships = await staff_of(init)
        if drawn.emergency_in is not None:
            await _area_checked(services, init.user_id, drawn, area_in(init, drawn.emergency_in, memberships))
        else:
            await _placed(services, init.user_id, drawn, await editing(init, drawn.closure_id, memberships))
        now = services.clock()
        expires = init.auth_date + timedelta(seconds=LONGEST_AGE_S + SKEW_S)
        claimed = await asyncio.to_thread(
            used_keys.claim, services.engine, init.signature_hash, purpose=PURPOSE, user_id=init.user_id,
            now=now, expires_at=expires,
        )  # fmt: skip
        if not claimed:
            raise Refused(403, "replayed", "web.editor.refused.replayed", detail=f"user {init.user_id}")
        data = update_for(
            init.user,
            drawn,
            update_id=update_id_for(init.signature_hash),
            now=now,
            button_text=tr.t("staff.button.draw"),
        )
        await application.update_queue.put(Update.de_json(data, application.bot))
        log.info("webapp: a drawing from user %s goes to their conversation", init.user_id)
        return JSONResponse({"ok": True, "message": tr.t("web.editor.sent")})

    def endpoint(name: str, handle: Handle) -> Route:
        async def answer(request: Request) -> Response:
            tr = translator(request)
            raw = await read_limited(request, MAX_BODY_BYTES)
            try:
                return await handle(raw, tr)
            except Refused as refused:
                detail = f" ({refused.detail})" if refused.detail else ""
                log.warning("webapp %s: refused with %s: %s%s", name, refused.status, refused.code, detail)
                return _refusal(refused, tr)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("webapp %s: the database cannot be reached: %s", name, type(exc).__name__)
                body = {"error": "unavailable", "message": tr.t("web.editor.unavailable")}
                return JSONResponse(body, status_code=503, headers={"Retry-After": "10"})

        return Route(f"/webapp/{name}", answer, methods=["POST"], name=f"webapp_{name}")

    return [
        Route("/webapp/editor", page, methods=["GET", "HEAD"], name="webapp_editor"),
        endpoint("session", session),
        endpoint("snap", snap),
        endpoint("drawing", drawing),
    ]


async def _placed(services: Services, user_id: int, drawn: Drawing, only: int | None) -> BaseGeometry:
    """The drawing as a closure's place: the parser and the placement every input goes through."""
    limits = services.closures.limits

    def check() -> BaseGeometry:
        geometry = parse_geometry(drawn.geometry, limits=limits)
        placed, _ = services.staff.place(
            user_id, geometry, limits=limits, tolerance_m=services.closures.boundary_tolerance_m, only=only
        )
        return placed

    try:
        return await asyncio.to_thread(check)
    except (GeometryError, ValidationError) as exc:
        raise _refused_shape(exc, user_id, "staff") from None


async def _area_checked(services: Services, user_id: int, drawn: Drawing, municipality_id: int) -> None:
    """The drawing as an emergency's area in ``municipality_id``: the parser and the check of
    ``/emergency`` (an area reaching past the municipality passes: the conversation cuts it and says so)."""

    def check() -> None:
        area = parse_geometry(drawn.geometry, limits=AREA_LIMITS)
        services.emergencies.check_area(municipality_id, area)

    try:
        await asyncio.to_thread(check)
    except (GeometryError, ValidationError) as exc:
        raise _refused_shape(exc, user_id, "emergency") from None


def _refused_shape(exc: GeometryError | ValidationError, user_id: int, conversation: str) -> Refused:
    """A shape the parser or the service refused: 422 with the conversation's sentence (403 for rights)."""
    if isinstance(exc, GeometryError):
        return Refused(422, exc.reason.value, f"geo.{exc.reason.value}", detail=f"user {user_id}")
    if exc.code is ClosureRefusal.NOT_AUTHORISED:
        return Refused(403, "not_staff", NOT_STAFF, detail=f"user {user_id}, where it was drawn")
    return Refused(422, exc.code.value, f"{conversation}.refused.{exc.code.value}", detail=f"user {user_id}")


def _number(text: str) -> int | None:
    """A positive id from the page's address, or None."""
    return int(text) if text.isdigit() and len(text) < 12 and int(text) > 0 else None


def _refusal(refused: Refused, tr: Translator) -> Response:
    return JSONResponse({"error": refused.code, "message": tr.t(refused.key)}, status_code=refused.status)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise Refused(400, "bad_request", BAD_REQUEST, detail="not a JSON object")
    return value


def _points(value: object) -> list[Point]:
    """2 to MAX_SNAP_POINTS ``[lon, lat]`` pairs on Earth, else a 400."""
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_SNAP_POINTS:
        raise Refused(400, "bad_request", BAD_REQUEST, detail="points")
    points = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and all(type(v) in (int, float) for v in item)):
            raise Refused(400, "bad_request", BAD_REQUEST, detail="points")
        lon, lat = float(item[0]), float(item[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise Refused(400, "bad_request", BAD_REQUEST, detail="points")
        points.append(Point(lon, lat))
    return points
