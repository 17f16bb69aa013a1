"""``geo.geojson.many_from_geojson``: stored geometries read in vectorised steps, every one, in order."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import LineString, Point

from geo.geojson import many_from_geojson


@pytest.mark.parametrize("chunk", [1, 2, 3, 500])
def test_many_from_geojson_reads_every_geometry_in_order_whatever_the_chunk(chunk: int):
    shapes = [Point(46.6 + i / 100, 24.7) for i in range(7)] + [LineString([(46.6, 24.7), (46.7, 24.8)])]
    texts = [shapely.to_geojson(s) for s in shapes]

    read = many_from_geojson(texts, chunk=chunk)

    assert [g.wkt for g in read] == [s.wkt for s in shapes]
    assert many_from_geojson([], chunk=chunk) == []


def test_many_from_geojson_refuses_a_chunk_of_nothing():
    with pytest.raises(ValueError, match="at least 1"):
        many_from_geojson(["{}"], chunk=0)
