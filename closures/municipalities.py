"""Municipalities: every read of them, and adding or updating one by its slug.

A change to closures or staff reads its municipality inside its own transaction (``by_key``); everything
else reads through the engine here, so no edge needs a session of its own.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from closures.errors import NotFound
from closures.formats.geojson import ImportedMunicipality
from closures.models import Municipality
from closures.store import session_scope

type Box = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat
SAVED_COLUMNS = ("name_ar", "name_en", "boundary_geojson", "timezone", "default_radius_m", "epsg", "language")


def by_key(session: Session, key: str | int) -> Municipality:
    """The municipality with this id (an int) or slug (a str), in the caller's transaction; NotFound."""
    column = col(Municipality.id) if isinstance(key, int) else col(Municipality.slug)
    muni = session.exec(select(Municipality).where(column == key)).first()
    if muni is None:
        raise NotFound("municipality", key)
    return muni


def find(engine: Engine, slug: str) -> Municipality | None:
    """The municipality with this slug, or None."""
    with session_scope(engine) as session:
        return session.exec(select(Municipality).where(col(Municipality.slug) == slug)).first()


def every(engine: Engine, *, order: Literal["slug", "id"] = "slug") -> list[Municipality]:
    """Every municipality, by slug (as people list them) or by id (in the order they were added)."""
    column = col(Municipality.slug) if order == "slug" else col(Municipality.id)
    with session_scope(engine) as session:
        return list(session.exec(select(Municipality).order_by(column)))


def zones(engine: Engine) -> dict[int, ZoneInfo]:
    """Each municipality's time zone, by id."""
    with session_scope(engine) as session:
        rows = session.exec(select(Municipality.id, Municipality.timezone)).all()
    return {mid: ZoneInfo(zone) for mid, zone in rows if mid is not None}


def boxes(engine: Engine) -> dict[int, Box]:
    """Each municipality's boundary box, by id."""
    with session_scope(engine) as session:
        rows = session.exec(select(Municipality.id, Municipality.boundary_geojson)).all()
    return {mid: shapely.from_geojson(boundary).bounds for mid, boundary in rows if mid is not None}


def save(engine: Engine, item: ImportedMunicipality) -> Literal["added", "updated"]:
    """Add the municipality, or update the one with its slug; which of the two it was."""
    with session_scope(engine, write=True) as session:
        muni = session.exec(select(Municipality).where(col(Municipality.slug) == item.slug)).first()
        outcome: Literal["added", "updated"] = "updated" if muni else "added"
        muni = muni or Municipality(slug=item.slug, name_ar="", name_en="", boundary_geojson="")
        for name in SAVED_COLUMNS:
            setattr(muni, name, getattr(item, name))
        session.add(muni)
    return outcome
