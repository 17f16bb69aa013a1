"""The geopy adapter against a local Nominatim on 127.0.0.1: what it asks, what it reads, its cache, its rate
limit and its failures. The answers' numbers come from the fake server's gazetteer, not from the adapter."""

from __future__ import annotations

import threading

import pytest
from shapely.geometry import Point

from geo.errors import (
    GeocoderRateLimited,
    GeocoderTimeout,
    GeocoderUnavailable,
    GeocodingError,
    GeocodingProblem,
)
from geo.geocoding import Bias, CachedGeocoder, GeopyGeocoder, TTLCache, clean_query
from geo.geopy_providers import DEFAULT_USER_AGENT, GeocoderConfig, NominatimProvider, make_geocoder
from tests.conftest import Ticks
from tests.fakes.nominatim import GAZETTEER, RETRY_AFTER_S, GeocodingServer

RIYADH_BOX = (46.4, 24.4, 47.0, 25.0)  # min_lon, min_lat, max_lon, max_lat
KING_FAHD = next(e for e in GAZETTEER if e.name_en == "King Fahd Road")


def nominatim(server: GeocodingServer, **options: object) -> GeopyGeocoder:
    """The adapter without its cache, no spacing between requests unless asked."""
    config = GeocoderConfig(domain=server.domain, scheme="http", timeout_s=2.0)
    provider = NominatimProvider()
    limits = {"min_interval_s": 0.0, **options}
    return GeopyGeocoder.limited(provider, provider.build(config), countries=("sa",), **limits)  # type: ignore[arg-type]


def cached(server: GeocodingServer, ticks: Ticks, ttl_s: float = 60.0) -> CachedGeocoder:
    return CachedGeocoder(nominatim(server), TTLCache(ttl_s, 100, ticks))


def test_an_arabic_name_with_harakat_and_tatweel_finds_the_road(geocoding_server: GeocodingServer) -> None:
    found = nominatim(geocoding_server).forward("  طَرِيـــق   الملك فهد ", language="ar")

    assert [p.name for p in found] == ["طريق الملك فهد"]
    place = found[0]
    assert (place.point.x, place.point.y) == (KING_FAHD.lon, KING_FAHD.lat)
    assert place.street == "طريق الملك فهد"
    assert place.address == KING_FAHD.display_name("ar")
    assert place.kind == "highway/primary"
    assert geocoding_server.searches()[0].params["q"] == "طريق الملك فهد"


def test_arabic_indic_digits_are_sent_as_ascii() -> None:
    assert clean_query("شارع ٣٠ ۴") == "شارع 30 4"
    assert clean_query("\u200fمخرج ١٥\u200f") == "مخرج 15"


def test_an_english_name_is_read_in_english(geocoding_server: GeocodingServer) -> None:
    found = nominatim(geocoding_server).forward("kingdom centre", language="en")

    assert [(p.name, p.address) for p in found] == [
        ("Kingdom Centre", "Kingdom Centre, Al Olaya, Riyadh, Saudi Arabia")
    ]
    assert found[0].street is None  # a building: no road of its own in the answer


def test_the_bias_the_user_agent_and_the_language_are_sent(geocoding_server: GeocodingServer) -> None:
    nominatim(geocoding_server).forward("Tahlia", bias=Bias(RIYADH_BOX, bounded=True), language="en", limit=3)

    request = geocoding_server.searches()[0]
    assert request.params == {
        "q": "Tahlia",
        "format": "json",
        "limit": "3",
        "viewbox": "46.4,24.4,47.0,25.0",
        "bounded": "1",
        "countrycodes": "sa",
        "addressdetails": "1",
        "accept-language": "en",
    }
    assert request.user_agent == DEFAULT_USER_AGENT


