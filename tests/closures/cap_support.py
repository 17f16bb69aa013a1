"""What the CAP tests share: the OASIS schema, the samples, and the rules every alert we write must keep."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from lxml import etree
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

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
