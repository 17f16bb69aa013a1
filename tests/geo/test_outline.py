"""geo.outline: simple outlines of areas that cover them, stay inside the boundary, and have few vertices."""

from __future__ import annotations

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

from geo.outline import outlines_within
from geo.projection import Projection

UTM38 = Projection(32638)
RIYADH = box(46.45, 24.455, 47.05, 25.05)
# a municipality drawn in detail: a circle of 4,000 vertices
DETAILED_TOWN = Point(46.70, 24.70).buffer(0.06, quad_segs=1000)


def _metres(shape) -> float:
    return UTM38.to_metric(shape).area


def test_a_simple_area_inside_is_its_own_outline():
    area = box(46.60, 24.60, 46.70, 24.70)
    [outline] = outlines_within(area, RIYADH)
    assert outline.equals_exact(area, 1e-7) or outline.normalize().equals_exact(area.normalize(), 1e-7)


def test_a_detailed_area_is_simplified_to_the_vertex_limit_and_still_covers_it():
    area = Point(46.68, 24.71).buffer(0.02, quad_segs=1250)  # 5,000 vertices, well inside the town
    [outline] = outlines_within(area, RIYADH, max_vertices=50)
    assert len(outline.exterior.coords) <= 50
    assert outline.buffer(1e-9).covers(area), "the outline leaves part of the area out"
    assert _metres(outline) < _metres(area) * 1.05, "no more than a thin margin around it"


def test_an_outline_never_crosses_a_detailed_boundary():
    area = Point(46.68, 24.71).buffer(0.05, quad_segs=1250)  # reaches out of the detailed town
    outlines = outlines_within(area, DETAILED_TOWN, max_vertices=60)
    assert outlines
    assert all(len(p.exterior.coords) <= 60 for p in outlines)
    union = shapely.union_all(outlines)
    assert DETAILED_TOWN.covers(union)
    inside = area.intersection(DETAILED_TOWN)
    assert _metres(union.intersection(inside)) / _metres(inside) > 0.98


def test_the_margin_keeps_every_vertex_inside_after_rounding_to_five_decimals():
    outlines = outlines_within(RIYADH, RIYADH)  # the whole municipality
    for outline in outlines:
        rounded = Polygon([(round(x, 5), round(y, 5)) for x, y in outline.exterior.coords])
        assert RIYADH.covers(rounded)


def test_the_parts_of_a_multipolygon_become_several_outlines_and_holes_are_filled():
    ring = box(46.60, 24.60, 46.70, 24.70).difference(box(46.64, 24.64, 46.66, 24.66))
    other = box(46.80, 24.80, 46.85, 24.85)
    outlines = outlines_within(shapely.union_all([ring, other]), RIYADH)
    assert len(outlines) == 2
    assert all(not p.interiors for p in outlines)
    assert shapely.union_all(outlines).covers(Point(46.65, 24.65))


def test_a_line_or_a_point_becomes_a_narrow_area_around_it():
    line = LineString([(46.60, 24.60), (46.70, 24.70)])
    [outline] = outlines_within(line, RIYADH, min_width_m=40)
    assert outline.covers(line)
    assert 15 < UTM38.to_metric(outline).area / UTM38.to_metric(line).length < 45
    [dot] = outlines_within(Point(46.6, 24.6), RIYADH)
    assert dot.covers(Point(46.6, 24.6))


def test_an_area_outside_the_boundary_has_no_outline():
    assert outlines_within(box(39.1, 21.4, 39.2, 21.5), RIYADH) == []
    assert outlines_within(Polygon(), RIYADH) == []


def test_part_of_an_area_outside_is_cut_off():
    area = box(46.90, 24.90, 47.20, 25.20)  # its north-east beyond Riyadh's box
    [outline] = outlines_within(area, RIYADH)
    assert RIYADH.covers(outline)
    assert outline.bounds[2] < 47.05
    assert outline.bounds[3] < 25.05


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    centre=st.tuples(st.floats(46.5, 47.0), st.floats(24.5, 25.0)),
    radius=st.floats(0.002, 0.2),
    spikes=st.integers(3, 400),
    limit=st.integers(8, 120),
)
def test_any_star_shaped_area_gives_outlines_inside_the_town_within_the_limit(centre, radius, spikes, limit):
    import math

    points = [
        (
            centre[0] + radius * (1 - 0.5 * (i % 2)) * math.cos(2 * math.pi * i / spikes),
            centre[1] + radius * (1 - 0.5 * (i % 2)) * math.sin(2 * math.pi * i / spikes),
        )
        for i in range(spikes)
    ]
    area = Polygon(points)
    outlines = outlines_within(area, DETAILED_TOWN, max_vertices=limit)
    assert all(len(p.exterior.coords) <= limit for p in outlines)
    assert all(DETAILED_TOWN.covers(p) for p in outlines)
    if area.intersection(DETAILED_TOWN).area > 1e-6:  # more than a sliver inside: it must be there
        assert outlines
    assert all(p.is_valid and not p.interiors for p in outlines)
