"""Typed coordinates: "24.7136, 46.6753" and its Arabic, hemisphere-letter and degrees-minutes-seconds forms.

People type latitude first, so an unlabelled pair is read as (lat, lon) and becomes ``Point(lon, lat)``.
Hemisphere letters (N/S/E/W) name the axis, so "46.6753E 24.7136N" is read the right way round.
Text arriving from Arabic keyboards mixes digit systems, Arabic punctuation and invisible direction
marks; :func:`normalise_digits` folds all of that into plain ASCII before anything is matched.

>>> parse_coordinates("٢٤٫٧١٣٦، ٤٦٫٦٧٥٣")
<POINT (46.675 24.714)>
>>> p = parse_coordinates("24°42'49\\"N 46°40'31\\"E")
>>> round(p.y, 6), round(p.x, 6)
(24.713611, 46.675278)
>>> parse_coordinates("Riyadh") is None
True
"""

from __future__ import annotations

import re

import numpy as np
from shapely.geometry import Point

from geo.errors import GeometryError, Reason

_DIGITS = {
    **{0x0660 + i: str(i) for i in range(10)},  # Arabic-Indic ٠-٩
    **{0x06F0 + i: str(i) for i in range(10)},  # Extended Arabic-Indic (Persian, Urdu) ۰-۹
}
_PUNCTUATION = {
    0x066B: ".",  # ARABIC DECIMAL SEPARATOR ٫
    0x060C: ",",  # ARABIC COMMA ،
    0x061B: ";",  # ARABIC SEMICOLON ؛
    0x2212: "-",  # MINUS SIGN, which some keyboards give for "-"
}
_INVISIBLE = [0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C, 0x200D]
_INVISIBLE.append(0xFEFF)
_SPACES = [0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000]
_TABLE: dict[int, str | None] = {
    **_DIGITS,
    **_PUNCTUATION,
    **dict.fromkeys(_INVISIBLE),
    **dict.fromkeys(_SPACES, " "),
}
# ARABIC THOUSANDS SEPARATOR ٬ groups digits, so between digits it is dropped; anywhere else it
# can only be meant as a list separator, like the Latin comma it resembles.
_GROUPED = re.compile(r"(?<=[0-9])\u066c(?=[0-9])")

# Marks people use for degrees, minutes and seconds, folded to the three ASCII-ish ones the pattern knows.
_DMS_MARKS = str.maketrans({"º": "°", "˚": "°", "′": "'", "’": "'", "‘": "'", "″": '"', "”": '"', "“": '"'})
_MAX_PAIR_CHARS = 200  # far longer than any real typed pair; also bounds the regex work

_NUM = r"[0-9]+(?:\.[0-9]+)?"


def _component(tag: str) -> str:
    return rf"""
        (?:(?P<{tag}pre>[NSEW])\ ?)?
        (?P<{tag}sign>[-+])?
        (?P<{tag}deg>{_NUM})
        (?:\ ?°
            (?:\ ?(?P<{tag}min>{_NUM})\ ?'
                (?:\ ?(?P<{tag}sec>{_NUM})\ ?(?:"|''))?
            )?
        )?
        (?({tag}pre)|(?:\ ?(?P<{tag}post>[NSEW]))?)
    """


_PAIR = re.compile(
    rf"""\(?\ ?{_component("a")}(?:\ ?[,;]\ ?|\ |(?<=[NSEW°'"])){_component("b")}\ ?\)?""",
    re.ASCII | re.IGNORECASE | re.VERBOSE,
)
_SPACE_RUN = re.compile(r"\s+")


def normalise_digits(text: str) -> str:
    """Fold Arabic-Indic and Persian digits, Arabic punctuation, odd spaces and direction marks to ASCII.

    Arabic keyboards give ``٢٤٫٧١٣٦، ٤٦٫٦٧٥٣`` for what a Latin keyboard gives as ``24.7136, 46.6753``,
    and copying from right-to-left text drags invisible marks (RLM, isolates, ZWJ, BOM) along; without
    this, two strings a person reads as identical would parse differently.

    >>> normalise_digits("\\u200f٢٤٫٧١٣٦، ۴۶٫۶۷۵۳")
    '24.7136, 46.6753'
    >>> normalise_digits("١٬٢٣٤")
    '1234'
    """
    return _GROUPED.sub("", text.translate(_TABLE)).replace("\u066c", ",")


def read_coordinates(text: str) -> Point | None:
    """Read a typed pair as ``Point(lon, lat)`` without range checks; None when it is not a pair.

    The unchecked form lets :func:`geo.parse.parse_geometry` try the swapped-order heuristic before
    deciding that an out-of-range value is simply wrong.
    """
    text = text.strip()
    if len(text) > 4 * _MAX_PAIR_CHARS:  # cheap bail-out before normalising a long text
        return None
    flat = _SPACE_RUN.sub(" ", normalise_digits(text).translate(_DMS_MARKS)).strip()
    if len(flat) > _MAX_PAIR_CHARS:
        return None
    match = _PAIR.fullmatch(flat)
    if match is None:
        return _loose_pair(flat)
    first, second = _component_value(match, "a"), _component_value(match, "b")
    if first is None or second is None:
        return None
    axes = _axes(first[1], second[1])
    if axes is None:
        return None
    values = {axes[0]: first[0], axes[1]: second[0]}
    return Point(values["lon"], values["lat"])


