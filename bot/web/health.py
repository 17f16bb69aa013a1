"""``/health`` and ``/metrics``: whether this process can serve, and its figures for Prometheus.

Each web app has its own ``CollectorRegistry`` (no module-level metrics), so two apps in one process (a
test's two instances) keep separate counts. The store's figures are read when Prometheus scrapes, in a
worker thread; the request counters are kept as requests pass, and the event loop's lag as a histogram
(``bot.looplag``, watched while the app runs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import sqlalchemy.exc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.looplag import BUCKETS_S, LoopLag
from bot.services import Services
from closures.lifecycle import Phase
from closures.models import OutboxStatus
from closures.publishing import backlog
from closures.store import change_counter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    database: str  # "ok", or why not
    store_counter: int | None  # the store's change counter
    index_counter: int | None  # the counter this process's index was built at
    index_age_s: float | None  # since this process's index was built (rebuilt when the counter moves)
    closures_active: int | None
    closures_upcoming: int | None
    outbox_backlog: int | None  # posts waiting or being sent
    outbox_dead: int | None

    def as_json(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "unavailable", **asdict(self)}


def read_health(services: Services) -> Health:
    """The figures, read from the store and the index (blocking: call from a worker thread)."""
    try:
        store_counter = change_counter(services.engine)
        relevant = services.queries.relevant()
        report = backlog(services.engine, dead_limit=0)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = f"unreachable: {type(getattr(exc, 'orig', None) or exc).__name__}"
        log.warning("health: the database is %s", reason)
        return Health(False, reason, None, None, _index_age(services), None, None, None, None)
    active = sum(1 for f in relevant.found if f.phase is Phase.ACTIVE)
    pending = sum(report.counts.get(s.value, 0) for s in (OutboxStatus.PENDING, OutboxStatus.CLAIMED))
    return Health(
        ok=True,
        database="ok",
        store_counter=store_counter,
        index_counter=relevant.counter,
        index_age_s=_index_age(services),
        closures_active=active,
        closures_upcoming=len(relevant.found) - active,
        outbox_backlog=pending,
        outbox_dead=report.counts.get(OutboxStatus.DEAD.value, 0),
    )


def _index_age(services: Services) -> float | None:
    built = services.queries.built_at
    return None if built is None else round((services.clock() - built).total_seconds(), 3)


class _StoreCollector(Collector):
    """The store's figures, read at each scrape."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = read_health(self._services)
        yield GaugeMetricFamily("roadbot_database_up", "1 if the database answered", value=int(health.ok))
        figures = {
            "roadbot_index_age_seconds": ("Age of this process's closure index", health.index_age_s),
            "roadbot_outbox_backlog": ("Posts waiting or being sent", health.outbox_backlog),
            "roadbot_outbox_dead": ("Posts given up on (dead letters)", health.outbox_dead),
        }
        for name, (doc, value) in figures.items():
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=value)
        if health.closures_active is not None and health.closures_upcoming is not None:
            closures = GaugeMetricFamily("roadbot_closures", "Closures drivers hear of", labels=["phase"])
            closures.add_metric(["active"], health.closures_active)
            closures.add_metric(["upcoming"], health.closures_upcoming)
            yield closures


class WebMetrics:
    """One app's registry: HTTP requests by route and status, webhook updates, the event loop's lag, and the
    store's figures."""

    def __init__(self, services: Services) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "roadbot_http_requests",
            "HTTP requests answered, by route template and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.webhook_updates = Counter(
            "roadbot_webhook_updates",
            "Telegram webhook posts, by outcome (accepted, refused, malformed)",
            ["outcome"],
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "roadbot_event_loop_lag_seconds",
            "How late the event loop ran a callback due every 20 ms (the bot's replies wait as long)",
            buckets=BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(services))

    def loop_lag_monitor(self) -> LoopLag:
        """A monitor feeding the lag histogram (started and stopped with the app)."""
        return LoopLag(on_lag=self.loop_lag.observe)

    def webhook_counted(self, outcome: str) -> None:
        self.webhook_updates.labels(outcome).inc()


def health_routes(services: Services, metrics: WebMetrics) -> list[BaseRoute]:
    """``/health`` (JSON, for load balancers) and ``/metrics`` (Prometheus' text format)."""

    async def health(request: Request) -> Response:
        """200 when the database answers, 503 when it does not; the figures either way."""
        report = await asyncio.to_thread(read_health, services)
        return JSONResponse(report.as_json(), status_code=200 if report.ok else 503)

    async def prometheus(request: Request) -> Response:
        """The figures in Prometheus' text format."""
        body = await asyncio.to_thread(generate_latest, metrics.registry)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]


class CountRequests:
    """ASGI middleware: count each HTTP response under its route's template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, str(status)).inc()
