"""Map links that carry coordinates: Google Maps, Apple Maps, OpenStreetMap and ``geo:`` URIs.

A staff member on a phone shares a dropped pin far more often than they type numbers, and the share
sheet sends a link, often after a line with the place's name. Only what is written in the link is
read: short links (``maps.app.goo.gl/…``) need a network round trip to expand, so they give None
and the bot asks for the pin instead.

Where a link holds several positions, the one the sender meant wins over the map's viewport: a pin
(``!3d…!4d…``, ``q=``, ``mlat=``) before the centre of the view (``/@lat,lon,zoom``, ``#map=``).

>>> parse_map_link("https://www.google.com/maps/@24.7136,46.6753,15z")
<POINT (46.675 24.714)>
>>> parse_map_link("geo:0,0?q=24.7136,46.6753(Kingdom Centre)")
<POINT (46.675 24.714)>
>>> parse_map_link("https://maps.app.goo.gl/AbCdEf") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, parse_qs, unquote_plus, urlsplit

import numpy as np
from shapely.geometry import Point

from geo.coords import check_ranges, normalise_digits, read_coordinates

_MAX_LINK_CHARS = 8192  # real map links are far shorter; this bounds the work on hostile text
_NUMBER = r"[-+]?[0-9]+(?:\.[0-9]+)?"
_IS_NUMBER = re.compile(_NUMBER)
_AT_VIEW = re.compile(rf"@({_NUMBER}),({_NUMBER})")
_PIN_DATA = re.compile(rf"!3d({_NUMBER})!4d({_NUMBER})")
_LABEL = re.compile(r"\([^()]*\)$")
_GOOGLE_HOST = re.compile(r"(?:^|\.)google(?:\.[a-z]{2,3}){1,2}$")
_SCHEMELESS = re.compile(r"(?:www\.|maps\.)?(?:google\.|apple\.com/|openstreetmap\.org/|osm\.org/)", re.I)
# A link typed without its scheme, short ones included ("maps.app.goo.gl/…", "maps.apple/p/…").
SCHEMELESS_LINK = re.compile(
    r"(?:www\.|maps\.)?(?:google\.|apple\.com/|openstreetmap\.org/|osm\.org/|app\.goo\.gl/|goo\.gl/|apple/)",
    re.I,
)
_OSM_HOSTS = frozenset({"openstreetmap.org", "www.openstreetmap.org", "osm.org", "www.osm.org"})

_GOOGLE_KEYS = ("q", "query", "ll", "daddr", "destination", "center")
_APPLE_KEYS = ("coordinate", "ll", "q", "daddr", "sll", "center")


def parse_map_link(text: str) -> Point | None:
    """Read the coordinates a map link carries as ``Point(lon, lat)``.

    Returns None when the text is not a link, or is a link without coordinates; raises
    :class:`~geo.errors.GeometryError` when the coordinates cannot be a place on Earth.
    """
    point = read_map_link(text)
    if point is not None:
        check_ranges(np.array([[point.x, point.y]]))
    return point


def read_map_link(text: str) -> Point | None:
    """Like :func:`parse_map_link` but without range checks, for the swapped-order heuristic.

    The link is the last line of the text, so "Kingdom Centre\\nhttps://maps.apple.com/?ll=…" works.
    """
    stripped = text.strip()
    link = normalise_digits(stripped[stripped.rfind("\n") + 1 :]).strip()
    if not link or len(link) > _MAX_LINK_CHARS:
        return None
    if link[:4].lower() == "geo:":
        return _geo_uri(link[4:])
    if any(char.isspace() for char in link):
        return None
    if not link.lower().startswith(("http://", "https://")):
        if _SCHEMELESS.match(link) is None:
            return None
        link = "https://" + link
    try:
        parts = urlsplit(link)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. a malformed IPv6 host "http://[abc"
        return None
    query = parse_qs(parts.query)
    if _GOOGLE_HOST.search(host):
        return _google(parts, query)
    if host == "maps.apple" or host == "maps.apple.com" or host.endswith(".maps.apple.com"):
        return _first_pair(query, _APPLE_KEYS)
    if host in _OSM_HOSTS or host.endswith(".openstreetmap.org"):
        return _openstreetmap(parts, query)
    return None


def _google(parts: SplitResult, query: dict[str, list[str]]) -> Point | None:
    """A pin in the data blob, then a pin in the query, then one in the path, then the viewport."""
    pins = _PIN_DATA.findall(parts.path + "?" + parts.query)
    if pins:
        return _lat_lon(*pins[-1])
    point = _first_pair(query, _GOOGLE_KEYS)
    if point is not None:
        return point
    # /maps/place/24.7136,46.6753/…, /maps/search/24.7136,+46.6753, /maps/dir/a/b (destination last)
    segments = [read_coordinates(unquote_plus(segment)) for segment in parts.path.split("/")]
    found = [segment for segment in segments if segment is not None]
    if found:
        return found[-1]
    view = _AT_VIEW.search(parts.path)
    return _lat_lon(*view.groups()) if view else None


def _openstreetmap(parts: SplitResult, query: dict[str, list[str]]) -> Point | None:
    """The marker (``mlat``/``mlon``), an old-style ``lat``/``lon``, a search, then ``#map=zoom/lat/lon``."""
    for lat_key, lon_key in (("mlat", "mlon"), ("lat", "lon")):
        if lat_key in query and lon_key in query:
            return _lat_lon(query[lat_key][0], query[lon_key][0])
    point = _first_pair(query, ("query",))
    if point is not None:
        return point
    view = parse_qs(parts.fragment).get("map")
    if view:
        pieces = view[0].split("/")
        if len(pieces) == 3:
            return _lat_lon(pieces[1], pieces[2])
    return None


def _geo_uri(rest: str) -> Point | None:
    """RFC 5870 ``geo:lat,lon[,alt][;u=…]``, and Android's ``geo:0,0?q=lat,lon(label)``."""
    body, _, query = rest.partition("?")
    pin = _first_pair(parse_qs(query), ("q",))
    if pin is not None:
        return pin
    position, *params = body.split(";")
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "crs" and value.strip().lower() != "wgs84":
            return None  # another reference system: the numbers are not degrees we understand
    numbers = position.split(",")
    if len(numbers) not in (2, 3):
        return None
    if query and all(_IS_NUMBER.fullmatch(n.strip()) and float(n) == 0.0 for n in numbers[:2]):
        return None  # geo:0,0?q=Some+Place — 0,0 is a placeholder, the place is a name we can't resolve
    return _lat_lon(numbers[0].strip(), numbers[1].strip())


def _first_pair(query: dict[str, list[str]], keys: Iterable[str]) -> Point | None:
    """The first of ``keys`` whose value is a coordinate pair (``loc:`` prefix and ``(label)`` allowed)."""
    for key in keys:
        for value in query.get(key, ()):
            text = _LABEL.sub("", value.strip()).strip()
            if text[:4].lower() == "loc:":
                text = text[4:]
            point = read_coordinates(text)
            if point is not None:
                return point
    return None


def _lat_lon(lat: str, lon: str) -> Point | None:
    """``Point(lon, lat)`` from two plain decimal strings, or None if either is not one."""
    if _IS_NUMBER.fullmatch(lat) is None or _IS_NUMBER.fullmatch(lon) is None:
        return None
    return Point(float(lon), float(lat))
