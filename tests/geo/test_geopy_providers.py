"""Choosing a geocoder by configuration, and the other providers' real formats (Photon) over 127.0.0.1."""

from __future__ import annotations

import pytest
from geopy.location import Location
from pydantic import SecretStr
from shapely.geometry import Point

from bot.config import Settings
from geo.geocoding import Bias
from geo.geopy_providers import GeocoderConfig, NominatimProvider, make_geocoder
from tests.fakes.nominatim import GAZETTEER, GeocodingServer, nominatim_json

RIYADH_BOX = (46.4, 24.4, 47.0, 25.0)


def photon(server: GeocodingServer):  # type: ignore[no-untyped-def]
    geocoder = make_geocoder(
        GeocoderConfig(kind="photon", domain=server.domain, scheme="http", min_interval_s=0)
    )
    assert geocoder is not None
    return geocoder


def test_photon_finds_a_road_and_sends_its_bias(geocoding_server: GeocodingServer) -> None:
    road = next(e for e in GAZETTEER if e.name_en == "King Fahd Road")

    found = photon(geocoding_server).forward("King Fahd", bias=Bias(RIYADH_BOX, bounded=True), language="en")

    assert [(p.name, p.street, p.point.x, p.point.y) for p in found] == [
        ("King Fahd Road", "King Fahd Road", road.lon, road.lat)
    ]
    params = geocoding_server.searches()[0].params
    assert (params["lang"], params["lat"], params["lon"]) == ("en", "24.7", "46.7")
    assert params["bbox"] == "46.4,24.4,47.0,25.0"


def test_photon_is_asked_for_the_local_name_in_arabic(geocoding_server: GeocodingServer) -> None:
    found = photon(geocoding_server).forward("حي الملز", language="ar")

    assert [p.name for p in found] == ["حي الملز"]
    assert "lang" not in geocoding_server.searches()[0].params  # Photon has no Arabic: its default names


def test_photon_reverse_names_the_street(geocoding_server: GeocodingServer) -> None:
    place = photon(geocoding_server).reverse(Point(46.679, 24.7045), language="en")
    assert place is not None
    assert place.street == "King Fahd Road"
    assert photon(geocoding_server).reverse(Point(50.0, 20.0)) is None


def test_none_turns_geocoding_off() -> None:
    assert make_geocoder(GeocoderConfig(kind="none")) is None


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (GeocoderConfig(kind="google"), "GEOCODER_API_KEY"),
        (GeocoderConfig(kind="pelias"), "GEOCODER_DOMAIN"),
        (GeocoderConfig(kind="mapquest"), "unknown geocoder"),
    ],
)
def test_a_misconfigured_geocoder_is_refused_with_the_reason(config: GeocoderConfig, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        make_geocoder(config)


@pytest.mark.parametrize("kind", ["nominatim", "photon", "arcgis"])
def test_public_providers_build_without_a_key(kind: str) -> None:
    geocoder = make_geocoder(GeocoderConfig(kind=kind))
    assert geocoder is not None
    assert geocoder.name == kind


def test_settings_from_the_environment_make_the_geocoder_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOCODER", "google")
    monkeypatch.setenv("GEOCODER_API_KEY", "k-123")
    monkeypatch.setenv("GEOCODER_COUNTRIES", "SA; bh")
    monkeypatch.setenv("GEOCODER_TIMEOUT_S", "2.5")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert isinstance(settings.geocoder_api_key, SecretStr)
    assert "k-123" not in repr(settings)
    config = settings.geocoder_config()
    assert (config.kind, config.api_key, config.countries, config.timeout_s) == (
        "google",
        "k-123",
        ("sa", "bh"),
        2.5,
    )
    assert make_geocoder(config) is not None


def test_the_default_is_nominatim_with_the_projects_user_agent() -> None:
    config = Settings(_env_file=None).geocoder_config()  # type: ignore[call-arg]
    assert (config.kind, config.domain, config.scheme, config.min_interval_s) == (
        "nominatim",
        None,
        "https",
        1.0,
    )
    assert config.user_agent.startswith("road-closure-bot")
    assert config.countries == ("sa",)


@pytest.mark.parametrize("v2", [False, True], ids=["json", "jsonv2"])
def test_nominatim_answers_read_alike_in_json_and_jsonv2(v2: bool) -> None:
    road = next(e for e in GAZETTEER if e.name_en == "King Fahd Road")
    raw = nominatim_json(road, "en", v2=v2, details=True)
    location = Location(raw["display_name"], (float(raw["lat"]), float(raw["lon"])), raw)

    place = NominatimProvider().read(location)

    assert place is not None
    assert (place.name, place.street, place.kind) == ("King Fahd Road", "King Fahd Road", "highway/primary")
    assert (place.point.x, place.point.y) == (road.lon, road.lat)
