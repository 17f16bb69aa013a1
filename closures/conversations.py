"""Where the bot's conversations stand, and the user data kept with them, so that they survive a restart.

Values are JSON text chosen by the caller (the bot's persistence); this module only stores them. Writing
None deletes the row. Blocking (database): the bot calls it from a worker thread.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, delete, select

from closures.models import ConversationData, ConversationState
from closures.store import session_scope


def states(engine: Engine, name: str) -> dict[str, str]:
    """Every stored state of the conversation ``name``: key (JSON) → state (JSON)."""
    with session_scope(engine) as session:
        rows = session.exec(select(ConversationState).where(col(ConversationState.name) == name))
        return {row.key: row.state for row in rows}


def user_data(engine: Engine) -> dict[int, str]:
    """Every user's kept data: Telegram user id → JSON."""
    with session_scope(engine) as session:
        return {row.telegram_user_id: row.data_json for row in session.exec(select(ConversationData))}


def save_state(engine: Engine, name: str, key: str, state: str | None, *, now: datetime) -> None:
    """Store where conversation ``name`` stands for ``key``; None: it ended (the row goes)."""
    with session_scope(engine, write=True) as session:
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
        if value is None:
            session.exec(delete(ConversationData).where(col(ConversationData.telegram_user_id) == user_id))
            return
        row = session.get(ConversationData, user_id) or ConversationData(
            telegram_user_id=user_id, data_json=value
        )
        row.data_json, row.updated_at = value, now
        session.add(row)
