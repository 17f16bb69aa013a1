"""The map page, pure: closures as GeoJSON with their texts in one language, and the page's HTML.

Every sentence comes from the catalogue and is rendered here, on the server; the page's script only
places what it is given (``bot/web/static/map.js``). Times are read in each closure's municipality zone.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import shapely

from bot.i18n import LANGUAGES, Translator
from bot.text.answers import closure_parts
from bot.text.wording import DEFAULT_ZONE
from closures.lifecycle import Phase
from closures.views import Found

_COORD_DECIMALS = 6  # about 10 cm: more only makes the JSON longer


def pick_language(asked: str | None, accept_language: str | None, default: str) -> str:
    """``?lang=`` when it names a language we speak, else the browser's first one we speak, else ``default``.

    >>> pick_language(None, "fr-FR,fr;q=0.9,en;q=0.8", "ar"), pick_language("ar", "en", "en")
    ('en', 'ar')
    """
    if asked in LANGUAGES:
        return asked
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        code, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, code))
    for negative_quality, _, code in sorted(ranked):
        primary = code.strip().replace("_", "-").split("-")[0].lower()
        if negative_quality < 0 and primary in LANGUAGES:
            return primary
    return default if default in LANGUAGES else LANGUAGES[0]


def closure_feature(found: Found, tr: Translator, tz: tzinfo, now: datetime) -> dict[str, Any]:
    """One closure as a GeoJSON Feature whose properties are the texts a popup and a list item show."""
    c = found.closure
    parts = closure_parts(found, tr, tz, now)
    plain = html.unescape  # closure_parts is Telegram HTML; the page places these as text, never as HTML
    phase = "active" if found.phase is Phase.ACTIVE else "upcoming"
    geometry = shapely.set_precision(c.geometry, 10**-_COORD_DECIMALS)
    return {
        "type": "Feature",
        "id": c.id,
        "geometry": json.loads(shapely.to_geojson(geometry if not geometry.is_empty else c.geometry)),
        "properties": {
            "id": c.id,
            "ref": c.ref,
            "phase": phase,
            "status": tr.t(f"web.phase.{phase}"),
            "title": plain(parts.title),
            "reason": parts.reason,
            "severity": plain(parts.severity),
            "direction": parts.direction,
            "timing": plain(parts.timing),
            "detour": plain(parts.detour) if parts.detour else None,
            "radius_m": c.radius_m,
        },
    }


def closures_collection(
    found: Sequence[Found], tr: Translator, zones: Mapping[int, tzinfo], now: datetime
) -> dict[str, Any]:
    """The map's data: active closures first, then upcoming ones, each group soonest first."""
    ordered = sorted(found, key=lambda f: (f.phase is not Phase.ACTIVE, f.closure.starts_at, f.closure.id))
    features = [
        closure_feature(f, tr, zones.get(f.closure.municipality_id, DEFAULT_ZONE), now) for f in ordered
    ]
    active = sum(1 for f in found if f.phase is Phase.ACTIVE)
    return {
        "type": "FeatureCollection",
        "features": features,
        "summary": tr.t(
            "web.map.summary",
            active=tr.n("web.map.active_count", active),
            upcoming=tr.n("web.map.upcoming_count", len(found) - active),
        ),
    }


@dataclass(frozen=True, slots=True)
class PageOptions:
    closures_url: str
    boundaries_url: str
    refresh_s: float
    tile_url: str | None
    tile_attribution: str


def map_page(tr: Translator, options: PageOptions) -> str:
    """The whole page in ``tr``'s language; right to left in Arabic."""
    other = next(lang for lang in LANGUAGES if lang != tr.lang)
    config = {
        "lang": tr.lang,
        "closuresUrl": options.closures_url,
        "boundariesUrl": options.boundaries_url,
        "refreshMs": round(options.refresh_s * 1000),
        "tiles": {"url": options.tile_url, "attribution": options.tile_attribution}
        if options.tile_url
        else None,
        "text": {key: tr.t(f"web.map.{key}") for key in ("empty", "unavailable", "here")},
    }
    e = html.escape
    return _PAGE.format(
        lang=tr.lang,
        dir="rtl" if tr.lang == "ar" else "ltr",
        title=e(tr.t("web.map.title")),
        heading=e(tr.t("web.map.heading")),
        map_label=e(tr.t("web.map.map_label")),
        list_heading=e(tr.t("web.map.list_heading")),
        loading=e(tr.t("web.map.loading")),
        other_lang=other,
        other_name=e(tr.t(f"web.map.language_{other}")),
        legend_active=e(tr.t("web.phase.active")),
        legend_upcoming=e(tr.t("web.phase.upcoming")),
        feeds_label=e(tr.t("web.map.feeds")),
        config=script_json(config),
    )


def script_json(value: Any) -> str:
    """JSON that cannot end the <script> element it sits in."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="static/leaflet/leaflet.css">
<link rel="stylesheet" href="static/map.css">
</head>
<body data-state="loading">
<header class="top">
<h1>{heading}</h1>
<ul class="legend">
<li><span class="swatch active"></span>{legend_active}</li>
<li><span class="swatch upcoming"></span>{legend_upcoming}</li>
</ul>
<a class="lang" href="?lang={other_lang}" hreflang="{other_lang}" lang="{other_lang}">{other_name}</a>
</header>
<main class="layout">
<div id="map" dir="ltr" role="region" aria-label="{map_label}"></div>
<aside class="side">
<h2>{list_heading}</h2>
<p id="summary" aria-live="polite">{loading}</p>
<ol id="closures"></ol>
<p class="feeds">{feeds_label} <a href="feeds/closures.geojson">GeoJSON</a>
· <a href="feeds/wzdx.json">WZDx</a> · <a href="feeds/waze.xml">Waze CIFS</a>
· <a href="feeds/closures.atom?lang={lang}">Atom</a>
· <a href="feeds/cap.atom?lang={lang}" type="application/atom+xml">CAP</a></p>
</aside>
</main>
<script type="application/json" id="map-config">{config}</script>
<script src="static/leaflet/leaflet.js"></script>
<script src="static/map.js"></script>
</body>
</html>
"""