def test_a_bounded_box_keeps_one_city_an_open_one_only_ranks(geocoding_server: GeocodingServer) -> None:
    geocoder = nominatim(geocoding_server)

    inside = geocoder.forward("Tahlia Street", bias=Bias(RIYADH_BOX, bounded=True), language="en")
    ranked = geocoder.forward("Tahlia Street", bias=Bias(RIYADH_BOX), language="en")

    assert [p.address.split(", ")[2] for p in inside] == ["Riyadh"]
    assert [p.address.split(", ")[2] for p in ranked] == ["Riyadh", "Jeddah"]
    assert "bounded" not in geocoding_server.searches()[1].params


def test_nothing_found_is_an_empty_list_not_an_error(geocoding_server: GeocodingServer) -> None:
    assert nominatim(geocoding_server).forward("Atlantis") == []
    assert nominatim(geocoding_server).forward("   ") == []
    assert len(geocoding_server.requests) == 1  # an empty query is not sent


@pytest.mark.parametrize(("lang", "street"), [("ar", "طريق الملك فهد"), ("en", "King Fahd Road")])
def test_reverse_names_the_street_in_the_language_asked(
    geocoding_server: GeocodingServer, lang: str, street: str
) -> None:
    place = nominatim(geocoding_server).reverse(Point(46.6790, 24.7045), language=lang)

    assert place is not None
    assert place.street == street
    request = geocoding_server.reverses()[0]
    assert request.params["accept-language"] == lang
    assert (float(request.params["lat"]), float(request.params["lon"])) == (24.7045, 46.6790)


def test_reverse_in_the_empty_quarter_is_none(geocoding_server: GeocodingServer) -> None:
    assert nominatim(geocoding_server).reverse(Point(50.0, 20.0)) is None


def test_a_cached_answer_saves_a_request_until_it_expires(
    geocoding_server: GeocodingServer, ticks: Ticks
) -> None:
    geocoder = cached(geocoding_server, ticks, ttl_s=60.0)

    first = geocoder.forward("Kingdom Centre", language="en")
    ticks.now = 59.0
    again = geocoder.forward("  kingdom   CENTRE ", language="en")  # the same query, typed differently
    assert again == first
    assert len(geocoding_server.searches()) == 1

    ticks.now = 60.0
    assert geocoder.forward("Kingdom Centre", language="en") == first
    assert len(geocoding_server.searches()) == 2


def test_the_cache_keeps_languages_biases_and_reverse_apart(
    geocoding_server: GeocodingServer, ticks: Ticks
) -> None:
    geocoder = cached(geocoding_server, ticks)
    geocoder.forward("Tahlia Street", language="en")
    geocoder.forward("Tahlia Street", language="ar")
    geocoder.forward("Tahlia Street", bias=Bias(RIYADH_BOX, bounded=True), language="en")
    geocoder.reverse(Point(46.679, 24.7045), language="en")
    geocoder.reverse(Point(46.679, 24.7045), language="en")
    geocoder.reverse(Point(50.0, 20.0), language="en")
    geocoder.reverse(Point(50.0, 20.0), language="en")  # "nothing there" is remembered too

    assert len(geocoding_server.searches()) == 3
    assert len(geocoding_server.reverses()) == 2


def test_a_failure_is_not_cached(geocoding_server: GeocodingServer, ticks: Ticks) -> None:
    geocoder = cached(geocoding_server, ticks)
    geocoding_server.mode = "error"
    with pytest.raises(GeocoderUnavailable):
        geocoder.forward("Kingdom Centre")
    geocoding_server.mode = "ok"

    assert [p.name for p in geocoder.forward("Kingdom Centre")] == ["برج المملكة"]
    assert len(geocoding_server.searches()) == 2


def test_the_cache_is_bounded_and_drops_the_least_recently_used(ticks: Ticks) -> None:
    cache: TTLCache[str, int] = TTLCache(60.0, 2, ticks)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)  # "a" is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (
        (True, 1),
        (False, None),
        (True, 3),
        2,
    )


