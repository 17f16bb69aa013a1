"""The PostGIS baseline of bench/queries.py: the same closures in a table with a GiST index on geography,
the same queries through ``ST_DWithin``, timed one round trip at a time, and their answers.

A database of its own is created on the server of ``ROADBOT_TEST_POSTGRES_URL`` (with the postgis
extension) and dropped at the end, so the bench can share the test server. Statements are prepared and
rows are read in binary: PostGIS is given its best case, and the round trip over loopback is part of what
a query costs it, as it would be for the bot.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import psycopg
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, Point

URL_VARIABLE = "ROADBOT_TEST_POSTGRES_URL"
TOLERANCE = 0.005  # our metric projection and the spheroid agree within 0.5 % ...
SLACK_M = 0.05  # ... plus a few centimetres of rounding

_NEAR = (
    "SELECT id, ST_Distance(geog, q.g) AS d FROM bench_closures,"
    " (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography AS g) AS q"
    " WHERE ST_DWithin(geog, q.g, %s) ORDER BY d, id"
)
_ALONG = (
    "SELECT id, ST_Distance(geog, q.g) AS d FROM bench_closures,"
    " (SELECT ST_GeogFromWKB(%s) AS g) AS q WHERE ST_DWithin(geog, q.g, %s) ORDER BY d, id"
)

type Answer = list[tuple[int, float]]  # (closure id, metres), nearest first


@dataclass(frozen=True)
class Unavailable:
    reason: str


def server_url() -> str | Unavailable:
    """The server to compare with, or why there is none."""
    url = os.environ.get(URL_VARIABLE)
    return url if url else Unavailable(f"{URL_VARIABLE} is not set: no PostGIS to compare with")


class PostGIS:
    """A temporary database with the postgis extension; ``load`` replaces its closures."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.version = str(self._one("SELECT postgis_lib_version()"))

    def load(self, ids: Sequence[int], geoms: np.ndarray) -> None:
        """The closures, indexed as a PostGIS user would (GiST on geography), with fresh statistics."""
        with self.conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_closures")
            cur.execute("CREATE TABLE bench_closures (id bigint PRIMARY KEY, geog geography NOT NULL)")
            wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
            with cur.copy("COPY bench_closures (id, geog) FROM STDIN") as copy:
                for row in zip(ids, wkb.tolist(), strict=True):
                    copy.write_row(row)
            cur.execute("CREATE INDEX bench_closures_geog ON bench_closures USING gist (geog)")
            cur.execute("ANALYZE bench_closures")

    def near(self, point: Point, radius_m: float) -> Answer:
        return self._rows(_NEAR, (point.x, point.y, radius_m))

    def along(self, route: LineString, corridor_m: float) -> Answer:
        return self._rows(_ALONG, (shapely.to_wkb(route), corridor_m))

    def _rows(self, query: str, params: tuple[object, ...]) -> Answer:
        with self.conn.cursor(binary=True) as cur:
            cur.execute(query, params, prepare=True)
            return [(int(i), float(d)) for i, d in cur.fetchall()]

    def _one(self, query: str) -> object:
        with self.conn.cursor() as cur:
            row = cur.execute(query).fetchone()
        assert row is not None
        return row[0]


@contextmanager
def temporary_postgis(url: str) -> Iterator[PostGIS]:
    """A fresh database on the server at ``url`` with PostGIS in it; dropped afterwards."""
    admin_url = sa.make_url(url).set(drivername="postgresql")
    name = f"roadbot_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            own = admin_url.set(database=name).render_as_string(hide_password=False)
            with psycopg.connect(own, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                yield PostGIS(conn)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed[Q](call: Callable[[Q], Answer], queries: Sequence[Q]) -> tuple[list[float], list[Answer]]:
    """Microseconds per call, and the answers."""
    times, answers = [], []
    for query in queries:
        started = time.perf_counter_ns()
        answers.append(call(query))
        times.append((time.perf_counter_ns() - started) / 1_000.0)
    return times, answers


def disagreements(ours: Sequence[Answer], theirs: Sequence[Answer], within_m: float) -> int:
    """How many closures the two sides answer differently, beyond rounding.

    A closure one side finds and the other does not counts only when it is not at the edge (within the
    tolerance of ``within_m``); a closure both find counts when the distances differ beyond it.
    """
    edge = TOLERANCE * within_m + SLACK_M
    count = 0
    for mine, other in zip(ours, theirs, strict=True):
        a, b = dict(mine), dict(other)
        count += sum(1 for i in a.keys() ^ b.keys() if abs(a.get(i, b.get(i, 0.0)) - within_m) > edge)
        count += sum(1 for i in a.keys() & b.keys() if abs(a[i] - b[i]) > TOLERANCE * b[i] + SLACK_M)
    return count
