"""Keys used once (a Mini App's initData): the first claim wins in any process, later ones are refused,
expired keys are swept; and migration 0008 builds and removes their table on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import select

from closures import used_keys
from closures.models import UsedKey
from closures.store import alembic_config, current_revision, make_engine, session_scope, upgrade

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


def claim(engine: Engine, key: str, *, now: datetime = NOW, expires_at: datetime = LATER) -> bool:
    return used_keys.claim(engine, key, purpose="test", user_id=7001, now=now, expires_at=expires_at)


def test_a_key_is_claimed_once_and_refused_after(engine):
    assert claim(engine, "a" * 64) is True
    assert claim(engine, "a" * 64) is False
    assert claim(engine, "b" * 64) is True  # another key is another matter
    assert used_keys.is_used(engine, "a" * 64)
    with session_scope(engine) as session:
        row = session.get(UsedKey, "a" * 64)
    assert row is not None
    assert (row.purpose, row.telegram_user_id, row.used_at, row.expires_at) == ("test", 7001, NOW, LATER)


def test_of_many_claims_at_once_from_two_engines_exactly_one_wins(engine):
    other = make_engine(engine.url.render_as_string(hide_password=False))  # as a second process would
    results: list[bool] = []
    start = threading.Barrier(8)

    def race(which: Engine) -> None:
        start.wait()
        results.append(claim(which, "c" * 64))

    threads = [threading.Thread(target=race, args=(engine if i % 2 else other,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    other.dispose()

    assert sorted(results) == [False] * 7 + [True]


def test_claiming_sweeps_expired_keys_and_keeps_live_ones(engine):
    claim(engine, "old", expires_at=NOW + timedelta(minutes=1))
    claim(engine, "live", expires_at=NOW + timedelta(hours=2))

    claim(engine, "new", now=NOW + timedelta(hours=1))

    with session_scope(engine) as session:
        keys = sorted(row.key for row in session.exec(select(UsedKey)))
    assert keys == ["live", "new"]


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_a_key_must_be_one_to_128_characters(engine, key):
    with pytest.raises(ValueError, match="1 to 128"):
        claim(engine, key)


def test_migration_0008_adds_the_table_and_its_downgrade_removes_it(blank):
    config = alembic_config(blank)
    upgrade(blank, "0007")
    assert "usedkey" not in sa.inspect(blank).get_table_names()

    upgrade(blank, "0008")
    assert "usedkey" in sa.inspect(blank).get_table_names()
    assert claim(blank, "d" * 64) is True
    assert claim(blank, "d" * 64) is False
    indexes = {ix["name"] for ix in sa.inspect(blank).get_indexes("usedkey")}
    assert "ix_usedkey_expires_at" in indexes

    with blank.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
    assert "usedkey" not in sa.inspect(blank).get_table_names()
    assert current_revision(blank) == "0007"
