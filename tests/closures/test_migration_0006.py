"""Migration 0006 (CAP messages): a partner's message is recorded once per municipality, found by its sender
and identifier, and going back to 0005 takes only that table away."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from closures.columns import UTCDateTime
from closures.store import alembic_config, current_revision, upgrade

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SQUARE = '{"type":"Polygon","coordinates":[[[46.6,24.6],[46.8,24.6],[46.8,24.8],[46.6,24.8],[46.6,24.6]]]}'


def _message(conn: sa.Connection, muni: int, identifier: str = "NCM-1") -> None:
    statement = sa.text(
        "INSERT INTO capmessage (sender, identifier, sent, thread, msg_type, status, municipality_id, "
        "outcome, source, received_at) VALUES ('alerts@ncm.example.sa', :identifier, :t, 'x', 'Alert', "
        "'Actual', :muni, 'drafted', 'cap:ncm.example.sa', :t)"
    ).bindparams(sa.bindparam("t", type_=UTCDateTime))
    conn.execute(statement, {"identifier": identifier, "t": T0, "muni": muni})


def _municipality(conn: sa.Connection, slug: str) -> int:
    statement = sa.text(
        "INSERT INTO municipality (slug, name_ar, name_en, boundary_geojson, timezone, default_radius_m, "
        "created_at) VALUES (:slug, 'م', 'M', :square, 'Asia/Riyadh', 5000, :t) RETURNING id"
    ).bindparams(sa.bindparam("t", type_=UTCDateTime))
    return int(conn.execute(statement, {"slug": slug, "square": SQUARE, "t": T0}).scalar_one())


def test_a_message_is_recorded_once_per_municipality(blank: Engine):
    upgrade(blank, "0006")
    assert current_revision(blank) == "0006"
    with blank.begin() as conn:
        riyadh, jeddah = _municipality(conn, "riyadh"), _municipality(conn, "jeddah")
        _message(conn, riyadh)
        _message(conn, jeddah)  # the same alert, over a second municipality: a row of its own
    with pytest.raises(sa.exc.IntegrityError), blank.begin() as conn:
        _message(conn, riyadh)
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(blank).get_indexes("capmessage")}
    assert indexes["ix_capmessage_key"] == ["sender", "identifier"]


def test_downgrade_to_0005_drops_only_the_cap_messages(blank: Engine):
    upgrade(blank, "0006")
    with blank.begin() as conn:
        _message(conn, _municipality(conn, "riyadh"))
    config = alembic_config(blank)
    with blank.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    tables = set(sa.inspect(blank).get_table_names())
    assert "capmessage" not in tables
    assert {"emergency", "municipality"} <= tables
    with blank.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM municipality")).scalar_one() == 1
    upgrade(blank)  # and forward again
    assert "capmessage" in sa.inspect(blank).get_table_names()
