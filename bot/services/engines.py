"""The routing engine and the geocoder the settings ask for.

A misconfigured or missing one is logged, in English, and replaced (routes fall back to the labelled straight
line, place names are off), so the bot still runs.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.config import Settings
from geo.geocoding import Geocoder
from geo.geopy_providers import make_geocoder
from geo.osrm import OsrmHttp
from geo.routing import FallbackRouter, Router, StraightLineRouter
from geo.valhalla import ValhallaEmbedded, ValhallaHttp
from geo.valhalla_tiles import TilesError, valhalla_bin_dir

log = logging.getLogger(__name__)


def geocoder_from(settings: Settings) -> Geocoder | None:
    """The configured geocoder; a misconfigured one is logged and left out, so the bot still runs."""
    try:
        return make_geocoder(settings.geocoder_config())
    except ValueError as exc:
        log.error("geocoding is off: %s", exc)
        return None


def engine_from_settings(settings: Settings) -> Any:
    """The bare engine (raising ``RoutingError``s), or None when routing_engine is "none"."""
    timeout = settings.routing_timeout_s
    match settings.routing_engine:
        case "valhalla":
            return ValhallaEmbedded(settings.routing_tiles_dir, timeout_s=timeout)
        case "valhalla-http" | "osrm-http" if not settings.routing_url:
            raise ValueError(f"routing_engine={settings.routing_engine} needs routing_url")
        case "valhalla-http":
            return ValhallaHttp(str(settings.routing_url), timeout_s=timeout)
        case "osrm-http":
            return OsrmHttp(str(settings.routing_url), timeout_s=timeout)
    return None


def router_from_settings(settings: Settings) -> Router:
    """The configured engine behind the straight-line fallback; the straight line alone when none is set.

    A missing piece (no pyvalhalla, no tiles, no URL) is logged now, in English, and routes fall back to
    the straight line instead of stopping the bot.
    """
    try:
        engine = engine_from_settings(settings)
    except ValueError as exc:
        log.warning("routing is not configured properly (%s); routes are straight lines", exc)
        return StraightLineRouter()
    if engine is None:
        return StraightLineRouter()
    if isinstance(engine, ValhallaEmbedded):
        try:
            valhalla_bin_dir()
        except TilesError as exc:
            log.warning("%s; routes are straight lines", exc)
        if not engine.config_path.is_file():
            log.warning(
                "no Valhalla tiles at %s (run `roadbot routing build --pbf FILE`); routes are straight lines",
                engine.config_path.parent,
            )
    return FallbackRouter(engine)
