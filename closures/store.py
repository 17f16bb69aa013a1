"""Engine and sessions: a SQLite file by default, any SQLAlchemy URL (PostgreSQL in production).

This is the only module that knows about connection details. ``upgrade`` brings a database to the newest
schema through the alembic migrations, for a fresh file as for a long-lived server.

Writers move the store's change counter (``bump_change_counter``), which every process reads. Within one
process, ``local_writes(engine)`` also counts the commits that moved it through that engine, so a reader
in the same process can learn of them without reading the database.

On PostgreSQL a write also tells every other process, in its own transaction (``notify``: ``pg_notify`` is
delivered when the transaction commits, so never before its data is visible, and not at all when it rolls
back). A closure write notifies topic ``closures``; any session that inserts outbox rows notifies
``outbox``, whoever wrote the code that inserts them. ``closures.notices`` listens, and moves the same
``local_writes`` count when another process wrote, so every cache reading it learns of the write at once.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from closures.models import OutboxItem, StoreState

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///roadbot.sqlite"
_WRITE = WRITE_OPTION = (
    "roadbot_write"  # execution option: this transaction will write (SQLite locks up front)
)
_BUMPED = "roadbot_bumped_change_counter"
_NOTIFIED = "roadbot_notified"  # session.info: the payloads this transaction already sent
NOTICE_CHANNEL = "roadbot_changes"
CLOSURES, OUTBOX, PROFILE, CONVERSATION = "closures", "outbox", "profile", "conversation"  # notice topics
# While a listener hears every write at once, readers still read the counter this often: a safety net for
# a notice lost with a connection that died without saying so.
LISTENING_CHECK_S = 60.0


def make_engine(url: str = DEFAULT_URL, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout so processes can share it."""
    url_obj = sa.make_url(url)
    if url_obj.get_backend_name() == "sqlite":
        if url_obj.database and url_obj.database != ":memory:":
            Path(url_obj.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url_obj, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url_obj.get_backend_name() == "postgresql" and url_obj.get_driver_name() in ("", "psycopg2"):
        url_obj = url_obj.set(drivername="postgresql+psycopg")
    return sa.create_engine(url_obj, pool_pre_ping=True, **kwargs)


def _sqlite_begin(conn: sa.Connection) -> None:
    # A transaction that reads and then writes must hold the write lock from its start: in WAL mode a
    # deferred one that loses the race to upgrade fails at once instead of waiting. Readers stay deferred
    # so that they never queue behind writers.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # autocommit at the driver; SQLAlchemy's "begin" hook issues BEGIN
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (the newest by default)."""
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def rows_matched(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through ``Session.execute`` matched.

    The session types every result as a plain ``Result``; a DML statement's is a ``CursorResult``, which
    has the count.
    """
    return cast("sa.CursorResult[Any]", result).rowcount


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. ``write`` takes the write lock up front."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if write:
            session.connection(execution_options={_WRITE: True})
        yield session


def bump_change_counter(session: Session) -> None:
    """Move the counter in the caller's transaction; readers in any process see it when that commits.

    Readers in this process also see it at once through ``local_writes``, moved when the session commits.
    """
    session.execute(
        sa.update(StoreState)
        .where(col(StoreState.id) == 1)
        .values(change_counter=col(StoreState.change_counter) + 1)
    )
    session.info[_BUMPED] = True
    notify(session, CLOSURES)


def notify(session: Session, topic: str, detail: str = "") -> None:
    """Tell every process listening (``closures.notices``) of this write when the caller's transaction
    commits; on SQLite, which has no such channel, nothing (its readers poll).

    The payload is ``topic origin detail``; ``origin`` names the engine, so a listener knows its own
    process's writes. One payload is sent once per transaction (PostgreSQL would fold repeats anyway).
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        return
    payload = f"{topic} {local_writes(bind).origin} {detail}".rstrip()
    sent: set[str] = session.info.setdefault(_NOTIFIED, set())
    if payload not in sent:
        sent.add(payload)
        # On the connection, not the session: callers include flush hooks, where a session statement
        # would try to flush again.
        session.connection().execute(sa.select(sa.func.pg_notify(NOTICE_CHANNEL, payload)))


_OUTBOX_TABLE = str(OutboxItem.__tablename__)


@sa.event.listens_for(Session, "after_flush")
def _notify_new_outbox_rows(session: Session, _context: Any) -> None:
    if any(isinstance(row, OutboxItem) for row in session.new):
        notify(session, OUTBOX)


@sa.event.listens_for(Session, "do_orm_execute")
def _notify_outbox_inserts(state: Any) -> None:
    statement = state.statement
    # An ORM insert's table is an annotated copy of the model's: compare names, not identity.
    if state.is_insert and getattr(getattr(statement, "table", None), "name", None) == _OUTBOX_TABLE:
        notify(state.session, OUTBOX)


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_notified(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_NOTIFIED, None)


class LocalWrites:
    """How many transactions that moved the change counter this process has committed through one engine,
    or learnt of from another process (``closures.notices`` moves it then too).

    ``value`` is a plain attribute: reading it costs no I/O and no lock. ``listening`` is true while a
    listener hears every other process's writes at once: readers may then skip their polling of the store's
    counter. ``origin`` names this engine in the notices it sends.
    """

    __slots__ = ("__weakref__", "_lock", "listening", "origin", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0
        self.listening = False
        self.origin = uuid.uuid4().hex[:16]

    def bump(self) -> None:
        with self._lock:
            self.value += 1

    def check_interval_s(self, polling_s: float) -> float:
        """How long a reader may trust what it read of the store's counter: ``polling_s`` while no listener
        hears the other processes' writes, longer while one does."""
        return max(polling_s, LISTENING_CHECK_S) if self.listening else polling_s


_LOCAL_WRITES: weakref.WeakKeyDictionary[Engine, LocalWrites] = weakref.WeakKeyDictionary()
_LOCAL_WRITES_LOCK = threading.Lock()


def local_writes(engine: Engine) -> LocalWrites:
    """This process's count of committed counter moves through ``engine`` (one object per engine)."""
    writes = _LOCAL_WRITES.get(engine)
    if writes is None:
        with _LOCAL_WRITES_LOCK:
            writes = _LOCAL_WRITES.setdefault(engine, LocalWrites())
    return writes


@sa.event.listens_for(Session, "after_commit")  # the outermost commit only, never a savepoint's
def _count_local_write(session: Session) -> None:
    # A mark left by a rolled-back transaction is counted by the session's next commit, if any: one
    # needless rebuild for readers, never a missed write.
    if session.info.pop(_BUMPED, False):
        bind = session.get_bind()
        if isinstance(bind, Engine):
            local_writes(bind).bump()


# built once: read per query
_READ_COUNTER = sa.select(col(StoreState.change_counter)).where(col(StoreState.id) == 1)


def change_counter(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(_READ_COUNTER).scalar_one_or_none()
    return int(value or 0)
