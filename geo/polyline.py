"""Encoded polylines (Google's format), the way Valhalla (6 decimals) and OSRM (5 or 6) send route shapes.

>>> decode("_izlhA~rlgdF_{geC~ywl@_kwzCn`{nI", precision=6)
[(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)]
>>> encode([(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)], precision=6)
'_izlhA~rlgdF_{geC~ywl@_kwzCn`{nI'
"""

from __future__ import annotations

from collections.abc import Iterable


def decode(text: str, *, precision: int = 6) -> list[tuple[float, float]]:
    """(lon, lat) pairs from an encoded polyline (which stores lat first); ValueError if malformed."""
    factor = 10.0**precision
    values: list[int] = []
    shift = result = 0
    for char in text:
        byte = ord(char) - 63
        if not 0 <= byte < 64:
            raise ValueError(f"not an encoded polyline: character {char!r}")
        result |= (byte & 0x1F) << shift
        shift += 5
        if byte < 0x20:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            shift = result = 0
    if shift or len(values) % 2:
        raise ValueError("not an encoded polyline: it ends in the middle of a coordinate")
    coords: list[tuple[float, float]] = []
    lat = lon = 0
    for i in range(0, len(values), 2):
        lat += values[i]
        lon += values[i + 1]
        coords.append((lon / factor, lat / factor))
    return coords


def encode(coords: Iterable[tuple[float, float]], *, precision: int = 6) -> str:
    """The encoded polyline of (lon, lat) pairs."""
    factor = 10**precision
    out: list[str] = []
    last_lat = last_lon = 0
    for lon, lat in coords:
        ilat, ilon = round(lat * factor), round(lon * factor)
        for delta in (ilat - last_lat, ilon - last_lon):
            value = ~(delta << 1) if delta < 0 else delta << 1
            while value >= 0x20:
                out.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            out.append(chr(value + 63))
        last_lat, last_lon = ilat, ilon
    return "".join(out)
