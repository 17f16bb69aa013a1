"""The staff directory: roles per municipality, admins from the settings, an audit trail, and where a shape
may be registered; and the lists staff read (open closures of their municipalities, their own)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy.engine import Engine

from closures.errors import NotFound, Refusal, ValidationError
from closures.listing import ClosureListing
from closures.models import Municipality
from closures.rules import ClosureDraft
from closures.service import Actor, ClosureService
from closures.staff import StaffDirectory, actor_for
from geo.errors import GeometryError
from geo.errors import Reason as GeoReason
from geo.parse import Limits
from tests.closures.conftest import JEDDAH_POINT, KING_FAHD, offset
from tests.conftest import FakeClock

SETTINGS_ADMIN = 9001
CLI = Actor.system("cli")


@pytest.fixture
def directory(engine: Engine, clock: FakeClock, municipalities: dict[str, Municipality]) -> StaffDirectory:
    return StaffDirectory(engine, frozenset({SETTINGS_ADMIN}), clock=clock)


def test_staff_are_added_listed_and_removed_with_an_audit_trail(directory: StaffDirectory) -> None:
    directory.add("riyadh", 11, "staff", actor=CLI, name="أحمد")
    directory.add("jeddah", 22, "admin", actor=CLI)
    directory.add("riyadh", 11, "admin", actor=CLI)  # a role change
    directory.add("riyadh", 11, "admin", actor=CLI)  # nothing changes: no event
    assert [(m.user_id, m.role, m.municipality, m.name) for m in directory.list()] == [
        (22, "admin", "jeddah", None),
        (11, "admin", "riyadh", "أحمد"),
    ]
    directory.remove("riyadh", 11, actor=Actor.telegram(SETTINGS_ADMIN))
    assert [m.user_id for m in directory.list()] == [22]
    assert [m.user_id for m in directory.list(["riyadh"])] == []
    trail = [(e.telegram_user_id, e.action, e.role, e.actor) for e in directory.events()]
    assert trail == [
        (11, "added", "staff", "cli"),
        (22, "added", "admin", "cli"),
        (11, "changed", "admin", "cli"),
        (11, "removed", "admin", f"tg:{SETTINGS_ADMIN}"),
    ]
    assert [e.telegram_user_id for e in directory.events("jeddah")] == [22]


def test_removing_someone_who_is_not_staff_there_is_not_found(directory: StaffDirectory) -> None:
    directory.add("jeddah", 11, actor=CLI)
    with pytest.raises(NotFound, match="11 of riyadh"):
        directory.remove("riyadh", 11, actor=CLI)
    with pytest.raises(NotFound, match="municipality"):
        directory.add("makkah", 11, actor=CLI)
    with pytest.raises(ValidationError) as refused:
        directory.add("riyadh", 11, "owner", actor=CLI)
    assert refused.value.code is Refusal.BAD_VALUE


def test_only_admins_of_a_municipality_or_settings_admins_manage_its_staff(directory: StaffDirectory) -> None:
    directory.add("riyadh", 1, "admin", actor=CLI)
    directory.add("riyadh", 2, "staff", actor=CLI)
    directory.add("riyadh", 3, actor=Actor.telegram(1))  # a Riyadh admin adds Riyadh staff
    directory.add("jeddah", 4, actor=Actor.telegram(SETTINGS_ADMIN))  # a settings admin adds anywhere
    for actor, slug in [
        (Actor.telegram(2), "riyadh"),
        (Actor.telegram(1), "jeddah"),
        (Actor.telegram(99), "riyadh"),
    ]:
        with pytest.raises(ValidationError) as refused:
            directory.add(slug, 5, actor=actor)
        assert refused.value.code is Refusal.NOT_AUTHORISED
        with pytest.raises(ValidationError):
            directory.remove(slug, 3 if slug == "riyadh" else 4, actor=actor)
    assert sorted(m.user_id for m in directory.list()) == [1, 2, 3, 4]


def test_memberships_settings_admins_are_admins_everywhere(directory: StaffDirectory) -> None:
    directory.add("riyadh", 11, actor=CLI)
    directory.add("jeddah", 11, "admin", actor=CLI)
    directory.add("jeddah", 12, actor=CLI)
    directory.remove("jeddah", 12, actor=CLI)
    assert [(m.slug, m.role) for m in directory.memberships(SETTINGS_ADMIN)] == [
        ("jeddah", "admin"),
        ("riyadh", "admin"),
    ]
    assert directory.municipalities_of(11) == ["jeddah", "riyadh"]
    assert directory.municipalities_of(12) == []
    assert directory.is_admin(11, "jeddah")
    assert not directory.is_admin(11, "riyadh")
    assert directory.is_staff(11, "riyadh")
    assert not directory.is_staff(12, "jeddah")
    assert directory.role_in(SETTINGS_ADMIN, "riyadh") == "admin"


def test_settings_admins_act_through_the_system_path_under_their_own_name() -> None:
    assert actor_for(9001, frozenset({9001})) == Actor(name="tg:9001")
    assert actor_for(7, frozenset({9001})) == Actor.telegram(7)


def test_place_finds_the_operators_municipality_or_refuses(directory: StaffDirectory) -> None:
    directory.add("riyadh", 11, actor=CLI)
    limits = Limits()
    geometry, membership = directory.place(SETTINGS_ADMIN, JEDDAH_POINT, limits=limits, tolerance_m=500)
    assert membership.slug == "jeddah"
    assert geometry.equals(JEDDAH_POINT)
    assert directory.place(11, KING_FAHD, limits=limits, tolerance_m=500)[1].slug == "riyadh"
    with pytest.raises(ValidationError) as refused:
        directory.place(11, JEDDAH_POINT, limits=limits, tolerance_m=500)
    assert refused.value.code is Refusal.OUTSIDE_MUNICIPALITY
    with pytest.raises(ValidationError):  # a settings admin editing a Riyadh closure stays in Riyadh
        directory.place(
            SETTINGS_ADMIN,
            JEDDAH_POINT,
            limits=limits,
            tolerance_m=500,
            only=directory.memberships(11)[0].municipality_id,
        )
    swapped = LineString([(y, x) for x, y in KING_FAHD.coords])
    with pytest.raises(GeometryError) as bad:
        directory.place(11, swapped, limits=limits, tolerance_m=500)
    assert bad.value.reason is GeoReason.PROBABLY_SWAPPED


def test_place_accepts_a_point_just_outside_the_boundary_within_the_tolerance(
    directory: StaffDirectory,
) -> None:
    directory.add("riyadh", 11, actor=CLI)
    east_edge = Point(47.05, 24.72)  # the Riyadh boundary's easternmost corner
    inside_tolerance, beyond = Point(offset((47.05, 24.72), 90, 300)), Point(offset((47.05, 24.72), 90, 900))
    for point in (east_edge, inside_tolerance):
        assert directory.place(11, point, limits=Limits(), tolerance_m=500)[1].slug == "riyadh"
    with pytest.raises(ValidationError):
        directory.place(11, beyond, limits=Limits(), tolerance_m=500)


def test_place_refuses_too_large_shapes_before_looking_where_they_are(directory: StaffDirectory) -> None:
    directory.add("riyadh", 11, actor=CLI)
    box = Polygon([(46.5, 24.5), (47.0, 24.5), (47.0, 25.0), (46.5, 25.0)])
    with pytest.raises(GeometryError) as bad:
        directory.place(11, box, limits=Limits(), tolerance_m=500)
    assert bad.value.reason is GeoReason.TOO_BIG


def test_listing_pages_open_closures_of_some_municipalities_and_those_an_actor_registered(
    engine: Engine,
    clock: FakeClock,
    service: ClosureService,
    municipalities: dict[str, Municipality],
    make_draft: Callable[..., ClosureDraft],
) -> None:
    first = service.register("riyadh", make_draft(), Actor(name="tg:1"))
    second = service.register(
        "riyadh", make_draft(starts_at=clock.now - timedelta(minutes=5)), Actor(name="tg:2")
    )
    third = service.register("riyadh", make_draft(ends_at=None), Actor(name="tg:1"))
    jeddah = service.register("jeddah", make_draft(geometry=JEDDAH_POINT), Actor(name="tg:1"))
    lifted = service.register(
        "riyadh", make_draft(starts_at=clock.now - timedelta(minutes=1)), Actor(name="tg:1")
    )
    service.lift(lifted.id, Actor.system("test"))
    fourth = service.register("riyadh", make_draft(), Actor(name="tg:1"))
    listing = ClosureListing(engine, clock=clock)
    riyadh = municipalities["riyadh"].id
    page = listing.open_in([riyadh], limit=2)
    assert ([c.id for c in page.closures], page.total, page.next_offset) == ([second.id, first.id], 4, 2)
    rest = listing.open_in([riyadh], offset=2, limit=2)
    assert ([c.id for c in rest.closures], rest.next_offset) == ([third.id, fourth.id], None)
    assert {c.id for c in listing.created_by("tg:1").closures} == {first.id, third.id, fourth.id, jeddah.id}
    clock.advance(timedelta(hours=6))  # the four-hour closures have ended; the open-ended one has not
    assert [c.id for c in listing.open_in([riyadh]).closures] == [third.id]
