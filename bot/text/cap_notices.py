"""What a municipality's staff read about a partner's CAP alert, and the buttons under it — pure.

A draft (``drafted``, ``replaced``): who sent it and for which municipality, then the draft as the
emergency would read (level, hazard, headline, what to do, until when), its area (and how much of the
alert's area lay outside the municipality), the partner's own description, and the playbooks its area
touches; buttons Declare (with the playbooks, when some touch it), Declare, Dismiss. A withdrawn draft or
the partner's update of a confirmed emergency: one sentence, no button. The partner's Cancel of a
confirmed emergency: one sentence and End.

In the staff member's language when they chose one (``/language``); else in both, Arabic first, with
two-language buttons: a municipality's staff read one or the other, and the bot cannot tell which from a
row in the outbox.

Button data: ``cap:c:<draft id>`` declare with the playbooks, ``cap:n:<draft id>`` declare without,
``cap:d:<draft id>`` dismiss, ``cap:e:<emergency id>:<version>`` end (at the version the staff saw).
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator, get_translator
from bot.text.emergency import hazard_name, in_language, level_name
from bot.text.emergency_staff import percent
from closures.cap_notices import CapNotice
from closures.cap_records import Notice

DESCRIPTION_LIMIT = 600  # the partner's description is context, not the message: a few lines at most


def notice_text(notice: CapNotice, tr: Translator, now: datetime) -> str:
    """The direct message, Telegram HTML, in ``tr``'s language."""
    v, lang = notice.emergency, tr.lang
    sender = html.escape(notice.sender)
    municipality = html.escape(getattr(notice.municipality, f"name_{lang}"))
    headline = html.escape(in_language(v, "headline", lang))
    if notice.what == Notice.WITHDRAWN:
        return tr.t("cap.notice.withdrawn", sender=sender, headline=headline, municipality=municipality)
    if notice.what == Notice.SOURCE_CANCELLED:
        return tr.t("cap.notice.source_cancelled", sender=sender, headline=headline)
    if notice.what == Notice.SOURCE_UPDATED:
        said = notice.source_headline[0 if lang == "ar" else 1] if notice.source_headline else headline
        return tr.t("cap.notice.source_updated", sender=sender, headline=headline, said=html.escape(said))
    key = "cap.notice.replaced" if notice.what == Notice.REPLACED else "cap.notice.drafted"
    zone = ZoneInfo(notice.municipality.timezone)
    area = html.escape(in_language(v, "area_desc", lang))
    lines = [f"<b>{tr.t(key, sender=sender, municipality=municipality)}</b>", ""]
    if v.exercise:
        lines.append(tr.t("cap.notice.exercise"))
    lines += [
        f"{level_name(tr, v.level)} · {hazard_name(tr, v.hazard)}",
        f"<b>{headline}</b>",
        f"👉 {html.escape(in_language(v, 'instruction', lang))}",
        tr.t("cap.notice.area_cut", area=area, share=percent(tr, v.clipped_share), municipality=municipality)
        if v.clipped_share >= 0.005
        else tr.t("cap.notice.area", area=area),
        f"⏳ {tr.t('emergency.post.until', time=tr.time(v.expires_at, zone, now))}",
    ]
    description = notice.description_ar if lang == "ar" else notice.description_en
    if description:
        text = (
            description
            if len(description) <= DESCRIPTION_LIMIT
            else description[: DESCRIPTION_LIMIT - 1] + "…"
        )
        lines.append(tr.t("cap.notice.description", text=html.escape(text)))
    if notice.playbooks:
        names = "، ".join if lang == "ar" else ", ".join
        books = names(html.escape(getattr(b, f"name_{lang}")) for b in notice.playbooks)
        lines.append(tr.t("cap.notice.playbooks", names=books))
    else:
        lines.append(tr.t("cap.notice.no_playbooks"))
    return "\n".join(lines)


def notice_message(
    notice: CapNotice, now: datetime, language: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons in ``language``, or in Arabic and English when it is None."""
    tongues = [get_translator(language)] if language else [get_translator("ar"), get_translator("en")]
    text = "\n\n".join(notice_text(notice, tr, now) for tr in tongues)
    return text, notice_keyboard(notice, *tongues)


def notice_keyboard(notice: CapNotice, *tongues: Translator) -> InlineKeyboardMarkup | None:
    """Declare / Dismiss under a draft; End under the partner's Cancel of a confirmed emergency."""
    v = notice.emergency

    def button(key: str, data: str) -> InlineKeyboardButton:
        first, *others = (tr.t(key) for tr in tongues)
        label = " / ".join([first, *(other.split(" ", 1)[-1] for other in others)])  # one icon is enough
        return InlineKeyboardButton(label, callback_data=data)

    if notice.offers_confirm:
        rows = [[button("button.cap.confirm_playbooks", f"cap:c:{v.id}")]] if notice.playbooks else []
        rows.append(
            [button("button.cap.confirm", f"cap:n:{v.id}"), button("button.cap.dismiss", f"cap:d:{v.id}")]
        )
        return InlineKeyboardMarkup(rows)
    if notice.offers_end:
        return InlineKeyboardMarkup([[button("button.cap.end", f"cap:e:{v.first_id}:{v.version}")]])
    return None
