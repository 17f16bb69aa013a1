"""Hearing at once what other processes wrote: one PostgreSQL ``LISTEN`` connection per process.

Writers send a notice inside their transaction (``closures.store.notify``); PostgreSQL delivers it when that
transaction commits. A ``NoticeListener`` holds one autocommit psycopg connection listening on the channel,
in a thread of its own, and for every notice from another process:

- moves the engine's ``local_writes`` count on a ``closures`` notice, so every cache that reads it (the
  spatial index, the feeds, the map) rebuilds on its next use instead of at its next poll;
- tells its subscribers (the bot's outbox worker wakes; a driver's cached profile or a staff member's
  conversation is read again), in the listener's thread: a subscriber that must reach an event loop hands
  the call over itself (``loop.call_soon_threadsafe``).

While it listens it sets ``local_writes(engine).listening``, which lets those caches trust the count
instead of polling the store's counter. When the connection fails it clears that first (polling takes
over at once), then reconnects with exponential backoff; once listening again it moves the count and
tells its subscribers ``resync``, since notices sent while it was away are lost. A connection that died
without a word is found by a ``SELECT 1`` every ``keepalive_s``, and by TCP keepalives.

SQLite has no such channel: there, ``start`` does nothing and the readers poll as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from closures.store import CLOSURES, NOTICE_CHANNEL, local_writes

log = logging.getLogger(__name__)
RESYNC = "resync"  # the topic a listener tells its subscribers after (re)connecting


@dataclass(frozen=True, slots=True)
class Notice:
    """One write another process (or this one, ``own``) committed: its topic and detail (e.g. a user id)."""

    topic: str
    detail: str = ""
    own: bool = False


type Subscriber = Callable[[Notice], None]


def parse(payload: str, origin: str) -> Notice:
    """A notice from its payload (``topic origin detail``), ``own`` when ``origin`` sent it."""
    topic, _, rest = payload.partition(" ")
    sender, _, detail = rest.partition(" ")
    return Notice(topic, detail, own=sender == origin)


def conninfo(engine: Engine) -> str:
    """The libpq connection string for ``engine``'s database (a psycopg URL, without SQLAlchemy's driver)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class NoticeListener:
    """One process's listener for one engine. ``start`` it once; ``stop`` joins its thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        backoff_s: tuple[float, float] = (0.25, 30.0),
        keepalive_s: float = 30.0,
        poll_s: float = 0.25,
    ) -> None:
        self._engine = engine
        self._writes = local_writes(engine)
        self._backoff_s = backoff_s
        self._keepalive_s = keepalive_s
        self._poll_s = poll_s  # how soon ``stop`` is noticed while waiting for notices
        self._subscribers: tuple[Subscriber, ...] = ()  # replaced whole: the thread never sees it change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0  # how many times it started listening (tests wait on reconnects)
        self.changed = threading.Condition()  # notified on every connect, disconnect and notice

    @property
    def supported(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    @property
    def listening(self) -> bool:
        return self._writes.listening

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Tell ``subscriber`` of every notice from now on; the function returned stops that."""
        self._subscribers = (*self._subscribers, subscriber)

        def remove() -> None:
            self._subscribers = tuple(known for known in self._subscribers if known is not subscriber)

        return remove

    def start(self) -> None:
        """Listen in a background thread (on PostgreSQL; nothing elsewhere). Idempotent."""
        if not self.supported or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="store-notices", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self._writes.listening = False

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds (checked at each change of this listener), or ``timeout``."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    # -- the thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        import psycopg  # the "postgres" extra: only a PostgreSQL deployment has it

        delay = self._backoff_s[0]
        while not self._stop.is_set():
            try:
                self._listen()
                delay = self._backoff_s[0]
            except (psycopg.Error, OSError) as exc:
                self._lost(f"{type(exc).__name__}: {exc}".strip())
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self._backoff_s[1])

    def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        info = conninfo(self._engine)
        with psycopg.connect(
            info, autocommit=True, connect_timeout=5, keepalives=1, keepalives_idle=10, keepalives_interval=5
        ) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTICE_CHANNEL)))
            self._writes.listening = True
            self.connections += 1
            self._writes.bump()  # what was written while nobody listened: every cache checks the counter
            self._tell(Notice(RESYNC))
            log.info("listening for other processes' writes (connection %d)", self.connections)
            quiet_s = 0.0
            while not self._stop.is_set():
                heard = False
                for note in conn.notifies(timeout=self._poll_s):
                    heard = True
                    self._heard(parse(note.payload, self._writes.origin))
                quiet_s = 0.0 if heard else quiet_s + self._poll_s
                if quiet_s >= self._keepalive_s:  # a dead connection yields nothing, like a quiet one
                    conn.execute("SELECT 1")
                    quiet_s = 0.0
        self._writes.listening = False

    def _heard(self, notice: Notice) -> None:
        if notice.topic == CLOSURES and not notice.own:
            self._writes.bump()
        self._tell(notice)

    def _tell(self, notice: Notice) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(notice)
            except Exception:  # one subscriber's failure must not deafen the others
                log.exception("notice subscriber %r failed on %s", subscriber, notice)
        with self.changed:
            self.changed.notify_all()

    def _lost(self, reason: str) -> None:
        was = self._writes.listening
        self._writes.listening = False  # first: readers poll again from now on
        if was:
            log.warning("stopped hearing other processes' writes (%s); polling until reconnected", reason)
        else:
            log.debug("cannot listen for other processes' writes yet: %s", reason)
        with self.changed:
            self.changed.notify_all()