# Two numbers as Python reads them, which the pattern above does not: exponents ("1e999"), "nan", "inf".
# They are never a real place, but they are a pair: reading them lets the checks say what is wrong with
# them (not finite, out of range) instead of "not a location", and keeps them from a place-name search.
_LOOSE = re.compile(r"\(?\s*([^\s,;()]+)\s*[,;\s]\s*([^\s,;()]+)\s*\)?")
_LOOSE_NUMBER = re.compile(
    r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?|nan|inf(?:inity)?)", re.I
)


def _loose_pair(flat: str) -> Point | None:
    match = _LOOSE.fullmatch(flat)
    if match is None or not all(_LOOSE_NUMBER.fullmatch(part) for part in match.groups()):
        return None
    lat, lon = (float(part) for part in match.groups())
    return Point(lon, lat)


def looks_like_coordinates(text: str) -> bool:
    """Text made only of numbers (or NaN / infinity) and the marks of a coordinate pair: never a place name.

    >>> looks_like_coordinates("NaN, NaN"), looks_like_coordinates("-inf"), looks_like_coordinates("Exit 5")
    (True, True, False)
    """
    flat = _SPACE_RUN.sub(" ", normalise_digits(text).translate(_DMS_MARKS)).strip()
    if not flat or len(flat) > _MAX_PAIR_CHARS:
        return False
    tokens = [t for t in re.split(r"[\s,;()°'\"]+", flat) if t]
    numbers = [t for t in tokens if _LOOSE_NUMBER.fullmatch(t) or re.fullmatch(r"[NSEW]", t, re.I)]
    return bool(tokens) and len(numbers) == len(tokens) and any(_LOOSE_NUMBER.fullmatch(t) for t in tokens)


def parse_coordinates(text: str) -> Point | None:
    """Parse a typed coordinate pair (latitude first unless lettered) into ``Point(lon, lat)``.

    Returns None when the text is not a pair at all; raises :class:`GeometryError` when it is a pair
    whose values cannot be a place on Earth.
    """
    point = read_coordinates(text)
    if point is not None:
        check_ranges(np.array([[point.x, point.y]]))
    return point


def check_ranges(lon_lat: np.ndarray) -> None:
    """Raise unless every (lon, lat) row is finite, with lat in [-90, 90] and lon in [-180, 180]."""
    if not np.isfinite(lon_lat).all():
        raise GeometryError(Reason.NOT_FINITE, "a coordinate is NaN or infinite")
    if lon_lat.size == 0:
        return
    if np.abs(lon_lat[:, 1]).max() > 90.0:
        raise GeometryError(Reason.LAT_OUT_OF_RANGE, f"latitude {_worst(lon_lat[:, 1])} is outside ±90")
    if np.abs(lon_lat[:, 0]).max() > 180.0:
        raise GeometryError(Reason.LON_OUT_OF_RANGE, f"longitude {_worst(lon_lat[:, 0])} is outside ±180")


def _worst(values: np.ndarray) -> float:
    return float(values[np.abs(values).argmax()])


def _component_value(match: re.Match[str], tag: str) -> tuple[float, str | None] | None:
    """The signed decimal degrees of one component and its hemisphere letter, or None if malformed."""
    pre, post, sign = match[f"{tag}pre"], match[f"{tag}post"], match[f"{tag}sign"]
    degrees, minutes, seconds = match[f"{tag}deg"], match[f"{tag}min"], match[f"{tag}sec"]
    letter = (pre or post or "").upper() or None
    if letter and sign:
        return None  # "-24.7S" says south twice, or north: refuse rather than guess
    if (minutes is not None and "." in degrees) or (seconds is not None and "." in minutes):
        return None  # only the last of degrees/minutes/seconds may carry a fraction
    value = float(degrees)
    for part, scale in ((minutes, 60.0), (seconds, 3600.0)):
        if part is not None:
            if float(part) >= 60.0:
                return None
            value += float(part) / scale
    if sign == "-" or letter in ("S", "W"):
        value = -value
    return value, letter


def _axes(first: str | None, second: str | None) -> tuple[str, str] | None:
    """Which component is lat and which lon: letters decide, else latitude comes first."""
    axis = {"N": "lat", "S": "lat", "E": "lon", "W": "lon", None: None}
    a, b = axis[first], axis[second]
    if a is None and b is None:
        return "lat", "lon"
    if a is None:
        a = "lat" if b == "lon" else "lon"
    if b is None:
        b = "lat" if a == "lon" else "lon"
    return (a, b) if a != b else None
