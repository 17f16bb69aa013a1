"""What ``/emergency`` asks staff, with the buttons of each question, the proposals it offers and the
preview it shows — pure. Button data start with the prefix the conversation matches (``ea:`` the area,
``eh:`` a hazard, ``el:`` a level, ``et:`` a proposed text, ``ex:`` an expiry, ``ep:`` playbooks, ``ev:`` the
preview, ``ec:`` a change, ``eu:`` which emergency, ``ee:`` ending, ``em:`` a municipality).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import shapely
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator, get_translator
from bot.text.emergency import LEVEL_ICON, channel_post, hazard_name, lines
from closures.emergencies import Plan
from closures.emergency_models import AlertLevel, Emergency, EmergencyAction, Hazard
from closures.emergency_publishing import BroughtClosure, EmergencyPost
from closures.lifecycle import Phase
from closures.outbox import ClaimedEmergency
from closures.publishing import Place

EXPIRY_HOURS = (3, 6, 12)
CHANGES = ("level", "expiry", "area", "headline", "instruction", "playbooks")

type Rows = list[list[InlineKeyboardButton]]


def _markup(rows: Rows) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup(rows) if rows else None


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _pairs(buttons: list[InlineKeyboardButton]) -> Rows:
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def municipalities(tr: Translator, choices: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    return _markup([[_button(name, f"em:{mid}")] for mid, name in choices])


def area(tr: Translator, playbook_names: Sequence[str], *, points: int) -> InlineKeyboardMarkup | None:
    """Under the area question: Done (three corners or more), a playbook's area, the whole municipality."""
    rows = [[_button(tr.t("button.emergency.done"), "ea:done")]] if points >= 3 else []
    rows += [
        [_button(tr.t("button.emergency.playbook_area", name=name), f"ea:p:{i}")]
        for i, name in enumerate(playbook_names)
    ]
    rows.append([_button(tr.t("button.emergency.whole"), "ea:whole")])
    return _markup(rows)


def hazards(tr: Translator) -> InlineKeyboardMarkup | None:
    return _markup(_pairs([_button(hazard_name(tr, h.value), f"eh:{h.value}") for h in Hazard]))


def levels(tr: Translator) -> InlineKeyboardMarkup | None:
    return _markup(
        [[_button(f"{LEVEL_ICON[lv.value]} {tr.t(f'emergency.level.{lv.value}')}", f"el:{lv.value}")]
         for lv in reversed(AlertLevel)]
    )  # fmt: skip


def use_proposal(tr: Translator, field: str) -> InlineKeyboardMarkup | None:
    return _markup([[_button(tr.t("button.emergency.use"), f"et:{field}")]])


def expiry(tr: Translator) -> InlineKeyboardMarkup | None:
    return _markup([[_button(tr.n("button.emergency.hours", h), f"ex:{h}") for h in EXPIRY_HOURS]])


def playbooks(tr: Translator, names: Sequence[str], chosen: Sequence[bool]) -> InlineKeyboardMarkup | None:
    rows = [
        [_button(f"{'✅' if on else '▫️'} {name}", f"ep:{i}")]
        for i, (name, on) in enumerate(zip(names, chosen, strict=True))
    ]
    rows.append([_button(tr.t("button.emergency.continue"), "ep:go")])
    return _markup(rows)


def changes(tr: Translator) -> InlineKeyboardMarkup | None:
    return _markup(_pairs([_button(tr.t(f"emergency.field.{name}"), f"ec:{name}") for name in CHANGES]))


def preview_buttons(tr: Translator, *, update: bool) -> InlineKeyboardMarkup | None:
    rows = [[_button(tr.t("button.emergency.confirm"), "ev:confirm")]]
    if update:
        rows.append([_button(tr.t("button.emergency.more"), "ev:more")])
    rows.append([_button(tr.t("button.cancel"), "ev:cancel")])
    return _markup(rows)


def which(versions: Sequence[Emergency], tr: Translator) -> InlineKeyboardMarkup | None:
    """One button per emergency in force: its level icon, number and headline."""
    return _markup([
        [_button(f"{LEVEL_ICON.get(v.level, '⚠️')} #{v.first_id} {_headline(v, tr)[:48]}", f"eu:{v.first_id}")]
        for v in versions
    ])  # fmt: skip


