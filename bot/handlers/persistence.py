"""PTB persistence in the store: conversation states and the part of user data that must outlive a restart.

Only conversations and the user-data keys named in ``KEPT_KEYS`` (the drafts of a half-finished ``/new`` and
``/emergency``, and a driver's last point, which the next point's answer offers as the start of a route) are
kept, as JSON; everything else a handler keeps in memory (a live trip, the last query's page) is not. The
Application writes what changed every ``update_interval`` seconds and when it shuts down; a row is written
only when its JSON changed, so idle users cost nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from bot.handlers.common import LAST_POINT_KEY
from bot.handlers.staff import emergency_draft
from bot.handlers.staff.flow import DRAFT_KEY
from bot.publish.batching import Coalesced
from closures import conversations
from closures.lifecycle import Clock, system_clock

KEPT_KEYS = (DRAFT_KEY, emergency_draft.KEY, LAST_POINT_KEY)

type UserData = dict[Any, Any]


class StorePersistence(BasePersistence[UserData, UserData, UserData]):
    def __init__(self, engine: Engine, *, update_interval: float = 5.0, clock: Clock = system_clock) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
            update_interval=update_interval,
        )
        self._engine = engine
        self._clock = clock
        self._written: dict[tuple[str, str], str] = {}  # (table, key) → JSON last read or written
        # Set by ``conversation_sync``, which writes each user's states and data at the end of their update,
        # together: the Application's own periodic writes would then only split them in two transactions.
        self.written_per_update = False
        # Users' saves asked for while one transaction runs go together in the next (a crowd of drivers
        # sharing locations would otherwise queue one commit each on SQLite's single writer).
        self._saves: Coalesced[conversations.UserSave, None] = Coalesced(self._write_saves, asyncio.to_thread)

    # -- loading -----------------------------------------------------------------------------------

    async def get_user_data(self) -> dict[int, UserData]:
        rows = await asyncio.to_thread(conversations.user_data, self._engine)
        out: dict[int, UserData] = {}
        for user_id, data_json in rows.items():
            self._written[("data", str(user_id))] = data_json
            out[user_id] = json.loads(data_json)
        return out

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await asyncio.to_thread(conversations.states, self._engine, name)
        out: ConversationDict = {}
        for key, state in rows.items():
            self._written[(name, key)] = state
            out[tuple(json.loads(key))] = json.loads(state)
        return out

    async def get_chat_data(self) -> dict[int, UserData]:
        return {}

    async def get_bot_data(self) -> UserData:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    # -- saving ------------------------------------------------------------------------------------

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        if self.written_per_update:
            return
        key_json = json.dumps(list(key))
        state = None if new_state is None else json.dumps(new_state)
        if self._written.get((name, key_json)) == state:
            return
        await asyncio.to_thread(
            conversations.save_state,
            self._engine,
            name,
            key_json,
            state,
            now=self._clock(),
            user_id=_user_of(key),
        )
        self._remember((name, key_json), state)

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        if self.written_per_update:
            return
        value = _kept_json(data)
        if self._written.get(("data", str(user_id))) == value:
            return
        await asyncio.to_thread(conversations.save_user_data, self._engine, user_id, value, now=self._clock())
        self._remember(("data", str(user_id)), value)

    async def drop_user_data(self, user_id: int) -> None:
        await asyncio.to_thread(conversations.save_user_data, self._engine, user_id, None, now=self._clock())
        self._written.pop(("data", str(user_id)), None)

    async def update_chat_data(self, chat_id: int, data: UserData) -> None:
        return None

    async def update_bot_data(self, data: UserData) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: UserData) -> None:
        return None

    async def refresh_bot_data(self, bot_data: UserData) -> None:
        return None

    async def flush(self) -> None:
        return None  # every update is written when it is made

    async def save_user_now(
        self, user_id: int, states: Sequence[tuple[str, ConversationKey, object | None]], data: UserData
    ) -> None:
        """Write what changed of one user's conversations and kept data, together (one transaction)."""
        changed: dict[tuple[str, str], str | None] = {}
        for name, key, state in states:
            key_json, value = json.dumps(list(key)), None if state is None else json.dumps(state)
            if self._written.get((name, key_json)) != value:
                changed[(name, key_json)] = value
        kept = _kept_json(data)
        data_changed = self._written.get(("data", str(user_id))) != kept
        if not changed and not data_changed:
            return
        # Remembered before the write lands: a second save of this user queued meanwhile compares with what
        # the first will have written, not with what the store held before it.
        for written, value in changed.items():
            self._remember(written, value)
        self._remember(("data", str(user_id)), kept)
        try:
            await self._saves(conversations.UserSave(user_id, changed, kept, data_changed))
        except Exception:
            for written in [*changed, ("data", str(user_id))]:
                self._written.pop(written, None)  # unknown now: the next save writes it again
            raise

    def _write_saves(self, saves: Sequence[conversations.UserSave]) -> None:
        conversations.save_users(self._engine, saves, now=self._clock())

    # -- read elsewhere -------------------------------------------------------------------------------

    def remember(self, name: str, key: ConversationKey, state: str | None) -> None:
        """A conversation state just read from the store (``conversation_sync``): writing it back is a
        no-op."""
        self._remember((name, json.dumps(list(key))), state)

    def remember_data(self, user_id: int, data_json: str | None) -> None:
        """A user's kept data just read from the store, likewise."""
        self._remember(("data", str(user_id)), data_json)

    # -- helpers ------------------------------------------------------------------------------------

    def _remember(self, key: tuple[str, str], value: str | None) -> None:
        if value is None:
            self._written.pop(key, None)
        else:
            self._written[key] = value


def _user_of(key: ConversationKey) -> int | None:
    """Whose conversation a key is: its last part (the user, or the chat of a private chat)."""
    return key[-1] if key and isinstance(key[-1], int) else None


def _kept_json(data: UserData) -> str | None:
    kept = {key: data[key] for key in KEPT_KEYS if data.get(key) is not None}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True) if kept else None
