"""What a claimed emergency row says and answers — or why it is not posted any more (the catch-up rules)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa
from shapely.geometry import Point

from closures import emergency_outbox, outbox
from closures.drivers import DriverDirectory
from closures.emergency_models import EmergencyRecipient
from closures.emergency_publishing import EmergencyPost, prepare_emergencies
from closures.outbox import ClaimedEmergency
from closures.publishing import Stale
from closures.reach import Reach, queue_people
from closures.service import Actor
from closures.store import session_scope
from tests.closures.conftest import RIYADH_STAFF, draft_factory
from tests.closures.emergency_support import CENTRE, emergency_rows, khurais_playbook

STAFF = Actor.telegram(RIYADH_STAFF)
LATE = timedelta(minutes=10)
CHANNEL = "emergency-telegram:@riyadh_roads"

pytestmark = pytest.mark.usefixtures("staff")


def _take(engine, clock, destination: str | None = None) -> list[ClaimedEmergency]:
    """Claim what is due (leases make a second call take only what the first left)."""
    items = outbox.claim_due(engine, now=clock.now, token=f"t{clock.now.timestamp()}", lease=LATE, limit=500)
    found = [i for i in items if isinstance(i, ClaimedEmergency)]
    return [i for i in found if destination is None or i.destination == destination]


def _one(engine, clock, destination: str) -> ClaimedEmergency:
    (item,) = _take(engine, clock, destination)
    return item


def _prepared(engine, clock, item):
    (out,) = prepare_emergencies(engine, [item], now=clock.now, late_after=LATE)
    return out


def test_the_first_channel_post_answers_nothing_and_the_update_answers_it(
    emergencies, engine, clock, declare
):
    emergencies.playbooks.save("riyadh", khurais_playbook(), STAFF)
    first = emergencies.declare("riyadh", declare(playbooks=["khurais-underpasses"]), STAFF).emergency
    post = _one(engine, clock, CHANNEL)

    context = _prepared(engine, clock, post)

    assert isinstance(context, EmergencyPost)
    assert (context.reply_to, context.earlier, context.version.version) == (None, (), 1)
    assert [c.title_en for c in context.closures] == [f"Khurais underpass {i}" for i in (1, 2, 3)]
    assert context.place.slug == "riyadh"
    emergency_outbox.complete(engine, post, now=clock.now, remote_id="11")

    emergencies.update(first.id, {"level": "warning"}, STAFF)
    update = _one(engine, clock, CHANNEL)
    context = _prepared(engine, clock, update)
    assert (context.reply_to, context.earlier, context.version.version) == ("11", ("11",), 2)
    assert context.first.id == first.id


def test_a_version_overtaken_before_it_went_out_is_skipped_and_the_next_one_posted_fresh(
    emergencies, engine, clock, declare
):
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    emergencies.update(first.id, {"level": "warning"}, STAFF)  # before the worker got to version 1

    items = _take(engine, clock, CHANNEL)
    assert [i.emergency_version for i in items] == [1]  # version 2 waits for version 1's outcome
    stale = _prepared(engine, clock, items[0])
    assert stale == Stale("superseded by version 2 before it went out")
    outbox.skip(engine, items[0], now=clock.now, reason=stale.reason)

    context = _prepared(engine, clock, _one(engine, clock, CHANNEL))
    assert (context.version.version, context.reply_to) == (2, None)


def test_an_end_is_not_posted_where_nobody_was_told_of_the_emergency(emergencies, engine, clock, declare):
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    declared = _one(engine, clock, CHANNEL)
    outbox.skip(engine, declared, now=clock.now, reason="test: never posted")
    emergencies.end(first.id, STAFF)

    assert _prepared(engine, clock, _one(engine, clock, CHANNEL)) == Stale("never told of the emergency here")


def test_a_version_that_expired_before_it_went_out_is_skipped(emergencies, engine, clock, declare):
    emergencies.declare("riyadh", declare(), STAFF)
    clock.advance(timedelta(hours=6, minutes=1))
    items = {(i.event.value, i.destination): i for i in _take(engine, clock)}

    declared = _prepared(engine, clock, items[("declared", CHANNEL)])
    assert declared == Stale("the emergency expired before it went out")


def test_the_expiry_post_answers_the_channels_post(emergencies, engine, clock, declare):
    emergencies.declare("riyadh", declare(), STAFF)
    emergency_outbox.complete(engine, _one(engine, clock, CHANNEL), now=clock.now, remote_id="21")
    clock.advance(timedelta(hours=6))

    expired = _one(engine, clock, CHANNEL)

    context = _prepared(engine, clock, expired)
    assert (context.item.event.value, context.reply_to, context.earlier) == ("expired", "21", ("21",))


def test_a_persons_first_message_is_kept_and_later_ones_answer_it_in_their_language(
    emergencies, engine, clock, declare
):
    drivers = DriverDirectory(engine, clock=clock)
    drivers.save_place(42, "home", Point(CENTRE))
    drivers.subscribe(42, "home", 1000, "en")
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    reach = Reach()
    queue_people(engine, _one(engine, clock, "emergency-people"), now=clock.now, reach=reach)
    dm = _one(engine, clock, "emergency-dm:42")
    context = _prepared(engine, clock, dm)
    assert (context.language, context.reply_to) == ("en", None)

    assert emergency_outbox.complete(engine, dm, now=clock.now, remote_id="77")

    with session_scope(engine) as session:
        recipient = session.scalars(sa.select(EmergencyRecipient)).one()
    assert (recipient.telegram_user_id, recipient.message_id) == (42, "77")
    emergencies.end(first.id, STAFF)
    queue_people(engine, _one(engine, clock, "emergency-people"), now=clock.now, reach=reach)
    ended = _prepared(engine, clock, _one(engine, clock, "emergency-dm:42"))
    assert (ended.item.event.value, ended.reply_to, ended.language) == ("ended", "77", "en")


def test_an_emergencys_messages_are_claimed_before_calm_day_posts_due_earlier(
    emergencies, posting_closures, engine, clock, declare
):
    make_draft = draft_factory(clock)
    for i in range(20):  # an import's worth of announcements, due now and waiting
        posting_closures.register("riyadh", make_draft(title_en=f"Imported {i}"), STAFF)
    clock.advance(timedelta(minutes=1))
    emergencies.declare("riyadh", declare(), STAFF)
    due = {r.destination for r in emergency_rows(engine) if r.due_at <= clock.now}

    taken = outbox.claim_due(engine, now=clock.now, token="t", lease=LATE, limit=500)

    kinds = [isinstance(item, ClaimedEmergency) for item in taken]
    assert due
    assert kinds[: len(due)] == [True] * len(due)  # every chat the emergency is due in, first
    assert not any(kinds[len(due) :])  # then the import's posts, due a minute earlier
    assert {item.destination for item in taken[: len(due)]} == due


def test_completions_in_a_group_keep_each_persons_first_message_as_one_by_one_they_would(
    emergencies, engine, clock, declare
):
    drivers = DriverDirectory(engine, clock=clock)
    for user in (42, 43, 44):
        drivers.save_place(user, "home", Point(CENTRE))
        drivers.subscribe(user, "home", 1000, "en")
    first = emergencies.declare("riyadh", declare(), STAFF).emergency
    reach = Reach()
    queue_people(engine, _one(engine, clock, "emergency-people"), now=clock.now, reach=reach)
    dms = {item.target: item for item in _take(engine, clock) if item.kind == emergency_outbox.DM}
    lost = dataclasses.replace(dms["44"], token="taken-over")  # its lease went to another worker

    emergency_outbox.complete_many(
        engine, [(dms["42"], "77"), (dms["43"], "78"), (lost, "79")], now=clock.now
    )

    assert _first_messages(engine) == {42: "77", 43: "78", 44: None}
    statuses = {r.destination: r.status for r in emergency_rows(engine) if "dm" in r.destination}
    assert statuses == {"emergency-dm:42": "done", "emergency-dm:43": "done", "emergency-dm:44": "claimed"}
    emergencies.update(first.id, {"instruction_en": "Keep out of underpasses"}, STAFF)
    queue_people(engine, _one(engine, clock, "emergency-people"), now=clock.now, reach=reach)
    later = [item for item in _take(engine, clock) if item.kind == emergency_outbox.DM]
    assert sorted(item.target for item in later) == ["42", "43"]  # 44's waits for its first row's fate
    emergency_outbox.complete_many(engine, [(item, "90") for item in later], now=clock.now)
    assert _first_messages(engine) == {42: "77", 43: "78", 44: None}  # the first messages are kept


def _first_messages(engine) -> dict[int, str | None]:
    with session_scope(engine) as session:
        rows = session.scalars(sa.select(EmergencyRecipient)).all()
    return {r.telegram_user_id: r.message_id for r in rows}


def test_an_emergencys_rows_are_claimed_in_a_batch_of_their_own_size(
    emergencies, posting_closures, engine, clock, declare
):
    make_draft = draft_factory(clock)
    for i in range(5):
        posting_closures.register("riyadh", make_draft(title_en=f"Imported {i}"), STAFF)
    emergencies.declare("riyadh", declare(), STAFF)
    due = [r for r in emergency_rows(engine) if r.due_at <= clock.now and r.status == "pending"]
    assert len(due) == 3  # the people row, the channel post, the X post

    small = outbox.claim_due(engine, now=clock.now, token="a", lease=LATE, limit=2)
    assert [isinstance(item, ClaimedEmergency) for item in small] == [True, True]
    clock.advance(LATE + timedelta(seconds=1))  # the leases run out: everything is claimable again

    taken = outbox.claim_due(engine, now=clock.now, token="b", lease=LATE, limit=2, emergency_limit=3)
    assert [isinstance(item, ClaimedEmergency) for item in taken] == [True, True, True]
    calm = outbox.claim_due(engine, now=clock.now, token="c", lease=LATE, limit=2, emergency_limit=3)
    assert [isinstance(item, ClaimedEmergency) for item in calm] == [False, False]  # calm ones: 2 at most
