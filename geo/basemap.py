"""What a post's map shows under a closure when there are no tiles: the municipality's boundary and the main
roads near the closure with their names, then the closure's direction arrow and its title on top.

Pure drawing on a Pillow image, in the pixel frame :mod:`geo.render` computed; no I/O but the font files.
Arabic text is shaped (Pillow with libraqm) in a font that has Arabic letters; without one, the English
name is drawn instead, and without either, no label: a map never fails for want of a font.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import ImageDraw, ImageFont, features
from shapely.geometry import LineString, box
from shapely.geometry.base import BaseGeometry

type Project = Callable[[float, float], tuple[float, float]]  # lon, lat → image x, y

BOUNDARY = (92, 107, 122)
ROAD_CASING, ROAD = (170, 165, 155), (255, 255, 255)
ARROW = (120, 10, 10)
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf")
_ARABIC = range(0x0600, 0x0700)


@dataclass(frozen=True, slots=True)
class Road:
    line: LineString  # lon/lat
    name_ar: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Basemap:
    """The surroundings of one closure: its municipality's boundary and roads near it (lon/lat)."""

    boundary: BaseGeometry | None = None
    roads: Sequence[Road] = field(default_factory=tuple)


def draw_basemap(
    draw: ImageDraw.ImageDraw,
    basemap: Basemap,
    project: Project,
    size: tuple[int, int],
    keep_clear: BaseGeometry | None = None,
) -> None:
    """The boundary (a line where it crosses the frame) and the roads with a name each, on the plain map;
    names are placed off ``keep_clear`` (the closure, in image pixels) and off each other."""
    if basemap.boundary is not None:
        for ring in _rings(basemap.boundary):
            draw.line([project(x, y) for x, y in ring], fill=BOUNDARY, width=3)
    for road in basemap.roads:
        points = [project(x, y) for x, y in road.line.coords]
        draw.line(points, fill=ROAD_CASING, width=12, joint="curve")
        draw.line(points, fill=ROAD, width=8, joint="curve")
    taken: list[BaseGeometry] = [keep_clear.buffer(10)] if keep_clear is not None else []
    for road in basemap.roads:
        _road_label(draw, road, project, size, taken)


def draw_arrow(draw: ImageDraw.ImageDraw, at: tuple[float, float], bearing_deg: float) -> None:
    """An arrow through ``at`` pointing along ``bearing_deg`` (0 = up/north): the way closed traffic goes."""
    angle = math.radians(bearing_deg)
    dx, dy = math.sin(angle), -math.cos(angle)
    length = 34
    tail = (at[0] - dx * length, at[1] - dy * length)
    tip = (at[0] + dx * length, at[1] + dy * length)
    for width, colour in ((11, (255, 255, 255)), (6, ARROW)):
        draw.line([tail, tip], fill=colour, width=width)
    side = (-dy, dx)
    head = [
        (tip[0] + dx * 10, tip[1] + dy * 10),
        (tip[0] - dx * 10 + side[0] * 12, tip[1] - dy * 10 + side[1] * 12),
        (tip[0] - dx * 10 - side[0] * 12, tip[1] - dy * 10 - side[1] * 12),
    ]
    draw.polygon(head, fill=ARROW, outline=(255, 255, 255), width=2)


def draw_title(draw: ImageDraw.ImageDraw, title_ar: str | None, title_en: str | None, width: int) -> None:
    """The closure's title in a band across the top: Arabic when it can be shaped, else English."""
    text, rtl = _drawable(title_ar, title_en)
    if not text:
        return
    font = label_font(18)
    text = _shorten(draw, text, font, width - 90)
    draw.rectangle([0, 0, width, 34], fill=(255, 255, 255, 225))
    x, anchor = (width - 70, "rm") if rtl else (12, "lm")
    draw.text((x, 17), text, fill=(20, 20, 20), font=font, anchor=anchor, direction="rtl" if rtl else None)


def _road_label(
    draw: ImageDraw.ImageDraw, road: Road, project: Project, size: tuple[int, int], taken: list[BaseGeometry]
) -> None:
    """The road's name on a white box along its visible part, where it covers neither the closure nor
    another name; none when there is no such place."""
    width, height = size
    points = [project(x, y) for x, y in road.line.coords]
    visible = LineString(points).intersection(box(40, 50, width - 40, height - 40))
    text, rtl = _drawable(road.name_ar, road.name_en)
    if visible.is_empty or visible.length < 80 or not text:
        return
    font = label_font(13)
    direction = "rtl" if rtl else None
    for fraction in (0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9):
        at = visible.interpolate(fraction, normalized=True)
        left, top, right, bottom = draw.textbbox(
            (at.x, at.y), text, font=font, anchor="mm", direction=direction
        )
        label = box(left - 4, top - 3, right + 4, bottom + 3)
        if not any(label.intersects(other) for other in taken):
            taken.append(label)
            draw.rectangle(label.bounds, fill=(255, 255, 255, 235), outline=ROAD_CASING)
            draw.text((at.x, at.y), text, fill=(60, 60, 60), font=font, anchor="mm", direction=direction)
            return


def _drawable(arabic: str | None, english: str | None) -> tuple[str, bool]:
    """The text to draw and whether it is Arabic: Arabic only with shaping and an Arabic font."""
    if arabic and _can_shape_arabic():
        return arabic, True
    if english:
        return english, False
    if arabic and not any(ord(c) in _ARABIC for c in arabic):
        return arabic, False
    return "", False


@cache
def _can_shape_arabic() -> bool:
    return bool(features.check("raqm")) and _font_path() is not None


@cache
def _font_path() -> str | None:
    return next((p for p in _FONTS if Path(p).is_file()), None)


@cache
def label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    path = _font_path()
    if path is not None:
        return ImageFont.truetype(path, size)
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def _shorten(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, limit: float
) -> str:
    while len(text) > 4 and draw.textlength(text, font=font) > limit:
        text = text[:-2].rstrip() + "…"
    return text


def _rings(area: BaseGeometry) -> list[list[tuple[float, float]]]:
    polygons = getattr(area, "geoms", [area])
    return [list(p.exterior.coords) for p in polygons if p.geom_type == "Polygon"]
