"""Outbox workers that say they are alive, so that the rows of one that is gone are taken over at once.

Each running worker has a row (``outboxworker``) with its host, pid and a heartbeat. Another worker —
the next one to start, or any live one on its round — takes over the claimed rows of a worker that is
gone instead of waiting for their leases to run out:

- on PostgreSQL a live worker holds a session advisory lock keyed by its name on a connection of its own;
  the lock goes the moment its process dies, whatever the host (:class:`Liveness`);
- on the same host its pid must still run; anywhere, its heartbeat must be fresher than ``stale_after``.

A claimed row of a gone worker with no intent recorded was never sent (the intent is committed right
before each HTTP attempt, ``bot.publish.intent``): it goes back to pending, due now, and is sent again
automatically. A row with an intent may have been sent: it goes back to pending with its intent kept, so
the next claim settles it (X looks it up; a Telegram send in doubt is parked for an admin).

Blocking (database): the worker calls these from a worker thread.
"""

from __future__ import annotations

import os
import socket
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from closures.models import OutboxItem, OutboxStatus, OutboxWorkerRow
from closures.outbox import insert_ignore
from closures.store import rows_matched, session_scope

_LOCK_CLASS = 0x526F6164  # "Road": the first key of every worker's advisory lock
NEVER_SENT = "taken over from worker {name}, which stopped before sending it: sent again"
MAYBE_SENT = "taken over from worker {name}, which stopped during a send"


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Is a process with this pid running on this host?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def lock_key(name: str) -> int:
    """The second key of ``name``'s advisory lock (non-negative, so pg_locks shows it as it is)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


class Liveness:
    """A worker's proof of life: its row, and on PostgreSQL an advisory lock held on its own connection."""

    def __init__(self, engine: Engine, name: str, *, now: datetime) -> None:
        self.engine = engine
        self.name = name
        self._conn: Connection | None = None
        with session_scope(engine, write=True) as session:
            row = {
                "name": name,
                "host": this_host(),
                "pid": os.getpid(),
                "started_at": now,
                "heartbeat_at": now,
            }
            insert_ignore(session, OutboxWorkerRow, [row])
            session.execute(sa.update(OutboxWorkerRow).where(col(OutboxWorkerRow.name) == name).values(**row))
        if engine.dialect.name == "postgresql":
            self._conn = engine.connect()
            self._conn.execute(sa.select(sa.func.pg_advisory_lock(_LOCK_CLASS, lock_key(name))))
            self._conn.commit()

    def beat(self, *, now: datetime) -> None:
        with session_scope(self.engine, write=True) as session:
            session.execute(
                sa.update(OutboxWorkerRow)
                .where(col(OutboxWorkerRow.name) == self.name)
                .values(heartbeat_at=now)
            )

    def close(self) -> None:
        """A clean stop: the row goes, and the lock with its connection."""
        with session_scope(self.engine, write=True) as session:
            session.execute(sa.delete(OutboxWorkerRow).where(col(OutboxWorkerRow.name) == self.name))
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True, slots=True)
class Takeover:
    worker: str
    never_sent: int  # sent again automatically
    maybe_sent: int  # to be settled by the next claim


def gone_workers(engine: Engine, *, me: str, now: datetime, stale_after: timedelta) -> list[str]:
    """The workers other than ``me`` that are no longer running (see the module docstring)."""
    host = this_host()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                col(OutboxWorkerRow.name),
                col(OutboxWorkerRow.host),
                col(OutboxWorkerRow.pid),
                col(OutboxWorkerRow.heartbeat_at),
            )
        ).all()
        locked: set[int] | None = None
        if engine.dialect.name == "postgresql":
            locked = set(
                conn.execute(
                    sa.text(
                        "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                        "AND classid = :cls AND objsubid = 2 AND granted "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"cls": _LOCK_CLASS},
                ).scalars()
            )
    gone = []
    for name, worker_host, pid, heartbeat_at in rows:
        if name == me:
            continue
        if (
            heartbeat_at < now - stale_after
            or (locked is not None and lock_key(name) not in locked)
            or (worker_host == host and not pid_alive(pid))
        ):
            gone.append(name)
    return gone


def take_over(engine: Engine, worker: str, *, now: datetime) -> Takeover:
    """Put the claimed rows of a gone ``worker`` back to pending (see the module docstring)."""
    mine = sa.and_(
        col(OutboxItem.status) == OutboxStatus.CLAIMED.value,
        col(OutboxItem.claim_token).startswith(f"{worker}:", autoescape=True),
    )
    released = {
        "status": OutboxStatus.PENDING.value, "claim_token": None, "lease_until": None, "due_at": now,
        "updated_at": now,
    }  # fmt: skip
    with session_scope(engine, write=True) as session:
        never = rows_matched(
            session.execute(
                sa.update(OutboxItem)
                .where(mine, col(OutboxItem.intent_at).is_(None))
                .values(
                    **released,
                    last_error=NEVER_SENT.format(name=worker),
                    attempts=sa.case(
                        (col(OutboxItem.attempts) > 0, col(OutboxItem.attempts) - 1), else_=0
                    ),  # not tried: give its attempt back
                )
            )
        )
        maybe = rows_matched(
            session.execute(
                sa.update(OutboxItem)
                .where(mine, col(OutboxItem.intent_at).is_not(None))
                .values(**released, last_error=MAYBE_SENT.format(name=worker))
            )
        )
        session.execute(sa.delete(OutboxWorkerRow).where(col(OutboxWorkerRow.name) == worker))
    return Takeover(worker, int(never), int(maybe))
