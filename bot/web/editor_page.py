"""The map editor's page, pure: the HTML with every word in the operator's language, and its settings.

Like the map page, every sentence is rendered here from the catalogue; ``bot/web/static/editor.js`` only
places them. The page loads Telegram's ``telegram-web-app.js`` from Telegram (its licence does not allow
copying it here); without it — outside Telegram, or in tests that hand the page a stand-in — the page reads
Telegram's launch parameters from its own address, and works the same.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from bot.i18n import Translator
from bot.web.map_page import script_json

TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
MODES = ("point", "line", "area")
_TEXTS = (
    "hint.point", "hint.line", "hint.area", "snapping", "kept_straight", "sending", "sent", "unavailable",
    "refused.forged", "refused.stale", "refused.not_staff", "refused.replayed", "refused.no_telegram",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class EditorOptions:
    draft: str | None  # the token of the question that opened the editor
    closure_id: int | None  # the closure being edited, drawn under the new shape
    radii_m: Sequence[int]  # the radii a point may have, as /new offers them
    default_radius_m: int
    snap: bool  # whether a line's taps are snapped to the roads (a road router is configured)
    tile_url: str | None
    tile_attribution: str
    emergency_in: int | None = None  # an emergency's area in this municipality: framed, and only areas


def modes_of(options: EditorOptions) -> tuple[str, ...]:
    """The shapes the page offers: an emergency's area is an area; a closure's place any of the three."""
    return ("area",) if options.emergency_in is not None else MODES


def editor_page(tr: Translator, options: EditorOptions) -> str:
    """The whole editor in ``tr``'s language; right to left in Arabic (the map itself stays left to right)."""
    lang = tr.lang
    offered = modes_of(options)
    first = "line" if "line" in offered else offered[0]
    text = {key: tr.t(f"web.editor.{key}") for key in _TEXTS}
    title = tr.t("web.editor.title")
    if options.emergency_in is not None:  # the words of an emergency's area, not of a closed one
        text["hint.area"], title = tr.t("web.editor.hint.emergency_area"), tr.t("web.editor.title_emergency")
    config = {
        "lang": lang,
        "draft": options.draft,
        "closure": options.closure_id,
        "emergency": options.emergency_in,
        "mode": first,
        "snap": options.snap,
        "radius": options.default_radius_m,
        "urls": {
            "session": f"session?lang={lang}",
            "snap": f"snap?lang={lang}",
            "drawing": f"drawing?lang={lang}",
            "closures": f"../map/closures.json?lang={lang}",
            "boundaries": f"../map/boundaries.json?lang={lang}",
        },
        "tiles": {"url": options.tile_url, "attribution": options.tile_attribution}
        if options.tile_url
        else None,
        "text": text,
    }
    e = html.escape
    radio = '<button type="button" role="radio" aria-checked="false" data-{kind}="{value}">{label}</button>'
    modes = "\n".join(
        radio.format(kind="mode", value=mode, label=_icon(_ICONS[mode]) + e(tr.t(f"web.editor.mode.{mode}")))
        for mode in offered
    )
    radii = "\n".join(radio.format(kind="radius", value=r, label=e(tr.distance(r))) for r in options.radii_m)
    return _PAGE.format(
        lang=lang,
        dir="rtl" if lang == "ar" else "ltr",
        title=e(title),
        hint=e(text[f"hint.{first}"]),
        mode=first,
        map_label=e(tr.t("web.editor.map_label")),
        shape_label=e(tr.t("web.editor.shape_label")),
        radius_label=e(tr.t("web.editor.radius_label")),
        undo=_icon(_ICONS["undo"], mirrored=True) + e(tr.t("web.editor.undo")),
        done=_icon(_ICONS["done"]) + e(tr.t("web.editor.done")),
        modes=modes,
        radii=radii,
        telegram_script=TELEGRAM_SCRIPT,
        config=script_json(config),
    )


# Drawn, not typed: a phone's fonts may lack a symbol, never a line.
_STROKE = (
    'fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"'
)
_ICONS = {
    "point": f'<circle cx="12" cy="12" r="8" {_STROKE}/><circle cx="12" cy="12" r="3" fill="currentColor"/>',
    "line": f'<polyline points="3,19 9,9 15,14 21,4" {_STROKE}/>',
    "area": f'<polygon points="4,18 7,5 18,4 21,15 12,21" {_STROKE} fill="currentColor" fill-opacity="0.2"/>',
    "undo": f'<path d="M9 5 4 10l5 5" {_STROKE}/><path d="M4 10h10a6 6 0 0 1 0 12h-4" {_STROKE}/>',
    "done": f'<path d="M4 12.5 9.5 18 20 6" {_STROKE}/>',
}


def _icon(drawing: str, *, mirrored: bool = False) -> str:
    """An icon beside a button's label; ``mirrored`` ones point the other way right to left."""
    kind = "icon mirrored" if mirrored else "icon"
    return f'<svg class="{kind}" viewBox="0 0 24 24" aria-hidden="true">{drawing}</svg>'


_PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{title}</title>
<script src="{telegram_script}"></script>
<link rel="stylesheet" href="../static/leaflet/leaflet.css">
<link rel="stylesheet" href="../static/editor.css">
</head>
<body data-state="loading" data-mode="{mode}">
<header class="bar">
<h1>{title}</h1>
<p id="hint" aria-live="polite">{hint}</p>
</header>
<div id="map" dir="ltr" role="application" aria-label="{map_label}"></div>
<footer class="tools">
<p id="notice" role="status" aria-live="assertive" hidden></p>
<div class="modes" role="radiogroup" aria-label="{shape_label}">
{modes}
</div>
<div class="radii" role="radiogroup" aria-label="{radius_label}">
{radii}
</div>
<div class="actions">
<button type="button" id="undo" disabled>{undo}</button>
<button type="button" id="done" class="primary" disabled>{done}</button>
</div>
</footer>
<script type="application/json" id="editor-config">{config}</script>
<script src="../static/leaflet/leaflet.js"></script>
<script src="../static/editor.js"></script>
</body>
</html>
"""
