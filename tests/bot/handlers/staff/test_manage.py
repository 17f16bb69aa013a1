"""Managing closures from Telegram: lists, details, extend, lift, cancel, history, ``/edit`` (also by two
operators at once), each change with its audit event and outbox rows; and ``/new`` surviving a restart."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from shapely.geometry import Point
from sqlmodel import select

from bot.i18n import get_translator
from bot.localapi import ApiCall, FakeUser
from closures.lifecycle import Phase, phase_at
from closures.models import Closure, ClosureEvent, ConversationData, ConversationState, OutboxItem
from closures.rules import ClosureDraft
from closures.service import Actor
from closures.store import session_scope
from tests.bot.handlers.staff.conftest import BESIDE, RIYADH, RIYADH_EN, TYPED_TITLE, StaffBot


def riyadh_closure(bot: StaffBot, phase: Phase) -> Closure:
    """A sample Riyadh closure in ``phase`` now."""
    with session_scope(bot.services.engine) as session:
        rows = session.exec(select(Closure).where(Closure.municipality_id == 1).order_by(Closure.id))
        return next(c for c in rows if phase_at(c, bot.clock.now) is phase and c.ends_at is not None)


def trail(bot: StaffBot, closure_id: int) -> list[tuple[int, str, str]]:
    return [(e.version, e.action, e.actor) for e in bot.services.closures.history(closure_id)]


def posts(bot: StaffBot, closure_id: int, version: int) -> int:
    return bot.count(OutboxItem, OutboxItem.closure_id == closure_id, OutboxItem.closure_version == version)


async def test_list_shows_open_closures_of_the_municipality_a_page_at_a_time(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    page = await bot.say(RIYADH_EN, "/list")
    total = len(bot.services.listing.open_in([1], limit=100).closures)
    assert (page.text or "").startswith(f"<b>{tr.n('staff.list.header', total)}</b>")
    first = [c.id for c in bot.services.listing.open_in([1]).closures]
    assert all(f"#{i} · " in (page.text or "") for i in first)
    more = await bot.press(RIYADH_EN, page, "spage:list:10")
    second = [c.id for c in bot.services.listing.open_in([1], offset=10).closures]
    assert all(f"#{i} · " in (more.text or "") for i in second)
    assert not any(f"#{i} · " in (more.text or "") for i in first)


async def test_mine_lists_what_the_operator_registered(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    assert (await bot.say(RIYADH, "/mine")).text == tr.t("staff.list.empty")
    await bot.say(RIYADH, "/new")
    preview = await bot.to_preview(
        RIYADH, await bot.press(RIYADH, await bot.send_location(RIYADH, *BESIDE), "sg:r:50")
    )
    await bot.press(RIYADH, preview, "sv:confirm")
    mine = await bot.say(RIYADH, "/mine")
    assert tr.n("staff.list.header", 1) in (mine.text or "")
    assert TYPED_TITLE in (mine.text or "")


async def test_mine_gives_the_start_of_a_scheduled_closure(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    now = bot.clock.now
    draft = ClosureDraft(
        geometry=Point(BESIDE[1], BESIDE[0]), radius_m=50, reason="roadworks", title_ar=TYPED_TITLE,
        starts_at=now + timedelta(hours=5), ends_at=now + timedelta(hours=8),
    )  # fmt: skip
    bot.services.closures.register("riyadh", draft, Actor.telegram(RIYADH_EN.id))

    mine = (await bot.say(RIYADH_EN, "/mine")).text or ""

    zone = bot.services.zone(1)
    starts = tr.t("timing.starts", time=tr.time(now + timedelta(hours=5), zone, now))
    until = tr.t("timing.until", time=tr.time(now + timedelta(hours=8), zone, now))
    assert f"{starts} · {until}" in mine


async def test_show_sends_the_pin_and_the_details(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    closure = riyadh_closure(bot, Phase.ACTIVE)
    shown = await bot.say(RIYADH_EN, f"/show {closure.id}")
    header = tr.t(
        "staff.show.header", id=closure.id, phase=tr.t("staff.phase.active"), version=closure.version
    )
    assert (shown.text or "").startswith(f"<b>{header}</b>")
    assert bot.api.sent(RIYADH_EN.id, "sendLocation")
    assert (await bot.say(RIYADH_EN, "/show 99999")).text == tr.t("staff.not_found", id=99999)


async def confirmed(bot: StaffBot, user: FakeUser, command: str) -> ApiCall:
    """Send ``/lift`` or ``/cancel_closure`` and tap "Yes" under the post it shows."""
    question = await bot.say(user, command)
    (yes,) = [b["callback_data"] for row in question.params["reply_markup"]["inline_keyboard"] for b in row
              if b["callback_data"].startswith("sq:") and b["callback_data"] != "sq:no"]  # fmt: skip
    return await bot.press(user, question, yes)


@pytest.mark.parametrize(
    ("command", "event", "user"), [("lift", "lifted", RIYADH), ("cancel_closure", "cancelled", RIYADH_EN)]
)
async def test_lift_and_cancel_show_the_post_and_change_nothing_until_confirmed(
    staff_bot: StaffBot, command: str, event: str, user: FakeUser
) -> None:
    bot, tr = staff_bot, get_translator(user.language_code or "ar")
    active = riyadh_closure(bot, Phase.ACTIVE)
    before = bot.writes()

    question = await bot.say(user, f"/{command} {active.id}")

    text = question.text or ""
    assert text.startswith(f"<b>{tr.t(f'staff.confirm.{command}', id=active.id)}</b>\n\n")
    for lang in ("ar", "en"):  # the channel post, both blocks, as followers will read it
        other = get_translator(lang)
        headline = other.t(
            f"post.{event}", title=other.embed(active.title_en or "") if lang == "en" else active.title_ar
        )
        assert html.escape(headline, quote=False) in text
    assert bot.writes() == before  # nothing changed, nothing queued for the channel or X
    buttons = [b["callback_data"] for row in question.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == [f"sq:{command}:{active.id}:{active.version}", "sq:no"]

    kept = await bot.press(user, question, "sq:no")
    assert kept.text == tr.t("staff.confirm.kept")
    assert bot.writes() == before
    assert bot.closure(active.id).status == "open"


async def test_a_confirmation_for_a_closure_changed_meanwhile_does_nothing(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    active = riyadh_closure(bot, Phase.ACTIVE)
    question = await bot.say(RIYADH_EN, f"/lift {active.id}")
    await bot.say(RIYADH_EN, f"/extend {active.id} 1h")  # someone extends it while the question waits

    answer = await bot.press(RIYADH_EN, question, f"sq:lift:{active.id}:{active.version}")

    assert answer.text == tr.t("staff.confirm.changed", id=active.id)
    assert bot.closure(active.id).status == "open"


async def test_extend_lift_and_cancel_write_audit_events_and_outbox_rows(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    active = riyadh_closure(bot, Phase.ACTIVE)
    old_end = active.ends_at
    assert old_end is not None
    done = await bot.say(RIYADH, f"/extend {active.id} ساعتين")
    extended = bot.closure(active.id)
    assert extended.ends_at == old_end + timedelta(hours=2)
    until = tr.t("timing.until", time=tr.time(extended.ends_at, bot.services.zone(1), bot.clock.now))
    assert done.text == tr.t("staff.done.extend", id=active.id, until=until)
    assert trail(bot, active.id)[-1] == (extended.version, "extended", f"tg:{RIYADH.id}")
    assert posts(bot, active.id, extended.version) > 0
    done = await confirmed(bot, RIYADH, f"/lift {active.id}")
    lifted = bot.closure(active.id)
    assert done.text == tr.t("staff.done.lift", id=active.id)
    assert (lifted.status, lifted.lifted_at) == ("lifted", bot.clock.now)
    assert trail(bot, active.id)[-1] == (lifted.version, "lifted", f"tg:{RIYADH.id}")
    assert posts(bot, active.id, lifted.version) > 0
    assert (await bot.say(RIYADH, f"/lift {active.id}")).text == tr.t("staff.refused.not_open")
    scheduled = riyadh_closure(bot, Phase.SCHEDULED)
    assert (await bot.say(RIYADH, f"/lift {scheduled.id}")).text == tr.t("staff.refused.not_started")
    assert (await confirmed(bot, RIYADH, f"/cancel_closure {scheduled.id}")).text == tr.t(
        "staff.done.cancel_closure", id=scheduled.id
    )
    assert bot.closure(scheduled.id).status == "cancelled"
    assert trail(bot, scheduled.id)[-1][1:] == ("cancelled", f"tg:{RIYADH.id}")


async def test_extend_to_a_time_and_its_refusals(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    active = riyadh_closure(bot, Phase.ACTIVE)
    assert active.ends_at is not None
    local_end = active.ends_at.astimezone(bot.services.zone(1)) + timedelta(days=1)
    await bot.say(RIYADH_EN, f"/extend {active.id} {local_end:%Y-%m-%d %H:%M}")
    assert bot.closure(active.id).ends_at == active.ends_at + timedelta(days=1)
    assert (await bot.say(RIYADH_EN, f"/extend {active.id} 2020-01-01 10:00")).text == tr.t(
        "staff.refused.not_later"
    )
    wrong = await bot.say(RIYADH_EN, f"/extend {active.id} whenever")
    assert wrong.text == f"{tr.t('staff.time.not_time')}\n{tr.t('staff.extend.usage')}"
    await bot.say(RIYADH_EN, f"/extend {active.id} open")
    assert bot.closure(active.id).ends_at is None


async def test_history_names_who_changed_what_from_what_to_what_with_full_dates(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("en")
    active = riyadh_closure(bot, Phase.ACTIVE)
    assert active.ends_at is not None
    zone = bot.services.zone(1)
    await bot.say(RIYADH_EN, f"/extend {active.id} 1h")
    await confirmed(bot, RIYADH, f"/lift {active.id}")
    text = (await bot.say(RIYADH_EN, f"/history {active.id}")).text or ""
    assert text.startswith(f"<b>{tr.t('staff.history.header', id=active.id)}</b>")
    at = tr.full_time(bot.clock.now, zone)
    assert (
        at.endswith(str(bot.clock.now.astimezone(zone).year)) or str(bot.clock.now.year) in at
    )  # a full date
    names = bot.services.staff.names([RIYADH.id, RIYADH_EN.id])
    for version, action, who in (
        (1, "registered", tr.t("staff.actor.system")),  # registered by a test path, not a person
        (2, "extended", names.get(RIYADH_EN.id) or RIYADH_EN.full_name),
        (3, "lifted", names.get(RIYADH.id) or RIYADH.full_name),
    ):
        line = tr.t(
            "staff.history.item", version=version, action=tr.t(f"staff.action.{action}"), actor=who, time=at
        )
        plain = str.maketrans("", "", "\u2068\u2069")
        assert line.translate(plain) in text.translate(plain)
    old_end, new_end = (
        tr.full_time(end, zone) for end in (active.ends_at, active.ends_at + timedelta(hours=1))
    )
    change = tr.t("staff.history.change", field=tr.t("staff.field.ends_at"), old=old_end, new=new_end)
    assert f"\n    {change}" in text
    assert "tg:" not in text


async def test_edit_changes_a_field_with_the_same_validation_and_writes_through_the_service(
    staff_bot: StaffBot,
) -> None:
    bot, tr = staff_bot, get_translator("ar")
    closure = riyadh_closure(bot, Phase.ACTIVE)
    menu = await bot.edit(RIYADH, closure.id)
    assert menu.text == tr.t("staff.ask.field")
    title = await bot.press(RIYADH, menu, "sf:title")
    en = await bot.say(RIYADH, "عنوان جديد")
    preview = await bot.press(RIYADH, en, "te:skip")
    assert "عنوان جديد" in (preview.text or "")
    assert bot.closure(closure.id).version == closure.version  # not yet
    geometry = await bot.press(RIYADH, await bot.press(RIYADH, preview, "sv:edit"), "sf:geometry")
    assert (await bot.send_location(RIYADH, 21.54, 39.17)).text == tr.t("staff.refused.outside_municipality")
    assert title.text
    assert geometry.text
    preview = await bot.press(RIYADH, await bot.send_location(RIYADH, *BESIDE), "sg:r:500")
    done = await bot.press(RIYADH, preview, "sv:confirm")
    saved = bot.closure(closure.id)
    assert done.text == tr.t("staff.updated", id=closure.id, version=closure.version + 1)
    assert (saved.title_ar, saved.title_en, saved.kind, saved.radius_m) == (
        "عنوان جديد",
        None,
        "point",
        500.0,
    )
    assert trail(bot, closure.id)[-1] == (saved.version, "updated", f"tg:{RIYADH.id}")
    assert posts(bot, closure.id, saved.version) > 0


async def test_two_operators_editing_the_same_closure_the_second_sees_what_changed_and_confirms_again(
    staff_bot: StaffBot,
) -> None:
    bot, tr = staff_bot, get_translator("en")
    closure = riyadh_closure(bot, Phase.ACTIVE)
    assert closure.ends_at is not None
    # Sara starts editing the detour; meanwhile Ahmed changes the end and saves first.
    detour = await bot.press(RIYADH_EN, await bot.edit(RIYADH_EN, closure.id), "sf:detour")
    sara_preview = await bot.say(RIYADH_EN, "Take Olaya St")
    ahmed_end = await bot.press(RIYADH, await bot.edit(RIYADH, closure.id), "sf:ends_at")
    assert detour.text
    assert ahmed_end.text
    ahmed_preview = await bot.say(RIYADH, "2026-12-01 10:00")
    await bot.press(RIYADH, ahmed_preview, "sv:confirm")
    assert bot.closure(closure.id).version == closure.version + 1
    since = len(bot.api.calls)
    bot.api.user_presses_button(RIYADH_EN, sara_preview, "sv:confirm")
    conflict = await bot.reply_to(RIYADH_EN, since=since)
    new_end = bot.closure(closure.id).ends_at
    assert new_end is not None
    changed = f"• {tr.t('staff.field.ends_at')}: {tr.time(new_end, bot.services.zone(1), bot.clock.now)}"
    assert (
        conflict.text
        == f"{tr.t('staff.conflict', id=closure.id)}\n{changed}\n\n{tr.t('staff.conflict.again')}"
    )
    again = await bot.api.wait_for(
        lambda c: c.chat_id == RIYADH_EN.id and tr.t("staff.preview.header") in (c.text or ""), since=since
    )
    assert bot.closure(closure.id).version == closure.version + 1  # nothing of Sara's written yet
    done = await bot.press(RIYADH_EN, again, "sv:confirm")
    saved = bot.closure(closure.id)
    assert done.text == tr.t("staff.updated", id=closure.id, version=closure.version + 2)
    assert (saved.detour_en, saved.ends_at) == ("Take Olaya St", new_end)  # both changes kept
    assert [a for _, a, _ in trail(bot, closure.id)][-2:] == ["updated", "updated"]


async def test_a_half_finished_new_survives_a_restart_of_the_bot(staff_bot: StaffBot) -> None:
    bot, tr = staff_bot, get_translator("ar")
    await bot.say(RIYADH, "/new")
    radius = await bot.send_location(RIYADH, *BESIDE)
    reason = await bot.press(RIYADH, radius, "sg:r:250")
    severity = await bot.press(RIYADH, reason, "sr:flood")
    await bot.restart()
    with session_scope(bot.services.engine) as session:
        assert [(s.name, s.state) for s in session.exec(select(ConversationState))] == [
            ("staff_new", '"severity"')
        ]
        assert session.get(ConversationData, RIYADH.id) is not None
    answer = await bot.press(RIYADH, severity, "ss:full")  # a button from before the restart
    assert answer.text == tr.t("staff.ask.direction")
    preview = answer
    for data in ("sd:both", "st:now"):
        preview = await bot.press(RIYADH, preview, data)
    preview = await bot.say(RIYADH, "3h")
    preview = await bot.press(RIYADH, preview, "sx:skip")
    preview = await bot.say(RIYADH, "إغلاق شارع العليا")
    for data in ("te:skip", "sv:confirm"):
        preview = await bot.press(RIYADH, preview, data)
    closure = bot.newest()
    assert (closure.reason, closure.radius_m, closure.created_by) == ("flood", 250.0, f"tg:{RIYADH.id}")
    await bot.restart()
    with session_scope(bot.services.engine) as session:  # a finished conversation leaves nothing behind
        assert list(session.exec(select(ConversationState))) == []
        assert list(session.exec(select(ConversationData))) == []


@pytest.mark.parametrize("restart_after", [1, 2])
async def test_points_shared_before_a_restart_are_kept(staff_bot: StaffBot, restart_after: int) -> None:
    bot, tr = staff_bot, get_translator("en")
    await bot.say(RIYADH_EN, "/new")
    await bot.send_location(RIYADH_EN, 24.7000, 46.6800)
    if restart_after == 1:
        await bot.restart()
    more = await bot.send_location(RIYADH_EN, 24.7100, 46.6750)
    if restart_after == 2:
        await bot.restart()
    reason = await bot.press(RIYADH_EN, more, "sg:line")
    assert reason.text == tr.t("staff.ask.reason")
    await bot.press(RIYADH_EN, await bot.to_preview(RIYADH_EN, reason), "sv:confirm")
    assert bot.newest().kind == "line"
    assert bot.count(ClosureEvent, ClosureEvent.closure_id == bot.newest().id) == 1
