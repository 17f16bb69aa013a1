"""The databases benchmarks run on: a fresh SQLite file, or a throwaway database on the PostgreSQL server of
``ROADBOT_TEST_POSTGRES_URL`` (created for the run and dropped after it); and the sample municipalities.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from closures.formats.geojson import read_municipalities
from closures.models import Municipality
from closures.store import make_engine

PG_URL_VAR = "ROADBOT_TEST_POSTGRES_URL"
DATA = Path(__file__).resolve().parent.parent / "data"


class NoPostgres(Exception):
    """PostgreSQL was asked for and is not there: the variable is unset or its server does not answer."""


def postgres_server() -> str | None:
    """The server URL of ``ROADBOT_TEST_POSTGRES_URL``, or None when it is unset."""
    return os.environ.get(PG_URL_VAR) or None


@contextlib.contextmanager
def throwaway_postgres(server: str | None) -> Iterator[str]:
    """A fresh database on ``server`` for the body's run, dropped after it (NoPostgres without one)."""
    if not server:
        raise NoPostgres(f"no PostgreSQL: set {PG_URL_VAR}")
    name = f"roadbot_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise NoPostgres(f"no PostgreSQL at {PG_URL_VAR}'s server: {reason}") from exc
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def add_municipalities(session: Session) -> None:
    """The sample municipalities (``data/municipalities.geojson``: Riyadh, Jeddah, …) into the session."""
    for item in read_municipalities((DATA / "municipalities.geojson").read_text(encoding="utf-8")):
        session.add(Municipality(**{k: getattr(item, k) for k in item.__slots__}))


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` and ``--postgres``, as :func:`chosen` reads them."""
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in a temp dir")
    parser.add_argument(
        "--postgres", action="store_true", help=f"a throwaway database on {PG_URL_VAR}'s server"
    )


@contextlib.contextmanager
def chosen(database_url: str | None, postgres: bool, tmp: Path) -> Iterator[str]:
    """The URL a bench runs on: the one given (used as it is), a throwaway PostgreSQL database on
    PG_URL_VAR's server (``NoPostgres`` when there is none), or a fresh SQLite file in ``tmp``."""
    if database_url:
        yield database_url
    elif postgres:
        with throwaway_postgres(postgres_server()) as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'bench.sqlite'}"
