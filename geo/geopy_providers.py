"""Which geopy geocoder, how to ask it, and how to read its answers: Nominatim (the default), Photon,
Pelias, ArcGIS and Google. ``make_geocoder`` builds the configured one, rate-limited and cached.

Each provider takes the bias its own way: Nominatim a ``viewbox`` (``bounded`` to keep results inside)
and ``countrycodes``; Photon a ``location_bias`` point and a ``bbox``; Pelias a ``boundary.rect`` and
``boundary.country``; Google ``bounds`` and a ``region``; ArcGIS none that geopy passes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from geopy.adapters import BaseSyncAdapter, RequestsAdapter, URLLibAdapter
from geopy.geocoders import ArcGIS, GoogleV3, Nominatim, Pelias, Photon
from geopy.location import Location
from shapely.geometry import Point

from geo.geocoding import Bias, CachedGeocoder, Geocoder, GeopyGeocoder, Place, TTLCache

DEFAULT_USER_AGENT = "road-closure-bot (Saudi road closures bot)"
KINDS = ("nominatim", "photon", "pelias", "arcgis", "google", "none")
# Nominatim's address keys that name the way a point is on, most specific first.
_STREET_KEYS = ("road", "pedestrian", "footway", "cycleway", "path", "square", "residential")


@dataclass(frozen=True, slots=True)
class GeocoderConfig:
    """Plain settings for a geocoder (the bot builds this from its pydantic Settings)."""

    kind: str = "nominatim"
    domain: str | None = None  # host[:port][/path]; None: the provider's public service
    scheme: str = "https"
    user_agent: str = DEFAULT_USER_AGENT
    api_key: str | None = None
    timeout_s: float = 5.0
    cache_ttl_s: float = 86_400.0
    cache_size: int = 2_048
    min_interval_s: float = 1.0
    countries: tuple[str, ...] = ("sa",)


class Provider(Protocol):
    name: ClassVar[str]

    def build(self, config: GeocoderConfig) -> Any: ...

    def forward_args(
        self, bias: Bias, language: str, limit: int, countries: tuple[str, ...]
    ) -> dict[str, Any]: ...

    def reverse_args(self, language: str) -> dict[str, Any]: ...

    def read(self, location: Location) -> Place | None: ...


def _common(config: GeocoderConfig) -> dict[str, Any]:
    return {
        "scheme": config.scheme,
        "timeout": config.timeout_s,
        "user_agent": config.user_agent,
        "adapter_factory": _adapter,
    }


def _adapter(*, proxies: Any, ssl_context: Any) -> BaseSyncAdapter:
    """geopy's HTTP transport without retries: requests' default retries would sleep out a 429's Retry-After
    (Nominatim may say minutes) in the worker thread while a person waits. Failures are reported at once."""
    if RequestsAdapter.is_available:
        return RequestsAdapter(proxies=proxies, ssl_context=ssl_context, max_retries=0)
    return URLLibAdapter(proxies=proxies, ssl_context=ssl_context)


def _corners(box: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """geopy's two-corner form, (lat, lon) each."""
    min_lon, min_lat, max_lon, max_lat = box
    return [(min_lat, min_lon), (max_lat, max_lon)]


def _point(location: Location) -> Point | None:
    if location.latitude is None or location.longitude is None:
        return None
    return Point(float(location.longitude), float(location.latitude))


def _first_part(address: str) -> str:
    return address.replace("،", ",").split(",")[0].strip() or address


class NominatimProvider:
    name: ClassVar[str] = "nominatim"

    def build(self, config: GeocoderConfig) -> Any:
        return Nominatim(domain=config.domain or "nominatim.openstreetmap.org", **_common(config))

    def forward_args(
        self, bias: Bias, language: str, limit: int, countries: tuple[str, ...]
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"limit": limit, "addressdetails": True, "language": language}
        if countries:
            args["country_codes"] = list(countries)
        if bias.box is not None:
            args["viewbox"], args["bounded"] = _corners(bias.box), bias.bounded
        return args

    def reverse_args(self, language: str) -> dict[str, Any]:
        return {"language": language, "addressdetails": True, "zoom": 17}  # 17: major and minor streets

    def read(self, location: Location) -> Place | None:
        point, raw = _point(location), location.raw
        if point is None:
            return None
        address = raw.get("address") or {}
        category = raw.get("category") or raw.get("class")  # jsonv2 / json
        name = raw.get("name") or (raw.get("namedetails") or {}).get("name") or _first_part(location.address)
        street = next((address[k] for k in _STREET_KEYS if address.get(k)), None)
        if category == "highway":
            street = name
        kind = f"{category}/{raw.get('type')}" if category else None
        return Place(point, name, location.address, street, kind)


