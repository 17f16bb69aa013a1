"""The process's copy of the active subscriptions: read again exactly when a write to them moved the counter,
whoever wrote (the triggers of migration 0010), and never older than what was committed before a look."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from closures import subscribers
from closures.store import alembic_config, session_scope, upgrade

PLACE = json.dumps({"type": "Point", "coordinates": [46.6753, 24.7136]})


def _insert(engine: Engine, user_id: int, name: str = "Home") -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO subscription (telegram_user_id, name, kind, geometry_geojson, radius_m, "
                "language, active, created_at) "
                "VALUES (:u, :n, 'place', :g, 1000, 'ar', true, CURRENT_TIMESTAMP)"
            ),
            {"u": user_id, "n": name, "g": PLACE},
        )


def _active(engine: Engine) -> subscribers.Active:
    with session_scope(engine) as session:
        return subscribers.active(session)


def test_the_copy_is_kept_until_a_write_and_read_again_after_any_kind_of_write(engine: Engine) -> None:
    assert len(_active(engine)) == 0
    _insert(engine, 1)
    first = _active(engine)
    assert list(first.users) == [1]
    assert _active(engine) is first  # nothing written since: the same copy, nothing read or parsed
    writes = [
        "UPDATE subscription SET radius_m = 2000 WHERE telegram_user_id = 1",  # a hand-made fix too
        "UPDATE subscription SET active = false WHERE telegram_user_id = 1",
        "DELETE FROM subscription WHERE telegram_user_id = 1",
    ]
    _insert(engine, 2)
    seen = _active(engine)
    assert sorted(seen.users) == [1, 2]
    for statement in writes:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
        again = _active(engine)
        assert again is not seen, statement
        assert again.counter > seen.counter, statement
        seen = again
    assert list(seen.users) == [2]
    assert seen.radii.tolist() == [1000.0]
    assert seen.geoms[0].x == 46.6753


def test_a_write_through_another_engine_is_seen_by_the_next_look(
    engine: Engine, other_engine: Engine
) -> None:
    _insert(engine, 1)
    assert list(_active(engine).users) == [1]
    _insert(other_engine, 2, "Work")  # another process subscribes a driver
    assert sorted(_active(engine).users) == [1, 2]


def test_downgrade_to_0009_takes_the_counter_and_its_triggers_away(blank: Engine) -> None:
    upgrade(blank)
    config = alembic_config(blank)
    with blank.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    columns = {c["name"] for c in sa.inspect(blank).get_columns("storestate")}
    assert "subscription_counter" not in columns
    _insert(blank, 1)  # no trigger left to update a column that is gone
    upgrade(blank)
    with blank.connect() as conn:
        assert conn.execute(sa.text("SELECT subscription_counter FROM storestate")).scalar_one() == 0
    _insert(blank, 2)
    with blank.connect() as conn:
        assert conn.execute(sa.text("SELECT subscription_counter FROM storestate")).scalar_one() == 1
