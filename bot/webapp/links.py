"""The ``web_app`` URLs the bot puts under its messages, all under ``WEBAPP_URL`` (a public HTTPS base).

The pages read their parameters from the query: the editor its language, the token of the question that
opened it and the closure being edited; the live map its language, the driver's point and the closures to
highlight (``bot/web/static/map.js``).

>>> editor_url("https://roads.example.org", lang="en", token="abc", closure_id=None)
'https://roads.example.org/webapp/editor?lang=en&d=abc'
>>> editor_url("https://roads.example.org", lang="ar", token="xyz", closure_id=None, emergency_in=1)
'https://roads.example.org/webapp/editor?lang=ar&d=xyz&e=1'
>>> map_url("https://roads.example.org", lang="ar", lat=24.7114, lon=46.6744, closure_ids=[3, 12])
'https://roads.example.org/?lang=ar&at=24.71140%2C46.67440&ids=3%2C12'
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

EDITOR_PATH = "/webapp/editor"
DRAWING_PATH = "/webapp/drawing"  # where the editor posts the finished drawing


def editor_url(
    base: str, *, lang: str, token: str, closure_id: int | None, emergency_in: int | None = None
) -> str:
    """The map editor for the question ``token`` names (and, editing, closure ``closure_id``; for an
    emergency's area, municipality ``emergency_in``, which the page frames and draws an area in)."""
    query = {"lang": lang, "d": token}
    if closure_id is not None:
        query["c"] = str(closure_id)
    if emergency_in is not None:
        query["e"] = str(emergency_in)
    return f"{base.rstrip('/')}{EDITOR_PATH}?{urlencode(query)}"


def map_url(base: str, *, lang: str, lat: float, lon: float, closure_ids: Iterable[int]) -> str:
    """The live map centred on (``lat``, ``lon``) with ``closure_ids`` highlighted."""
    query = {"lang": lang, "at": f"{lat:.5f},{lon:.5f}", "ids": ",".join(str(i) for i in closure_ids)}
    return f"{base.rstrip('/')}/?{urlencode(query)}"