def test_requests_are_spaced_by_the_minimum_interval(geocoding_server: GeocodingServer, ticks: Ticks) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the limiter's wait, taken on the injected clock instead
        slept.append(seconds)
        ticks.now += seconds

    geocoder = nominatim(geocoding_server, min_interval_s=1.0, clock=ticks, sleep=sleep)
    geocoder.forward("Kingdom Centre")
    geocoder.reverse(Point(46.679, 24.7045))  # forward and reverse share the one limit
    geocoder.forward("Al Malaz")
    ticks.now += 5.0
    geocoder.forward("Tahlia Street")  # long after the last one: no wait

    assert slept == [1.0, 1.0]
    assert len(geocoding_server.requests) == 4


def test_a_caller_who_would_queue_too_long_is_told_it_is_busy(
    geocoding_server: GeocodingServer, ticks: Ticks
) -> None:
    def sleep(seconds: float) -> None:
        pytest.fail(f"waited {seconds} s instead of refusing")

    geocoder = nominatim(geocoding_server, min_interval_s=1.0, max_wait_s=0.5, clock=ticks, sleep=sleep)
    geocoder.forward("Kingdom Centre")

    with pytest.raises(GeocoderRateLimited) as caught:
        geocoder.forward("Al Malaz")

    assert caught.value.problem is GeocodingProblem.RATE_LIMITED
    assert len(geocoding_server.requests) == 1  # never sent


def test_a_429_becomes_rate_limited_with_its_retry_after(geocoding_server: GeocodingServer) -> None:
    geocoding_server.mode = "rate_limited"
    with pytest.raises(GeocoderRateLimited) as caught:
        nominatim(geocoding_server).forward("Kingdom Centre")
    assert caught.value.retry_after == RETRY_AFTER_S
    assert len(geocoding_server.requests) == 1  # no retry behind the user's back


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_a_server_error_or_an_answer_that_is_not_json_is_unavailable(
    geocoding_server: GeocodingServer, mode: str
) -> None:
    geocoding_server.mode = mode
    geocoder = nominatim(geocoding_server)
    with pytest.raises(GeocoderUnavailable):
        geocoder.forward("Kingdom Centre")
    with pytest.raises(GeocoderUnavailable):
        geocoder.reverse(Point(46.679, 24.7045))


def test_a_service_that_does_not_answer_in_time_is_a_timeout(geocoding_server: GeocodingServer) -> None:
    geocoding_server.mode = "hold"
    config = GeocoderConfig(domain=geocoding_server.domain, scheme="http", timeout_s=0.3, min_interval_s=0)
    geocoder = make_geocoder(config)
    assert geocoder is not None
    try:
        with pytest.raises(GeocoderTimeout):
            geocoder.forward("Kingdom Centre")
        assert geocoding_server.held.is_set()
    finally:
        geocoding_server.release.set()


def test_a_service_that_is_not_there_is_unavailable() -> None:
    server = GeocodingServer()  # started and stopped: its port now refuses connections
    with server.running():
        domain = server.domain
    geocoder = make_geocoder(GeocoderConfig(domain=domain, scheme="http", timeout_s=2.0, min_interval_s=0))
    assert geocoder is not None
    with pytest.raises(GeocodingError) as caught:
        geocoder.forward("Kingdom Centre")
    assert caught.value.problem is GeocodingProblem.UNAVAILABLE


def test_concurrent_lookups_from_worker_threads_all_get_their_answer(
    geocoding_server: GeocodingServer,
) -> None:
    geocoder = make_geocoder(GeocoderConfig(domain=geocoding_server.domain, scheme="http", min_interval_s=0))
    assert geocoder is not None
    names = ["Kingdom Centre", "Al Malaz", "King Fahd Road", "Jeddah Corniche"] * 3
    answers: dict[int, str] = {}

    def look(i: int) -> None:
        answers[i] = geocoder.forward(names[i], language="en")[0].name

    threads = [threading.Thread(target=look, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answers[i] for i in range(len(names))] == names
    assert len(geocoding_server.searches()) <= len(names)
