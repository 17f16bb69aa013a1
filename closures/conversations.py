"""Where the bot's conversations stand, and the user data kept with them, so that they survive a restart.

Values are JSON text chosen by the caller (the bot's persistence); this module only stores them. Writing
None deletes the row. Every write tells the other processes whose conversation it was (a ``conversation``
notice with the user id, on PostgreSQL), so the one that takes that user's next update reads it first.
Blocking (database): the bot calls it from a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from closures.models import ConversationData, ConversationState
from closures.store import CONVERSATION, notify, session_scope


def states(engine: Engine, name: str) -> dict[str, str]:
    """Every stored state of the conversation ``name``: key (JSON) → state (JSON)."""
    with session_scope(engine) as session:
        rows = session.exec(select(ConversationState).where(col(ConversationState.name) == name))
        return {row.key: row.state for row in rows}


def user_data(engine: Engine) -> dict[int, str]:
    """Every user's kept data: Telegram user id → JSON."""
    with session_scope(engine) as session:
        return {row.telegram_user_id: row.data_json for row in session.exec(select(ConversationData))}


def of_user(engine: Engine, keys: dict[str, str], user_id: int) -> tuple[dict[str, str], str | None]:
    """One user's stored states (conversation name → state, for the ``keys`` given per name) and kept data.

    One transaction, so the states and the data agree with each other.
    """
    with session_scope(engine) as session:
        states = {
            row.name: row.state
            for row in session.exec(
                select(ConversationState).where(
                    col(ConversationState.name).in_(list(keys)), col(ConversationState.key).in_(keys.values())
                )
            )
            if keys.get(row.name) == row.key
        }
        data = session.get(ConversationData, user_id)
        return states, data.data_json if data is not None else None


def save_state(
    engine: Engine, name: str, key: str, state: str | None, *, now: datetime, user_id: int | None = None
) -> None:
    """Store where conversation ``name`` stands for ``key``; None: it ended (the row goes). ``user_id``:
    whose conversation it is, for the other processes' notice."""
    with session_scope(engine, write=True) as session:
        if user_id is not None:
            notify(session, CONVERSATION, str(user_id))
        row = session.get(ConversationState, (name, key))
        if state is None:
            if row is not None:
                session.delete(row)
            return
        row = row or ConversationState(name=name, key=key, state=state)
        row.state, row.updated_at = state, now
        session.add(row)


def save_user_data(engine: Engine, user_id: int, value: str | None, *, now: datetime) -> None:
    """Store a user's kept data; None: nothing to keep (the row goes)."""
    with session_scope(engine, write=True) as session:
        notify(session, CONVERSATION, str(user_id))
        if value is None:
            session.exec(delete(ConversationData).where(col(ConversationData.telegram_user_id) == user_id))
            return
        row = session.get(ConversationData, user_id) or ConversationData(
            telegram_user_id=user_id, data_json=value
        )
        row.data_json, row.updated_at = value, now
        session.add(row)


@dataclass(frozen=True)
class UserSave:
    """One user's changed conversation states ((name, key) → state, None: ended) and, if ``data_changed``,
    their kept data (None: nothing to keep)."""

    user_id: int
    states: dict[tuple[str, str], str | None]
    data: str | None
    data_changed: bool


def save_users(engine: Engine, saves: Sequence[UserSave], *, now: datetime) -> None:
    """Store several users' saves in one transaction, in order (a later save of the same state or data
    wins), with one notice per user: another process never sees a state without its draft, and a crowd of
    drivers costs one commit and a few statements, not a transaction each."""
    states: dict[tuple[str, str], str | None] = {}
    data: dict[int, str | None] = {}
    for save in saves:
        states.update(save.states)
        if save.data_changed:
            data[save.user_id] = save.data
    with session_scope(engine, write=True) as session:
        for user_id in dict.fromkeys(save.user_id for save in saves):
            notify(session, CONVERSATION, str(user_id))
        ended = [name_key for name_key, state in states.items() if state is None]
        for name, key in ended:
            session.exec(
                delete(ConversationState).where(
                    col(ConversationState.name) == name, col(ConversationState.key) == key
                )
            )
        _upsert(session, ConversationState, ("name", "key"), [
            {"name": name, "key": key, "state": state, "updated_at": now}
            for (name, key), state in states.items() if state is not None
        ])  # fmt: skip
        gone = [user_id for user_id, value in data.items() if value is None]
        if gone:
            session.exec(delete(ConversationData).where(col(ConversationData.telegram_user_id).in_(gone)))
        _upsert(session, ConversationData, ("telegram_user_id",), [
            {"telegram_user_id": user_id, "data_json": value, "updated_at": now}
            for user_id, value in data.items() if value is not None
        ])  # fmt: skip


def _upsert(session: Session, model: type, keys: tuple[str, ...], rows: list[dict[str, object]]) -> None:
    """INSERT the rows, or UPDATE the other columns of those whose primary key exists (one executemany)."""
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(model)
    updated = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updated), rows)
