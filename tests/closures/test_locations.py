"""Drivers' last locations: noted at no cost, written in ONE statement per flush, never replaced by an
older one (whichever process flushes first), purged after the window, erased by /forget."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from closures.drivers import DriverDirectory
from closures.emergency_models import DriverLocation
from closures.locations import LocationLog, located_near
from closures.store import make_engine, session_scope
from tests.closures.conftest import offset
from tests.closures.emergency_support import CENTRE, square

HOUR = timedelta(hours=1)


def _stored(engine) -> dict[int, tuple[float, float, str]]:
    with session_scope(engine) as session:
        rows = session.scalars(sa.select(DriverLocation))
        return {r.telegram_user_id: (round(r.lon, 6), round(r.lat, 6), r.language) for r in rows}


@pytest.fixture
def statements(engine):
    """Every statement sent to the database, with whether it went as one executemany."""
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split()[0].upper(), executemany))

    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def test_a_flush_writes_each_drivers_newest_location_in_one_statement(engine, clock, statements):
    log = LocationLog(engine)
    for user in range(1, 201):
        for step in range(3):  # a live location moving: three updates before the flush
            log.note(user, 46.7 + step / 1000, 24.7, at=clock.now + timedelta(seconds=step), language="ar")
    assert log.pending() == 200
    assert statements == []  # noting costs no I/O

    assert log.flush() == 200

    inserts = [(verb, many) for verb, many in statements if verb == "INSERT"]
    assert inserts == [("INSERT", True)]
    stored = _stored(engine)
    assert len(stored) == 200
    assert {lon for lon, _, _ in stored.values()} == {46.702}
    assert log.pending() == 0
    assert log.flush() == 0


def test_an_older_location_never_replaces_a_newer_one_whoever_flushes_first(engine, other_engine, clock):
    first, second = LocationLog(engine), LocationLog(other_engine)  # two bot processes
    second.note(7, 46.8, 24.8, at=clock.now + timedelta(seconds=5), language="en")
    first.note(7, 46.7, 24.7, at=clock.now, language="ar")

    second.flush()
    first.flush()  # older: ignored

    assert _stored(engine) == {7: (46.8, 24.8, "en")}
    first.note(7, 46.9, 24.9, at=clock.now + timedelta(seconds=9), language="ar")
    first.note(7, 46.1, 24.1, at=clock.now + timedelta(seconds=8), language="ar")  # late and older
    first.flush()
    assert _stored(engine) == {7: (46.9, 24.9, "ar")}


def test_a_failed_flush_keeps_its_locations_for_the_next(tmp_path, clock):
    broken = make_engine(f"sqlite:///{tmp_path / 'unmigrated.sqlite'}")  # no tables: every write fails
    log = LocationLog(broken)
    log.note(1, 46.7, 24.7, at=clock.now, language="ar")
    with pytest.raises(sa.exc.OperationalError):
        log.flush()
    assert log.pending() == 1
    broken.dispose()


def test_old_locations_are_purged_but_live_ones_kept(engine, clock):
    log = LocationLog(engine)
    log.note(1, 46.7, 24.7, at=clock.now - 3 * HOUR, language="ar")  # old
    log.note(2, 46.7, 24.7, at=clock.now - 3 * HOUR, language="ar", live_until=clock.now + HOUR)  # still live
    log.note(3, 46.7, 24.7, at=clock.now - HOUR, language="ar")  # recent
    log.flush()

    assert log.purge(now=clock.now, keep=2 * HOUR) == 1
    assert set(_stored(engine)) == {2, 3}


def test_forget_erases_the_location_written_or_not(engine, clock):
    log = LocationLog(engine)
    directory = DriverDirectory(engine, clock=clock, locations=log)
    log.note(5, 46.7, 24.7, at=clock.now, language="ar")
    log.flush()
    log.note(5, 46.71, 24.71, at=clock.now + timedelta(seconds=1), language="ar")  # not written yet

    forgotten = directory.forget(5)
    log.flush()

    assert forgotten.location == 1
    assert _stored(engine) == {}


def test_drivers_recent_or_live_inside_the_area_or_within_the_margin_are_found(engine, clock):
    area = square(CENTRE, 1000)
    log = LocationLog(engine)
    places = {
        1: (CENTRE, clock.now - timedelta(minutes=30), None),  # inside, recent
        2: (offset(CENTRE, 90, 1900), clock.now - timedelta(minutes=5), None),  # 900 m east of the edge
        3: (offset(CENTRE, 90, 2200), clock.now, None),  # 1,200 m east: beyond the margin
        4: (CENTRE, clock.now - 3 * HOUR, None),  # inside, but three hours ago
        5: (CENTRE, clock.now - 3 * HOUR, clock.now + HOUR),  # three hours ago, still sharing live
    }
    for user, (point, at, live_until) in places.items():
        log.note(user, *point, at=at, language="en", live_until=live_until)
    log.flush()

    with session_scope(engine) as session:
        found = located_near(session, area, now=clock.now, recent=2 * HOUR, margin_m=1000)

    assert [f.user_id for f in found] == [1, 5, 2]
    assert found[2].distance_m == pytest.approx(900, abs=25)
