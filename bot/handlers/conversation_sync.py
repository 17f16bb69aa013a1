"""Conversations that stay right when their steps land on different processes behind a load balancer.

PTB's ``ConversationHandler`` reads persisted states only at start-up and checks each update against the
state in its own memory (python-telegram-bot issue #5225), and the Application writes persistence every
``update_interval``. So a staff member's ``/new`` whose second answer reaches another process would meet a
stale state there. Around every update, this module:

- before any handler checks it, puts the stored state of each persistent conversation for that user (and
  the draft kept in user data) in place of the in-memory one — when another process may have changed it.
  On PostgreSQL that is every update of staff and admins (the only people a conversation accepts: few
  updates, and no notice can race them), of anyone another process's ``conversation`` notice named
  (``closures.notices``; every stored conversation is read again after the listener reconnects), and of
  everyone while the listener is down. Drivers cost nothing. A single SQLite-backed process has nobody else
  to hear from and reads nothing;
- once the handlers are done, writes the state and the draft at once and together (one transaction, not at
  the next persistence tick; the Application's periodic writes are then off), so the next step finds them
  wherever it lands. The write follows the reply by a round trip to the store: a person answers later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

from telegram import Update
from telegram.ext import ConversationHandler, TypeHandler
from telegram.ext._utils.trackingdict import TrackingDict

from bot.context import BotApplication, BotContext
from bot.handlers.persistence import KEPT_KEYS, StorePersistence
from bot.services import Services
from closures import conversations
from closures.notices import RESYNC, Notice
from closures.store import CONVERSATION

log = logging.getLogger(__name__)
_SYNC = "conversation_sync"
# Around everything else: the drivers' last locations (-2, which look for a staff draft), flood control (-1)
# and every flow (0 and up). A group of its own: only one handler of a group takes an update.
BEFORE_GROUP, AFTER_GROUP = -3, 1_000
STAFF_TTL_S = 60.0


class ConversationSync:
    """One application's persistent conversations kept in step with the store, update by update."""

    def __init__(
        self, application: BotApplication, persistence: StorePersistence, services: Services
    ) -> None:
        self._application = application
        self._persistence = persistence
        self._services = services
        self._lock = threading.Lock()  # the stale set is filled from the listener's thread
        self._stale: set[int] = set()
        self._resync = False
        self._staff: tuple[float, frozenset[int]] | None = None  # (when read, monotonic s), staff user ids
        self.reads = 0  # how many updates read their user's conversations from the store (for tests)

    def heard(self, notice: Notice) -> None:
        """A notice subscriber (listener thread): another process changed this user's conversation."""
        if notice.topic == CONVERSATION and not notice.own and notice.detail.isdigit():
            with self._lock:
                self._stale.add(int(notice.detail))
        elif notice.topic == RESYNC:
            with self._lock:
                self._resync = True

    async def before(self, update: Update, context: BotContext) -> None:
        """Bring this user's conversations up to date from the store if another process may have moved them
        (before any handler checks the update)."""
        user = update.effective_user
        if user is None or update.effective_chat is None:
            return
        if self._take_resync():
            await self._reload_all()
        if not await self._must_read(user.id):
            return
        keys = dict(self._keys(update))
        if not keys:
            return
        by_name = {name: json.dumps(list(key)) for name, (_, key) in keys.items()}
        states, data_json = await asyncio.to_thread(
            conversations.of_user, self._services.engine, by_name, user.id
        )
        self.reads += 1
        for name, (handler, key) in keys.items():
            self._put_state(handler, name, key, states.get(name))
        self._put_data(user.id, data_json)

    async def after(self, update: Update, context: BotContext) -> None:
        """Write this user's conversation states and kept data now (a no-op when nothing changed)."""
        user = update.effective_user
        if user is None or update.effective_chat is None:
            return
        states: list[tuple[str, tuple[int | str, ...], object | None]] = []
        for name, (handler, key) in self._keys(update):
            state = handler._conversations.get(key)
            if state is None or isinstance(state, str | int):  # not a non-blocking step still running
                states.append((name, key, state))
        await self._persistence.save_user_now(user.id, states, self._application.user_data[user.id])

    # -- helpers -------------------------------------------------------------------------------------

    async def _must_read(self, user_id: int) -> bool:
        notices = self._services.notices
        if not notices.supported:
            return False  # SQLite: one process, its memory is the truth
        if user_id in await self._staff_ids():
            return True
        if not notices.listening:
            return True  # no notices now: anyone may have changed it
        with self._lock:
            if user_id in self._stale:
                self._stale.discard(user_id)
                return True
        return False

    async def _staff_ids(self) -> frozenset[int]:
        """Admins and active staff (read at most once per STAFF_TTL_S: someone just added is staff here
        within it; until then their conversation still follows the notices)."""
        now = time.monotonic()
        if self._staff is None or now - self._staff[0] >= STAFF_TTL_S:
            members = await asyncio.to_thread(self._services.staff.list)
            admins = self._services.settings.admin_user_ids
            self._staff = (now, frozenset(m.user_id for m in members) | frozenset(admins))
        return self._staff[1]

    def _take_resync(self) -> bool:
        with self._lock:
            resync, self._resync = self._resync, False
        return resync

    async def _reload_all(self) -> None:
        """After a reconnect: every stored conversation again (notices may have been missed meanwhile)."""
        handlers = list(self._persistent())
        for handler in handlers:
            stored = await self._persistence.get_conversations(str(handler.name))
            live = _live(handler)
            for key in [k for k in live.data if k not in stored]:
                del live.data[key]
            live.update_no_track(stored)
        stored_data = await self._persistence.get_user_data()
        for user_id in set(self._application.user_data) | set(stored_data):
            self._replace_kept(user_id, stored_data.get(user_id, {}))

    def _keys(self, update: Update) -> Iterator[tuple[str, tuple[ConversationHandler[Any], tuple[Any, ...]]]]:
        for handler in self._persistent():
            try:
                key = handler._get_key(update)
            except RuntimeError:  # an update this conversation cannot be keyed by (no chat, no user)
                continue
            yield str(handler.name), (handler, key)

    def _persistent(self) -> Iterator[ConversationHandler[Any]]:
        for group in self._application.handlers.values():
            for handler in group:
                if isinstance(handler, ConversationHandler) and handler.persistent:
                    yield handler

    def _put_state(
        self, handler: ConversationHandler[Any], name: str, key: tuple[Any, ...], state: str | None
    ) -> None:
        live = _live(handler)
        if state is None:
            live.data.pop(key, None)  # untracked: nothing to write back
        else:
            live.update_no_track({key: json.loads(state)})
        self._persistence.remember(name, key, state)

    def _put_data(self, user_id: int, data_json: str | None) -> None:
        self._replace_kept(user_id, json.loads(data_json) if data_json else {})
        self._persistence.remember_data(user_id, data_json)

    def _replace_kept(self, user_id: int, stored: dict[Any, Any]) -> None:
        data = self._application.user_data[user_id]
        for kept in KEPT_KEYS:
            if kept in stored:
                data[kept] = stored[kept]
            else:
                data.pop(kept, None)


def install(application: BotApplication, services: Services) -> ConversationSync | None:
    """Wrap every update in the sync (when the application persists to the store); returns it."""
    persistence = application.persistence
    if not isinstance(persistence, StorePersistence):
        return None
    sync = ConversationSync(application, persistence, services)
    persistence.written_per_update = True
    services.notices.subscribe(sync.heard)
    application.bot_data[_SYNC] = sync
    application.add_handler(TypeHandler(Update, sync.before), group=BEFORE_GROUP)
    application.add_handler(TypeHandler(Update, sync.after), group=AFTER_GROUP)
    return sync


def _live(handler: ConversationHandler[Any]) -> TrackingDict[tuple[int | str, ...], object]:
    """The handler's in-memory states: PTB keeps them in a TrackingDict it types as a mapping (no public way
    to refresh them exists: python-telegram-bot issue #5225)."""
    return cast("TrackingDict[tuple[int | str, ...], object]", handler._conversations)
