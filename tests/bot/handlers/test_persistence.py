"""The store-backed PTB persistence: conversation states and the kept part of user data, as JSON rows."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.handlers.persistence import StorePersistence
from closures.models import ConversationData, ConversationState
from closures.store import session_scope


def rows(engine: Engine) -> tuple[list[tuple[str, str, str]], list[tuple[int, str]]]:
    with session_scope(engine) as session:
        states = [(r.name, r.key, r.state) for r in session.exec(select(ConversationState))]
        data = [(r.telegram_user_id, r.data_json) for r in session.exec(select(ConversationData))]
    return sorted(states), sorted(data)


async def test_conversation_states_are_written_read_back_and_deleted_when_ended(engine: Engine) -> None:
    first = StorePersistence(engine)
    await first.update_conversation("staff_new", (42, 42), "reason")
    await first.update_conversation("staff_new", (7, 7), "end")
    await first.update_conversation("other", (42, 42), 3)
    await first.update_conversation("staff_new", (7, 7), None)  # ended
    assert rows(engine)[0] == [("other", "[42, 42]", "3"), ("staff_new", "[42, 42]", '"reason"')]
    second = StorePersistence(engine)  # after a restart
    assert await second.get_conversations("staff_new") == {(42, 42): "reason"}
    assert await second.get_conversations("other") == {(42, 42): 3}


async def test_only_the_kept_user_data_is_written_and_only_when_it_changed(engine: Engine) -> None:
    persistence = StorePersistence(engine)
    await persistence.update_user_data(1, {"trip": object(), "staff_draft": {"values": {"reason": "flood"}}})
    await persistence.update_user_data(2, {"trip": object()})  # nothing to keep: no row
    assert rows(engine)[1] == [(1, '{"staff_draft": {"values": {"reason": "flood"}}}')]
    assert await StorePersistence(engine).get_user_data() == {
        1: {"staff_draft": {"values": {"reason": "flood"}}}
    }
    with session_scope(engine, write=True) as session:  # proof that an unchanged draft is not written again
        row = session.get(ConversationData, 1)
        assert row is not None
        row.data_json = '{"staff_draft": "tampered"}'
        session.add(row)
    await persistence.update_user_data(1, {"staff_draft": {"values": {"reason": "flood"}}})
    assert rows(engine)[1] == [(1, '{"staff_draft": "tampered"}')]
    await persistence.update_user_data(1, {})  # the draft is done with
    assert rows(engine)[1] == []
    await persistence.update_user_data(3, {"staff_draft": {"values": {}}})
    await persistence.drop_user_data(3)
    assert rows(engine)[1] == []
    # A driver's last point is kept too: the next point's answer offers a route from it, in any process.
    await persistence.update_user_data(4, {"last_point": [46.67, 24.71, "2026-11-27T07:00:00+00:00"]})
    assert await StorePersistence(engine).get_user_data() == {
        4: {"last_point": [46.67, 24.71, "2026-11-27T07:00:00+00:00"]}
    }


async def test_saves_asked_for_together_share_one_transaction_and_keep_their_order(engine: Engine) -> None:
    # A crowd of drivers sharing locations at once: one commit for the crowd, not one each on SQLite's
    # single writer, and a user saved twice in the same group ends with the later value.
    persistence = StorePersistence(engine)
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    sa.event.listen(engine, "commit", committed)
    try:
        await asyncio.gather(
            *(
                persistence.save_user_now(user, [], {"last_point": [46.6 + user / 1000, 24.7, "t"]})
                for user in range(1, 51)
            ),
            persistence.save_user_now(7, [], {"last_point": [1.0, 2.0, "later"]}),
            persistence.save_user_now(9, [], {}),  # nothing kept any more: the row goes
        )
    finally:
        sa.event.remove(engine, "commit", committed)
    assert 1 <= len(commits) <= 3
    kept = dict(rows(engine)[1])
    assert len(kept) == 49
    assert 9 not in kept
    assert kept[7] == '{"last_point": [1.0, 2.0, "later"]}'
    assert kept[50] == '{"last_point": [46.65, 24.7, "t"]}'
