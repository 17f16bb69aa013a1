"""Municipality reads and saves (``closures.municipalities``) and the command line's listing of closures,
on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import shapely

from closures import municipalities as munis
from closures.errors import NotFound
from closures.formats.geojson import ImportedMunicipality, read_municipalities
from closures.listing import ClosureListing
from closures.service import Actor
from closures.store import session_scope
from tests.conftest import DATA


def _sample() -> dict[str, ImportedMunicipality]:
    text = (DATA / "municipalities.geojson").read_text(encoding="utf-8")
    return {item.slug: item for item in read_municipalities(text)}


def test_save_adds_then_updates_by_slug(engine):
    riyadh = _sample()["riyadh"]
    assert munis.save(engine, riyadh) == "added"
    moved = replace(riyadh, name_en="Riyadh Region", timezone="Asia/Qatar", default_radius_m=3000)
    assert munis.save(engine, moved) == "updated"
    (stored,) = munis.every(engine)
    assert (stored.slug, stored.name_en, stored.timezone, stored.default_radius_m) == (
        "riyadh",
        "Riyadh Region",
        "Asia/Qatar",
        3000,
    )


def test_find_and_by_key_read_by_slug_or_id(engine, municipalities):
    riyadh_id = municipalities["riyadh"].id
    assert munis.find(engine, "jeddah").name_en == municipalities["jeddah"].name_en
    assert munis.find(engine, "mecca") is None
    with session_scope(engine) as session:
        assert munis.by_key(session, riyadh_id).slug == "riyadh"
        assert munis.by_key(session, "jeddah").id == municipalities["jeddah"].id
        with pytest.raises(NotFound):
            munis.by_key(session, "mecca")


def test_every_orders_by_slug_or_by_id(engine):
    sample = _sample()
    for slug in ("riyadh", "jeddah"):  # Riyadh gets the lower id
        munis.save(engine, sample[slug])
    assert [m.slug for m in munis.every(engine)] == ["jeddah", "riyadh"]
    assert [m.slug for m in munis.every(engine, order="id")] == ["riyadh", "jeddah"]


def test_zones_and_boxes_by_id(engine):
    sample = _sample()
    munis.save(engine, sample["riyadh"])
    munis.save(engine, replace(sample["jeddah"], timezone="Asia/Dubai"))
    ids = {m.slug: m.id for m in munis.every(engine)}
    assert munis.zones(engine) == {
        ids["riyadh"]: ZoneInfo("Asia/Riyadh"),
        ids["jeddah"]: ZoneInfo("Asia/Dubai"),
    }
    boxes = munis.boxes(engine)
    for slug, item in sample.items():
        assert boxes[ids[slug]] == pytest.approx(shapely.from_geojson(item.boundary_geojson).bounds)


def test_listing_every_gives_each_closure_its_slug_in_start_order(engine, clock, service, make_draft):
    later = service.register("riyadh", make_draft(starts_at=clock() + timedelta(hours=3)), Actor.system("t"))
    jeddah = service.register(
        "jeddah",
        make_draft(
            geometry=shapely.Point(39.1728, 21.5433), radius_m=100, starts_at=clock() + timedelta(hours=1)
        ),
        Actor.system("t"),
    )
    lifted = service.register("riyadh", make_draft(starts_at=clock()), Actor.system("t"))
    service.lift(lifted.id, Actor.system("t"))
    listing = ClosureListing(engine, clock=clock)
    assert [(c.id, slug) for c, slug in listing.every()] == [
        (lifted.id, "riyadh"),
        (jeddah.id, "jeddah"),
        (later.id, "riyadh"),
    ]
    assert [c.id for c, _ in listing.every(municipality="riyadh")] == [lifted.id, later.id]
    assert listing.every(municipality="mecca") == []
