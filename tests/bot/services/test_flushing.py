"""Drivers' locations are written by the bot's flush task; stopping the bot writes what was still waiting."""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa

from bot.services import flushing
from closures.emergency_models import DriverLocation
from closures.store import session_scope


def _stored(services) -> set[int]:
    with session_scope(services.engine) as session:
        return set(session.scalars(sa.select(DriverLocation.telegram_user_id)))


async def test_stopping_writes_the_locations_still_waiting(sample_services, clock):
    application = SimpleNamespace(bot_data={"services": sample_services})  # what start and stop read
    await flushing.start(application)
    sample_services.locations.note(7, 46.7, 24.7, at=clock.now, language="ar")

    await flushing.stop(application)

    assert _stored(sample_services) == {7}
    assert sample_services.locations.pending() == 0
