"""The services the bot's handlers reach through their typed context, built once in ``main()``: the closures'
service and queries, emergencies, drivers and their last locations (written in batches: ``flushing``),
staff, the router and geocoder the settings ask for (``engines``), drivers' profiles read together
(``profiles``) and per-user flood control (``throttle``)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.services.engines import geocoder_from, router_from_settings
from bot.services.profiles import ProfileLoader
from bot.services.throttle import FloodControl
from closures import municipalities
from closures.drivers import DriverDirectory
from closures.emergencies import EmergencyService
from closures.lifecycle import Clock, system_clock
from closures.listing import ClosureListing
from closures.locations import LocationLog
from closures.municipalities import Box
from closures.notices import Notice, NoticeListener
from closures.queries import ClosureQueries
from closures.reach import Reach
from closures.service import ClosureService
from closures.staff import StaffDirectory
from closures.store import PROFILE, make_engine
from geo.geocoding import Geocoder
from geo.routing import Router

BOXES_TTL_S = 60.0


@dataclass
class Services:
    settings: Settings
    engine: Engine
    closures: ClosureService
    queries: ClosureQueries
    drivers: DriverDirectory
    router: Router
    clock: Clock
    locations: LocationLog  # drivers' last locations, written in batches (``bot.services.flushing``)
    zones: dict[int, ZoneInfo] = field(default_factory=dict)
    flood: FloodControl = field(default_factory=FloodControl)
    geocoder: Geocoder | None = None  # None: place names are not looked up (GEOCODER=none)
    _boxes: tuple[float, dict[int, Box]] | None = field(
        default=None, init=False, repr=False
    )  # (when read, boxes by municipality id)

    @classmethod
    def build(
        cls, settings: Settings, *, clock: Clock = system_clock, router: Router | None = None
    ) -> Services:
        engine = make_engine(settings.database_url)
        locations = LocationLog(engine)
        return cls(
            settings=settings,
            engine=engine,
            closures=ClosureService(
                engine,
                clock=clock,
                limits=settings.geometry_limits(),
                boundary_tolerance_m=settings.boundary_tolerance_m,
                destinations_for=settings.destinations_for,
            ),
            queries=ClosureQueries(
                engine,
                clock=clock,
                horizon=timedelta(hours=settings.horizon_hours),
                check_interval=timedelta(seconds=settings.index_check_interval_s),
            ),
            drivers=DriverDirectory(
                engine,
                clock=clock,
                cache_ttl=timedelta(seconds=settings.profile_cache_s),
                locations=locations,
            ),
            locations=locations,
            router=router or router_from_settings(settings),
            clock=clock,
            geocoder=geocoder_from(settings),
        )

    @cached_property
    def profiles(self) -> ProfileLoader:
        """Drivers' profiles for the handlers: cached, or read together with the others of the moment."""
        return ProfileLoader(lambda: self.drivers)

    @cached_property
    def notices(self) -> NoticeListener:
        """Other processes' writes, heard as soon as they commit (PostgreSQL; nothing on SQLite): the
        closures' index, the feeds and the map rebuild on their next use, and a driver's profile changed
        elsewhere is read again. The outbox worker and the conversations subscribe too."""
        listener = NoticeListener(self.engine)
        listener.subscribe(self._heard)
        return listener

    def listen(self) -> None:
        """Start hearing other processes' writes (idempotent; the bot and the web server call it)."""
        self.notices.start()

    def _heard(self, notice: Notice) -> None:
        if notice.topic == PROFILE and not notice.own and notice.detail.isdigit():
            self.drivers.forget_cached(int(notice.detail))

    @cached_property
    def emergencies(self) -> EmergencyService:
        """Emergencies and playbooks, reaching drivers as the settings say."""
        settings = self.settings
        reach = Reach(recent=self.recent_window, margin_m=settings.emergency_margin_m)
        return EmergencyService(self.engine, clock=self.clock, closures=self.closures, reach=reach)

    @property
    def recent_window(self) -> timedelta:
        """How long a driver's last location counts (and is kept)."""
        return timedelta(hours=self.settings.emergency_recent_h)

    @cached_property
    def staff(self) -> StaffDirectory:
        """Who may change closures where (admins from the settings, staff from the store)."""
        return StaffDirectory(self.engine, frozenset(self.settings.admin_user_ids), clock=self.clock)

    @cached_property
    def listing(self) -> ClosureListing:
        """Closures as staff list them."""
        return ClosureListing(self.engine, clock=self.clock)

    @cached_property
    def geocoding_pool(self) -> ThreadPoolExecutor:
        """Threads of their own for geocoder calls: a lookup waiting its turn under the service's rate limit
        must not hold up the database work that shares the default worker threads."""
        return ThreadPoolExecutor(max_workers=2, thread_name_prefix="geocoder")

    def load_zones(self) -> None:
        """Read each municipality's time zone (blocking; called at start-up from a worker thread)."""
        self.zones = municipalities.zones(self.engine)

    def municipality_boxes(self) -> dict[int, Box]:
        """Each municipality's boundary box (min_lon, min_lat, max_lon, max_lat): place searches lean towards
        them. Blocking. Boundaries can be large and a flood brings many searches at once, so the boxes are
        read at most once per BOXES_TTL_S; a new or moved boundary reaches place searches within it."""
        cached = self._boxes
        if cached is not None and time.monotonic() - cached[0] < BOXES_TTL_S:
            return cached[1]
        boxes = municipalities.boxes(self.engine)
        self._boxes = (time.monotonic(), boxes)
        return boxes

    def zone(self, municipality_id: int) -> ZoneInfo:
        return self.zones.get(municipality_id) or ZoneInfo("Asia/Riyadh")

    def close(self) -> None:
        if "notices" in self.__dict__:
            self.notices.stop()
        if "geocoding_pool" in self.__dict__:
            self.geocoding_pool.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()
        close_router = getattr(self.router, "close", None)  # an engine's worker threads or HTTP client
        if close_router is not None:
            close_router()
