"""Engine and sessions: a SQLite file by default, any SQLAlchemy URL (PostgreSQL in production).

This is the only module that knows about connection details. ``upgrade`` brings a database to the newest
schema through the alembic migrations, for a fresh file as for a long-lived server.

Writers move the store's change counter (``bump_change_counter``), which every process reads. Within one
process, ``local_writes(engine)`` also counts the commits that moved it through that engine, so a reader
in the same process can learn of them without reading the database.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session

from closures.models import StoreState

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///roadbot.sqlite"
_WRITE = "roadbot_write"
_BUMPED = "roadbot_bumped_change_counter"


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


def pending_revisions(engine: Engine) -> list[str]:
    """The migrations ``upgrade`` would apply, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    current = current_revision(engine)
    steps = [rev.revision for rev in script.iterate_revisions("heads", current)]
    return list(reversed(steps))


def missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names when it does not exist yet (None for any other URL, or an existing file).

    Connecting would create it, empty: a mistyped path would look like a database with nothing in it.
    """
    url_obj = sa.make_url(url)
    if url_obj.get_backend_name() != "sqlite" or not url_obj.database or url_obj.database == ":memory:":
        return None
    path = Path(url_obj.database)
    return None if path.exists() else path.resolve()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


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
        sa.update(StoreState).where(StoreState.id == 1).values(change_counter=StoreState.change_counter + 1)
    )
    session.info[_BUMPED] = True


class LocalWrites:
    """How many transactions that moved the change counter this process has committed through one engine.

    ``value`` is a plain attribute: reading it costs no I/O and no lock.
    """

    __slots__ = ("__weakref__", "_lock", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


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


_READ_COUNTER = sa.select(StoreState.change_counter).where(StoreState.id == 1)  # built once: read per query


def change_counter(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(_READ_COUNTER).scalar_one_or_none()
    return int(value or 0)
