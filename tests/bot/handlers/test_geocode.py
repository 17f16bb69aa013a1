"""The bot's side of geocoding in plain terms: which candidates count as one place, where a closure's street
is looked up, and that a misconfigured geocoder leaves the bot running without one."""

from __future__ import annotations

import logging

import pytest
from shapely.geometry import LineString, Point, Polygon

from bot.config import Settings
from bot.handlers.geocode import distinct, label, middle_of
from bot.services.engines import geocoder_from
from geo.geocoding import CachedGeocoder, Place
from geo.measure import geodesic_m


def place(name: str, lon: float, lat: float, address: str = "") -> Place:
    return Place(Point(lon, lat), name, address or name)


def test_one_name_close_by_twice_is_one_place_but_far_apart_or_another_name_is_not() -> None:
    a = place("King Fahd Road", 46.6780, 24.7050)
    segment = place("King Fahd Road", 46.6750, 24.7150)  # ~1.1 km further along the same road
    jeddah = place("King Fahd Road", 39.1500, 21.5500)
    other = place("Olaya Street", 46.6781, 24.7051)
    assert geodesic_m(a.point, segment.point) < 2_000

    assert distinct([a, segment, jeddah, other]) == [a, jeddah, other]


def test_a_closures_street_is_looked_up_halfway_along_a_line_inside_an_area_or_at_its_point() -> None:
    line = LineString([(46.0, 24.0), (46.0, 24.2), (46.4, 24.2)])
    assert middle_of(line).equals(Point(46.1, 24.2))
    area = Polygon([(46, 24), (46.1, 24), (46.1, 24.1), (46, 24.1)])
    assert area.contains(middle_of(area))
    assert middle_of(Point(46.5, 24.5)).equals(Point(46.5, 24.5))


def test_a_long_address_is_shortened_for_its_button() -> None:
    long = place("x", 0, 0, address="طريق الملك فهد، " * 10)
    assert len(label(long)) == 60
    assert label(long).endswith("…")
    assert label(place("Kingdom Centre", 0, 0)) == "Kingdom Centre"


def test_the_bot_builds_the_configured_geocoder_and_runs_on_without_a_misconfigured_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert isinstance(geocoder_from(Settings(_env_file=None)), CachedGeocoder)  # type: ignore[call-arg]
    assert geocoder_from(Settings(_env_file=None, geocoder="none")) is None  # type: ignore[call-arg]
    with caplog.at_level(logging.ERROR):
        assert geocoder_from(Settings(_env_file=None, geocoder="google")) is None  # type: ignore[call-arg]
    assert "GEOCODER_API_KEY" in caplog.text
