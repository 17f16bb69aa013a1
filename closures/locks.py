"""Locks across processes: a job that must run in exactly one of the bot processes sharing a database.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) taken on a connection of its own and
held open for as long as the lock is held. The server drops the lock when that session ends: on
``release``, on a clean exit, and when the process dies without a word (SIGKILL, a crash, an OOM kill: the
kernel closes its socket), so the next ``try_acquire`` of another process takes it over. A holder whose
whole machine vanishes (power, network) leaves no socket to close; the lock's session sets the server's
TCP keepalives short, so the server gives up on it, and the lock, within about half a minute.

SQLite: one process per database file is the only deployment shape (see the README, "PostgreSQL"), so the
lock is trivially held: ``try_acquire`` always succeeds and nothing is written.

Every method may block on the database: call them from a worker thread, one at a time per lock.
"""

from __future__ import annotations

import contextlib
import threading
import zlib

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.engine import Connection, Engine

# The first of the two int4 keys of every lock of this project, so that other applications' advisory locks
# on the same database never collide with ours.
NAMESPACE = "road-closure-bot"
# The server's keepalives on the lock's session: first probe after 10 s idle, then every 5 s, 3 misses.
_KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


def lock_keys(name: str) -> tuple[int, int]:
    """The two signed 32-bit keys of the advisory lock called ``name``."""
    if not name:
        raise ValueError("a lock needs a name")
    return _int4(zlib.crc32(NAMESPACE.encode())), _int4(zlib.crc32(name.encode()))


def _int4(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


class ProcessLock:
    """The lock ``name`` on the database of ``engine``, held by at most one process at a time.

    >>> lock = ProcessLock(engine, "partner-feeds")   # doctest: +SKIP
    >>> lock.try_acquire()                             # doctest: +SKIP
    True
    """

    def __init__(self, engine: Engine, name: str) -> None:
        backend = engine.url.get_backend_name()
        if backend not in ("postgresql", "sqlite"):
            raise ValueError(f"process locks work on PostgreSQL and SQLite, not {backend}")
        self.engine = engine
        self.name = name
        self.keys = lock_keys(name)
        self._trivial = backend == "sqlite"
        self._conn: Connection | None = None
        self._held = False
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether this process holds the lock, as far as it last knew (``still_held`` asks the server)."""
        return self._held

    def try_acquire(self) -> bool:
        """Take the lock unless another process holds it; True when this process holds it now.

        Raises SQLAlchemy's errors when the database cannot be reached (nothing is held then).
        """
        with self._mutex:
            if self._held:
                return True
            if self._trivial:
                self._held = True
                return True
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                taken = bool(
                    conn.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"), self._params()).scalar()
                )
                if taken:
                    for setting, value in _KEEPALIVES.items():  # only where the server talks TCP
                        conn.execute(sa.text(f"SET {setting} = {value}"))
            except BaseException:
                conn.invalidate()  # a lock taken before the failure dies with the session
                conn.close()
                raise
            if not taken:
                conn.close()  # back to the pool: it holds nothing
                return False
            self._conn, self._held = conn, True
            return True

    def still_held(self) -> bool:
        """Ask the server whether the lock is still ours; False once its session is gone (a database
        restart, a broken connection, an administrator's ``pg_terminate_backend``), and then ``held`` is
        False too and ``try_acquire`` competes for it again."""
        with self._mutex:
            if self._trivial or not self._held:
                return self._held
            assert self._conn is not None
            a, b = (key & 0xFFFF_FFFF for key in self.keys)  # pg_locks shows the keys as unsigned oids
            try:
                ours = bool(
                    self._conn.execute(
                        sa.text(
                            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                            " AND pid = pg_backend_pid() AND classid = :a AND objid = :b AND objsubid = 2)"
                        ),
                        {"a": a, "b": b},
                    ).scalar()
                )
            except sqlalchemy.exc.DBAPIError:
                ours = False
            if not ours:
                self._drop()
            return ours

    def release(self) -> None:
        """Let the lock go (nothing happens when it is not held); another process may take it at once."""
        with self._mutex:
            if not self._held:
                return
            if self._conn is not None:
                with contextlib.suppress(sqlalchemy.exc.DBAPIError):  # the session is gone, and the lock too
                    self._conn.execute(sa.text("SELECT pg_advisory_unlock(:a, :b)"), self._params())
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            # Closed rather than pooled: the session's keepalive settings stay out of the pool.
            self._conn.invalidate()
            self._conn.close()
        self._conn, self._held = None, False

    def _params(self) -> dict[str, int]:
        return {"a": self.keys[0], "b": self.keys[1]}
