"""What the CAP tests share: the OASIS schema, the samples, and the rules every alert we write must keep."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import shapely
from lxml import etree
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine

from closures.emergency_models import Emergency
from closures.store import bump_change_counter, session_scope

ROOT = Path(__file__).resolve().parents[2]
XSD = ROOT / "tests" / "schemas" / "cap-1.2" / "CAP-v1.2.xsd"
SAMPLES = Path(__file__).resolve().parent / "cap_samples"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
_PAIR = re.compile(r"^(-?\d{1,2}\.\d{1,5}),(-?\d{1,3}\.\d{1,5})$")  # lat,lon with at most 5 decimals


@cache
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def schema_errors(document: bytes) -> list[str]:
    schema = cap_schema()
    if schema.validate(etree.fromstring(document)):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def rule_errors(document: bytes, *, within: BaseGeometry | None = None) -> list[str]:
    """What the OASIS schema cannot check and we promise: areaDesc under 50 characters; every polygon a
    closed ring of at least 4 ``lat,lon`` pairs (latitude first, 5 decimals at most) inside ``within``;
    references as sender,identifier,sent triples on an Update or Cancel and never on an Alert."""
    root = etree.fromstring(document)
    errors = []
    for desc in root.iter(f"{CAP}areaDesc"):
        if not desc.text or len(desc.text) >= 50:
            errors.append(f"areaDesc of {len(desc.text or '')} characters: {desc.text!r}")
    for polygon in root.iter(f"{CAP}polygon"):
        pairs = (polygon.text or "").split()
        if len(pairs) < 4 or pairs[0] != pairs[-1]:
            errors.append(f"polygon not a closed ring of 4+ pairs: {pairs[:3]}…")
            continue
        bad = [p for p in pairs if not _PAIR.match(p)]
        if bad:
            errors.append(f"polygon pairs not lat,lon with 5 decimals at most: {bad[:3]}")
            continue
        points = [(float(p.split(",")[1]), float(p.split(",")[0])) for p in pairs]
        ring = Polygon(points)
        if not ring.is_valid:
            errors.append("polygon ring crosses itself")
        if within is not None and not within.covers(ring):
            errors.append(f"polygon outside the municipality: {ring.wkt[:80]}")
    kind = root.findtext(f"{CAP}msgType")
    references = root.findtext(f"{CAP}references")
    if kind in ("Update", "Cancel"):
        triples = (references or "").split()
        if not triples:
            errors.append(f"{kind} without references")
        for triple in triples:
            parts = triple.split(",")
            if len(parts) != 3 or not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$", parts[2]):
                errors.append(f"reference {triple!r} is not sender,identifier,sent")
    elif references:
        errors.append(f"an {kind} with references")
    return errors


SENDER = "riyadh@roads.example.org"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
FLOOD_AREA = box(46.60, 24.60, 46.75, 24.72)  # Wadi Hanifah to Al Olaya


def event_name(hazard: str, lang: str) -> str:
    return {("flood", "ar"): "سيول", ("flood", "en"): "Flood"}.get((hazard, lang), f"{hazard}:{lang}")


def emergency_version(
    muni_id: int,
    *,
    id: int,
    first_id: int,
    version: int = 1,
    msg_type: str = "alert",
    sent_at: datetime = T0,
    area: BaseGeometry = FLOOD_AREA,
    **overrides: object,
) -> Emergency:
    """One issued emergency version as the emergency service writes it (values derived as it derives them)."""
    minx, miny, maxx, maxy = area.bounds
    values: dict[str, object] = {
        "id": id,
        "identifier": f"riyadh-{first_id}-{version}",
        "municipality_id": muni_id,
        "first_id": first_id,
        "version": version,
        "msg_type": msg_type,
        "state": "issued",
        "exercise": False,
        "hazard": "flood",
        "level": "alarm",
        "cap_category": "Met",
        "cap_severity": "Extreme",
        "cap_urgency": "Immediate",
        "cap_certainty": "Observed",
        "cap_response": "Avoid",
        "headline_ar": "إنذار أحمر: سيول في وادي حنيفة",
        "headline_en": "Red alarm: floods in Wadi Hanifah",
        "instruction_ar": "ابتعدوا عن الأنفاق ومجاري الأودية",
        "instruction_en": "Keep away from underpasses and valley beds",
        "area_desc_ar": "وادي حنيفة والعليا",
        "area_desc_en": "Wadi Hanifah and Al Olaya",
        "area_geojson": shapely.to_geojson(area),
        "area_source": "drawn",
        "min_lon": minx,
        "min_lat": miny,
        "max_lon": maxx,
        "max_lat": maxy,
        "sent_at": sent_at,
        "expires_at": T0 + timedelta(hours=6),
        "created_by": "tg:1001",
        "created_at": sent_at,
        "updated_at": sent_at,
    }
    return Emergency(**(values | overrides))


def store_versions(engine: Engine, *versions: Emergency) -> None:
    with session_scope(engine) as session:
        for version in versions:
            session.add(version)
            session.flush()
        bump_change_counter(session)


_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


def moved(document: bytes, now: datetime) -> bytes:
    """``document`` with every time moved as if ``T0`` (the samples' morning) were ``now``: for tests that
    run on the real clock (the command line)."""
    delta = now - T0

    def shift(match: re.Match[bytes]) -> bytes:
        when = datetime.fromisoformat(match[0].decode()) + delta
        return when.replace(microsecond=0).isoformat().encode()

    return _STAMP.sub(shift, document)