class PhotonProvider:
    name: ClassVar[str] = "photon"

    def build(self, config: GeocoderConfig) -> Any:
        return Photon(domain=config.domain or "photon.komoot.io", **_common(config))

    def forward_args(
        self, bias: Bias, language: str, limit: int, countries: tuple[str, ...]
    ) -> dict[str, Any]:
        # Photon's languages are few (default, en, de, fr, it): Arabic is its "default" (the local name).
        args: dict[str, Any] = {"limit": limit, "language": _photon_language(language)}
        centre = bias.centre
        if centre is not None:
            args["location_bias"] = (centre.y, centre.x)
        if bias.box is not None and bias.bounded:
            args["bbox"] = _corners(bias.box)
        return args

    def reverse_args(self, language: str) -> dict[str, Any]:
        return {"language": _photon_language(language)}

    def read(self, location: Location) -> Place | None:
        point = _point(location)
        if point is None:
            return None
        props = location.raw.get("properties") or {}
        name = props.get("name") or props.get("street") or _first_part(location.address)
        street = name if props.get("osm_key") == "highway" else props.get("street")
        kind = f"{props['osm_key']}/{props.get('osm_value')}" if props.get("osm_key") else None
        return Place(point, name, location.address, street, kind)


def _photon_language(language: str) -> str | bool:
    return language if language in ("en", "de", "fr", "it") else False


class PeliasProvider:
    name: ClassVar[str] = "pelias"

    def build(self, config: GeocoderConfig) -> Any:
        if not config.domain:
            raise ValueError("Pelias needs GEOCODER_DOMAIN: there is no public Pelias service")
        return Pelias(config.domain, api_key=config.api_key, **_common(config))

    def forward_args(
        self, bias: Bias, language: str, limit: int, countries: tuple[str, ...]
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"language": language}
        if countries:
            args["countries"] = [c.upper() for c in countries]
        if bias.box is not None and bias.bounded:
            args["boundary_rect"] = _corners(bias.box)
        return args

    def reverse_args(self, language: str) -> dict[str, Any]:
        return {"language": language}

    def read(self, location: Location) -> Place | None:
        point = _point(location)
        if point is None:
            return None
        props = location.raw.get("properties") or {}
        name = props.get("name") or _first_part(location.address)
        street = name if props.get("layer") == "street" else props.get("street")
        return Place(point, name, location.address, street, props.get("layer"))


class ArcGISProvider:
    name: ClassVar[str] = "arcgis"

    def build(self, config: GeocoderConfig) -> Any:
        return ArcGIS(domain=config.domain or "geocode.arcgis.com", **_common(config))

    def forward_args(
        self, bias: Bias, language: str, limit: int, countries: tuple[str, ...]
    ) -> dict[str, Any]:
        return {}

    def reverse_args(self, language: str) -> dict[str, Any]:
        return {}

    def read(self, location: Location) -> Place | None:
        point = _point(location)
        if point is None:
            return None
        address = location.raw.get("address")
        street = address.get("Address") if isinstance(address, dict) else None
        return Place(point, _first_part(location.address), location.address, street or None)


class GoogleProvider:
    name: ClassVar[str] = "google"

    def build(self, config: GeocoderConfig) -> Any:
        if not config.api_key:
            raise ValueError("Google's geocoder needs GEOCODER_API_KEY")
        return GoogleV3(
            api_key=config.api_key, domain=config.domain or "maps.googleapis.com", **_common(config)
        )

    def forward_args(
        self, bias: Bias, language: str, limit: int, countries: tuple[str, ...]
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"language": language}
        if countries:
            args["region"] = countries[0]
        if bias.box is not None:
            args["bounds"] = _corners(bias.box)
        return args

    def reverse_args(self, language: str) -> dict[str, Any]:
        return {"language": language}

    def read(self, location: Location) -> Place | None:
        point = _point(location)
        if point is None:
            return None
        parts = location.raw.get("address_components") or []
        street = next((p.get("long_name") for p in parts if "route" in p.get("types", ())), None)
        kinds = location.raw.get("types") or []
        return Place(point, _first_part(location.address), location.address, street, next(iter(kinds), None))


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (NominatimProvider(), PhotonProvider(), PeliasProvider(), ArcGISProvider(), GoogleProvider())
}


def make_geocoder(
    config: GeocoderConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Geocoder | None:
    """The configured geocoder, rate-limited and cached; None for "none". ValueError when misconfigured."""
    if config.kind == "none":
        return None
    provider = PROVIDERS.get(config.kind)
    if provider is None:
        raise ValueError(f"unknown geocoder {config.kind!r}: choose one of {', '.join(KINDS)}")
    limited = GeopyGeocoder.limited(
        provider,
        provider.build(config),
        countries=config.countries,
        min_interval_s=config.min_interval_s,
        # Queueing longer than a request may take is no better than saying "busy, try again".
        max_wait_s=max(config.timeout_s, config.min_interval_s),
        clock=clock,
        sleep=sleep,
    )
    return CachedGeocoder(limited, TTLCache(config.cache_ttl_s, config.cache_size, clock))
