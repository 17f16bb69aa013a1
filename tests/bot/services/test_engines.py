"""The router the settings ask for: the straight line by default, an engine behind the fallback otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.services.engines import router_from_settings
from geo.osrm import OsrmHttp
from geo.routing import FallbackRouter, StraightLineRouter
from geo.valhalla import ValhallaEmbedded, ValhallaHttp
from tests.fakes.routing import RoutingServer
from tests.geo.helsinki import LASIPALATSI, YLIOPISTONKATU


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_by_default_routes_are_the_labelled_straight_line() -> None:
    assert settings().routing_engine == "none"
    router = router_from_settings(settings())
    assert isinstance(router, StraightLineRouter)
    assert router.route(LASIPALATSI, YLIOPISTONKATU).approximate


@pytest.mark.parametrize(("engine", "kind"), [("valhalla-http", ValhallaHttp), ("osrm-http", OsrmHttp)])
def test_an_http_engine_is_used_behind_the_fallback(engine: str, kind: type) -> None:
    with RoutingServer().running() as server:
        router = router_from_settings(settings(routing_engine=engine, routing_url=server.url))
        assert isinstance(router, FallbackRouter)
        assert isinstance(router.engine, kind)
        route = router.route(LASIPALATSI, YLIOPISTONKATU)
        router.close()
    assert route.engine == engine
    assert not route.approximate


def test_an_http_engine_without_a_url_is_said_and_routes_stay_straight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = router_from_settings(settings(routing_engine="osrm-http"))
    assert isinstance(router, StraightLineRouter)
    assert "routing_engine=osrm-http needs routing_url" in caplog.text


def test_embedded_valhalla_without_tiles_is_said_at_start_and_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    router = router_from_settings(settings(routing_engine="valhalla", routing_tiles_dir=tmp_path / "none"))

    assert f"no Valhalla tiles at {tmp_path / 'none'}" in caplog.text
    assert router.route(LASIPALATSI, YLIOPISTONKATU).approximate
    router.close()  # type: ignore[attr-defined]


def test_embedded_valhalla_on_tiles_routes_on_the_roads(helsinki_tiles: Path) -> None:
    router = router_from_settings(settings(routing_engine="valhalla", routing_tiles_dir=helsinki_tiles))
    assert isinstance(router, FallbackRouter)
    assert isinstance(router.engine, ValhallaEmbedded)
    route = router.route(LASIPALATSI, YLIOPISTONKATU)
    router.close()
    assert route.engine == "valhalla"
    assert "Eteläesplanadi" in route.street_names


def test_the_engine_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTING_ENGINE", "valhalla-http")
    monkeypatch.setenv("ROUTING_URL", "http://valhalla:8002")
    monkeypatch.setenv("ROUTING_TIMEOUT_S", "2.5")
    loaded = settings()
    assert (loaded.routing_engine, loaded.routing_url, loaded.routing_timeout_s) == (
        "valhalla-http",
        "http://valhalla:8002",
        2.5,
    )
    monkeypatch.setenv("ROUTING_ENGINE", "graphhopper")
    with pytest.raises(ValueError, match="routing_engine"):
        settings()
