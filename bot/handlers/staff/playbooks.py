"""Playbooks for staff: ``/playbooks`` lists their municipality's, ``/playbook NAME`` shows one, and a
GeoJSON file sent with the caption ``/playbook`` adds or replaces one (the format: ``closures.formats.
playbook``). They are activated within ``/emergency``; the command line creates, exports and removes them.
"""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.context import BotContext, BotHandler
from bot.handlers.common import blocking, reply
from bot.handlers.staff.auth import operator_of
from bot.handlers.staff.emergency_flow import problem
from bot.i18n import Translator
from bot.text.emergency import duration, hazard_name
from closures.errors import NotFound, ValidationError
from closures.formats.playbook import read_playbook
from closures.playbooks import PlaybookClosureInvalid, PlaybookView
from geo.errors import GeometryError

MAX_FILE_BYTES = 5 * 1024 * 1024


async def list_playbooks(update: Update, context: BotContext) -> None:
    """``/playbooks``: each of the operator's municipalities' playbooks, one line each."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None:
        return
    parts = []
    for membership in op.memberships:
        books = await blocking(context.services.emergencies.playbooks.list, membership.municipality_id)
        lines = [op.tr.t("playbook.list.header", municipality=op.name_of(membership))]
        lines += [_line(book, op.tr) for book in books] or [op.tr.t("playbook.none")]
        parts.append("\n".join(lines))
    parts.append(op.tr.t("playbook.hint"))
    await reply(message, "\n\n".join(parts))


async def show_playbook(update: Update, context: BotContext) -> None:
    """``/playbook NAME``: its closures and detours, in order."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None:
        return
    name = " ".join(context.args or []).strip()
    if not name:
        await reply(message, op.tr.t("playbook.hint"))
        return
    for membership in op.memberships:
        try:
            book = await blocking(
                context.services.emergencies.playbooks.get, membership.municipality_id, name
            )
        except NotFound:
            continue
        await reply(message, _details(book, op.tr))
        return
    await reply(message, op.tr.t("playbook.not_found", name=html.escape(name[:64], quote=False)))


async def upload(update: Update, context: BotContext) -> None:
    """A GeoJSON file with the caption ``/playbook``: add (or replace) the playbook it holds."""
    op = await operator_of(update, context)
    message = update.effective_message
    if op is None or message is None or message.document is None:
        return
    document, tr = message.document, op.tr
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await reply(message, tr.t("playbook.too_big"))
        return
    content = bytes(await (await document.get_file()).download_as_bytearray())
    municipality = op.memberships[0].municipality_id  # staff of several: their first (the CLI names one)
    try:
        draft = await blocking(read_playbook, content.decode("utf-8", errors="replace"))
        book = await blocking(
            context.services.emergencies.playbooks.save, municipality, draft, op.actor, replace=True
        )
    except PlaybookClosureInvalid as exc:
        await reply(
            message, tr.t("playbook.refused.closure", position=exc.position, problem=problem(exc.cause, tr))
        )
        return
    except (ValidationError, GeometryError) as exc:
        await reply(message, problem(exc, tr))
        return
    await reply(
        message,
        tr.t("playbook.saved", slug=book.slug, closures=tr.n("playbook.closures", len(book.closures))),
    )


def _line(book: PlaybookView, tr: Translator) -> str:
    name = html.escape(book.name_ar if tr.lang == "ar" else book.name_en, quote=False)
    return tr.t(
        "playbook.list.item",
        slug=book.slug,
        name=name,
        closures=tr.n("playbook.closures", len(book.closures)),
    )


def _details(book: PlaybookView, tr: Translator) -> str:
    name = html.escape(book.name_ar if tr.lang == "ar" else book.name_en, quote=False)
    lines = [f"<b>{tr.t('playbook.show.header', slug=book.slug, name=name)}</b>"]
    if book.hazard:
        lines.append(tr.t("playbook.show.hazard", hazard=hazard_name(tr, book.hazard)))
    desc = book.area_desc_ar if tr.lang == "ar" else book.area_desc_en
    lines.append(
        tr.t("playbook.show.area", area=html.escape(desc or name, quote=False))
        if book.area
        else tr.t("playbook.show.no_area")
    )
    for n, closure in enumerate(book.closures, 1):
        title = closure.title_ar if tr.lang == "ar" else (closure.title_en or closure.title_ar)
        line = tr.t("playbook.show.item", n=n, title=html.escape(title, quote=False))
        if closure.duration_min:
            line += f" · {tr.t('playbook.show.own_duration', duration=duration(tr, closure.duration_min))}"
        detour = closure.detour_ar if tr.lang == "ar" else (closure.detour_en or closure.detour_ar)
        if detour:
            line += f"\n   🔀 {tr.t('closure.detour', detour=html.escape(detour, quote=False))}"
        lines.append(line)
    return "\n".join(lines)


def handlers() -> list[BotHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("playbooks", list_playbooks, filters=private),
        CommandHandler("playbook", show_playbook, filters=private),
        MessageHandler(private & filters.Document.ALL & filters.CaptionRegex(r"^/playbook\b"), upload),
    ]