def end_buttons(tr: Translator) -> InlineKeyboardMarkup | None:
    return _markup(
        [[_button(tr.t("button.emergency.end_it"), "ee:yes")], [_button(tr.t("button.cancel"), "ee:no")]]
    )


def headline_proposal(lang: str, hazard: str, level: str, area_desc: str) -> str:
    """The headline proposed from the hazard and level: "Red alarm: Flooding in Riyadh Municipality"."""
    tr = get_translator(lang)
    return (
        tr.t(
            "emergency.propose.headline",
            level=tr.t(f"emergency.level.{level}"),
            hazard=hazard_name(tr, hazard),
            area=area_desc,
        )
        .replace("\u2068", "")
        .replace("\u2069", "")
    )  # stored and posted: no isolates within its own script


def instruction_proposal(lang: str, hazard: str) -> str:
    return get_translator(lang).t(f"emergency.propose.instruction.{hazard}")


def preview_post(
    plan: Plan, version: Emergency, now: datetime, *, event: EmergencyAction = EmergencyAction.DECLARED
) -> EmergencyPost:
    """The post a confirmed plan will make, to show it before anything is written."""
    muni = plan.municipality
    closures = tuple(
        BroughtClosure(0, d.title_ar, d.title_en, d.detour_ar, d.detour_en, d.ends_at, Phase.ACTIVE)
        for d in plan.closures
    )
    item = ClaimedEmergency(0, 0, version.version, event, "preview", now, 0, "preview", None, None)
    return EmergencyPost(
        item=item, version=version, first=version, area=plan.area.geometry,
        place=Place(muni.slug, muni.name_ar, muni.name_en, muni.timezone), closures=closures, reply_to=None,
        earlier=(), language=None, late_since=None, now=now,
    )  # fmt: skip


def preview(plan: Plan, post: EmergencyPost, tr: Translator, *, update: bool) -> str:
    """The operator's preview: what is posted (both languages), whom it reaches, what was cut, what closes."""
    version = post.version
    header = "emergency.preview.header_exercise" if version.exercise else (
        "emergency.preview.header_update" if update else "emergency.preview.header"
    )  # fmt: skip
    parts = [tr.t(header), channel_post(post)]
    count = plan.reach
    if count is not None:
        people = tr.n("emergency.preview.people", count.total)
        if version.exercise:
            parts.append(tr.t("emergency.preview.reach_staff", people=people))
        else:
            subscribers, drivers = tr.number(count.subscribers), tr.number(count.drivers)
            parts.append(
                tr.t("emergency.preview.reach", people=people, subscribers=subscribers, drivers=drivers)
            )
    if plan.area.clipped_share >= 0.005:
        name = plan.municipality.name_ar if tr.lang == "ar" else plan.municipality.name_en
        parts.append(
            tr.t("emergency.preview.clipped", percent=percent(tr, plan.area.clipped_share), municipality=name)
        )
    if plan.closures:
        parts.append(tr.n("emergency.preview.closures", len(plan.closures)))
    return "\n\n".join(parts)


def percent(tr: Translator, share: float) -> str:
    return f"{tr.number(round(share * 100))}%" if tr.lang == "en" else f"{tr.number(round(share * 100))}٪"


def summary(version: Emergency, tr: Translator, zone: ZoneInfo, now: datetime) -> str:
    """One emergency in a list or a confirmation: its first lines, in ``tr``'s language."""
    item = ClaimedEmergency(
        0, 0, version.version, EmergencyAction.DECLARED, "summary", now, 0, "", None, None
    )
    post = EmergencyPost(
        item=item,
        version=version, first=version, area=shapely.from_geojson(version.area_geojson),
        place=Place("", "", "", str(zone)), closures=(), reply_to=None, earlier=(), language=tr.lang,
        late_since=None, now=now,
    )  # fmt: skip
    return "\n".join(lines(post, tr, 3))


def _headline(version: Emergency, tr: Translator) -> str:
    return version.headline_ar if tr.lang == "ar" else version.headline_en
