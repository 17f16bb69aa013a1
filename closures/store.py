"""Engine and sessions: a SQLite file by default, any SQLAlchemy URL (PostgreSQL in production).

This is the only module that knows about connection details. ``upgrade`` brings a database to the newest
schema through the alembic migrations, for a fresh file as for a long-lived server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session

from closures.models import StoreState

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///roadbot.sqlite"
_WRITE = "roadbot_write"


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


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. ``write`` takes the write lock up front."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if write:
            session.connection(execution_options={_WRITE: True})
        yield session


def bump_change_counter(session: Session) -> None:
    """Move the counter in the caller's transaction; readers in any process see it when that commits."""
    session.execute(
        sa.update(StoreState).where(StoreState.id == 1).values(change_counter=StoreState.change_counter + 1)
    )


_READ_COUNTER = sa.select(StoreState.change_counter).where(StoreState.id == 1)  # built once: read per query


def change_counter(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(_READ_COUNTER).scalar_one_or_none()
    return int(value or 0)
