"""Settings from the environment and an optional ``.env`` file: built in ``main()``, never global."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.webapp.initdata import LONGEST_AGE_S
from geo.geopy_providers import DEFAULT_USER_AGENT, GeocoderConfig
from geo.parse import Limits
from geo.render import TileSource

# The sample data and municipality boundaries: the package roadbot_data (setup.py maps data/ to it), so
# data/ itself in an editable install and its copy in site-packages in a wheel's.
DATA_DIR = Path(str(resources.files("roadbot_data")))
PUBLIC_BOT_API = "https://api.telegram.org/bot"
PUBLIC_BOT_FILE_API = "https://api.telegram.org/file/bot"
PUBLIC_X_API = "https://api.twitter.com"  # what tweepy 4.17 hard-codes, and X_API_BASE_URL replaces


class PublishTargets(BaseModel):
    """One municipality's channels, X account and hashtags."""

    telegram: list[str] = Field(default_factory=list)
    x: str | None = None
    hashtags_ar: list[str] = Field(default_factory=lambda: ["#إغلاق_طريق"])
    hashtags_en: list[str] = Field(default_factory=list)


class XKeys(BaseModel):
    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr


class PartnerFeed(BaseModel):
    """A neighbouring agency's feed, polled into one municipality's closures; or a met service's or civil
    defence's CAP alerts (``"format": "cap"``), drafted as emergencies of the municipalities they meet (of
    ``municipality`` only, when it is given)."""

    url: str = Field(pattern=r"^https?://")
    format: Literal["wzdx", "cifs", "geojson", "cap"]
    municipality: str | None = None
    interval_s: float = Field(default=300.0, ge=10, le=86_400)
    # what the closures' ``source`` says (default "<format>:<host>"); a feed's removed events are lifted
    # only among the closures with this source
    source: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _municipality_named(self) -> PartnerFeed:
        if self.municipality is None and self.format != "cap":
            raise ValueError(f"a {self.format} feed names the municipality its closures go to")
        return self


class Settings(BaseSettings):
    """Everything configurable. Defaults run on a local SQLite file with no credentials."""

    # An empty value (`WEBHOOK_PATH=` in a .env copied from .env.example) means the default, not "".
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    database_url: str = Field(default="sqlite:///roadbot.sqlite", description="SQLAlchemy URL of the store")
    data_dir: Path = Field(default=DATA_DIR, alias="ROADBOT_DATA_DIR")
    default_language: str = Field(default="ar", pattern="^(ar|en)$")
    default_radius_m: int = Field(default=5_000, ge=100, le=50_000)
    horizon_hours: float = Field(default=24.0, gt=0, description="how far ahead upcoming closures are shown")
    boundary_tolerance_m: float = Field(default=500.0, ge=0)
    max_line_km: float = Field(default=100.0, gt=0)
    max_area_km2: float = Field(default=500.0, gt=0)

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = PUBLIC_BOT_API
    telegram_base_file_url: str = PUBLIC_BOT_FILE_API
    # Telegram user ids with every right in every municipality ("1234, 5678" in the environment).
    admin_user_ids: Annotated[tuple[int, ...], NoDecode] = ()
    route_corridor_m: float = Field(default=200.0, gt=0, le=5_000)
    # Each bot process keeps closures and drivers' profiles in memory. Writes made by this process are seen
    # at once; another process's (a second bot over one PostgreSQL, a `roadbot` command) are seen by this
    # one after at most index_check_interval_s for closures and profile_cache_s for a driver's language and
    # radius. 0 reads the store on every update.
    index_check_interval_s: float = Field(default=0.5, ge=0, le=3_600)
    profile_cache_s: float = Field(default=30.0, ge=0, le=86_400)
    # How often half-finished staff conversations are saved to the store (also saved on shutdown).
    conversation_save_s: float = Field(default=5.0, gt=0, le=300)
    # Partner polling and the command menus set at start-up run in one process of all those sharing the
    # database (the one holding a PostgreSQL advisory lock). This often the others try to take over, and
    # the holder checks that it still holds the lock.
    singleton_check_s: float = Field(default=10.0, gt=0, le=600)

    # --- publishing ---
    # Per municipality slug, where its posts go, e.g. (JSON in the environment) {"riyadh": {"telegram":
    # ["@riyadh_roads"], "x": "riyadh_roads", "hashtags_ar": ["#الرياض", "#إغلاق_طريق"]}}
    publish_destinations: dict[str, PublishTargets] = Field(default_factory=dict)
    # X accounts by name: {"riyadh_roads": {"consumer_key": …, "consumer_secret": …, "access_token": …,
    # "access_token_secret": …}} (OAuth 1.0a user context)
    x_accounts: dict[str, XKeys] = Field(default_factory=dict)
    x_daily_budget: int = Field(default=17, ge=1, description="posts per X account and UTC day")
    x_english_reply: bool = True
    subscriber_alerts: bool = True
    map_tile_url: str | None = Field(
        default=None, description="e.g. https://tile.example.org/{z}/{x}/{y}.png"
    )
    map_tile_attribution: str = "© OpenStreetMap contributors"
    outbox_worker: bool = True
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    # Telegram's limits, kept for the whole bot — every process together when they share PostgreSQL:
    # messages a second overall (unset: 30, or 1000 with paid broadcast) and to any one chat; with paid
    # broadcast the outbox's messages carry allow_paid_broadcast (Telegram charges Stars for each).
    telegram_rate_msg_s: float | None = Field(default=None, gt=0, le=1000)
    telegram_chat_rate_msg_s: float = Field(default=1.0, gt=0, le=30)
    telegram_paid_broadcast: bool = False
    # Where X requests go (a proxy in front of X); they are signed for the public API all the same.
    x_api_base_url: str = Field(default=PUBLIC_X_API, pattern=r"^https?://")

    # --- emergencies ---
    # A declared emergency messages every driver whose live location, or last location shared within
    # emergency_recent_h hours, is inside its area or within emergency_margin_m of it. Each bot process
    # writes the locations it hears of every location_flush_s seconds, in one statement; they are erased
    # after emergency_recent_h (and by /forget).
    emergency_recent_h: float = Field(default=2.0, gt=0, le=48)
    emergency_margin_m: float = Field(default=1_000.0, ge=0, le=20_000)
    location_flush_s: float = Field(default=1.0, gt=0, le=60)

    # --- geocoding (place names ⇄ points) ---
    # Nominatim's public service asks for a real user agent naming the application and at most one request
    # a second; for more load, run your own Nominatim (or Photon / Pelias) and point GEOCODER_DOMAIN at it.
    geocoder: Literal["nominatim", "photon", "pelias", "arcgis", "google", "none"] = "nominatim"
    geocoder_domain: str | None = Field(
        default=None, description="host[:port][/path] of the service; empty: the provider's public one"
    )
    geocoder_scheme: Literal["https", "http"] = "https"
    geocoder_user_agent: str = DEFAULT_USER_AGENT
    geocoder_api_key: SecretStr | None = None  # Google (required), Pelias / geocode.earth
    geocoder_timeout_s: float = Field(default=5.0, gt=0, le=60)
    geocoder_cache_s: float = Field(default=86_400.0, ge=0, description="how long answers are reused")
    geocoder_min_interval_s: float = Field(default=1.0, ge=0, le=60, description="between two requests")
    # ISO 3166-1 alpha-2 codes searches are limited or biased to ("sa, bh" in the environment).
    geocoder_countries: Annotated[tuple[str, ...], NoDecode] = ("sa",)

    # --- web server (map page, /health, /metrics, Telegram webhook) ---
    web_host: str = Field(default="127.0.0.1", description="address the web server listens on")
    web_port: int = Field(default=8080, ge=0, le=65_535, description="its port (0: any free one)")
    map_refresh_s: float = Field(default=60.0, ge=1, le=3_600, description="how often the map page reloads")
    # The public URL Telegram posts updates to (behind a load balancer: its address), e.g.
    # https://roads.example.org; `roadbot run --webhook URL` overrides it. Unset: long polling.
    webhook_url: str | None = None
    # Telegram sends this secret in X-Telegram-Bot-Api-Secret-Token, and posts to /telegram/<path>. Unset,
    # both are derived from the bot token, so every process of one bot agrees and restarts keep them.
    webhook_secret_token: SecretStr | None = None  # 1-256 of A-Z a-z 0-9 _ - (Telegram's rule)
    webhook_path: SecretStr | None = None  # 16-256 of the same

    # --- Telegram Mini App: drawing closures on the map, the live map inside Telegram ---
    # The public HTTPS base the web server is reached at (the balancer's address, e.g.
    # https://roads.example.org); Telegram opens Mini Apps over HTTPS only. Unset: no web_app buttons.
    webapp_url: str | None = None
    # How old the signed initData a Mini App page sends back may be (Telegram's auth_date), in seconds.
    webapp_max_age_s: int = Field(default=3_600, ge=60, le=LONGEST_AGE_S)

    # --- routing ---
    # The road engine behind /route, detours and road snapping: "none" (a labelled straight line),
    # "valhalla" (embedded, on tiles built by `roadbot routing build`), "valhalla-http" or "osrm-http" (a
    # deployed server at routing_url). Whenever the engine fails or times out, the straight line stands in.
    routing_engine: Literal["none", "valhalla", "valhalla-http", "osrm-http"] = "none"
    routing_tiles_dir: Path = Field(
        default=Path("var/valhalla_tiles"), description="Valhalla tiles and config"
    )
    routing_url: str | None = Field(default=None, description="e.g. http://valhalla:8002 or http://osrm:5000")
    routing_timeout_s: float = Field(default=5.0, gt=0, le=120)

    # --- feeds and partner imports ---
    # The public feeds (/feeds/…): who publishes them (WZDx publisher, Atom author), and how long clients
    # may keep one before asking again (Cache-Control max-age; they then revalidate with the ETag).
    feed_publisher: str = Field(default="road-closure-bot", min_length=1, max_length=200)
    feed_max_age_s: int = Field(default=60, ge=0, le=86_400)
    # The CAP alerts' <sender> (CAP 1.2: no spaces, commas, < or &), e.g. "alerts@roads.example.org"; by
    # default the publisher's name made fit. Keep it stable: references name earlier alerts by it.
    cap_sender: str | None = Field(default=None, pattern=r"^[^\s,<&]{1,200}$")
    # Partner feeds polled into the registry (JSON in the environment), e.g. [{"url":
    # "https://partner.example/wzdx.json", "format": "wzdx", "municipality": "riyadh", "interval_s": 300}]
    partner_feeds: list[PartnerFeed] = Field(default_factory=list)
    partner_timeout_s: float = Field(default=20.0, gt=0, le=300)
    partner_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)

    def cap_sender_id(self) -> str:
        """The CAP ``sender`` of our alerts: ``CAP_SENDER``, else the publisher's name without what CAP
        forbids in it (spaces become dashes)."""
        if self.cap_sender:
            return self.cap_sender
        return re.sub(r"[\s,<&]+", "-", self.feed_publisher.strip()).strip("-")[:200] or "road-closure-bot"

    def destinations_for(self, slug: str) -> dict[str, str | list[str] | None]:
        """Where posts of ``slug``'s closures go; an unconfigured kind is planned as skipped."""
        targets = self.publish_destinations.get(slug) or PublishTargets()
        out: dict[str, str | list[str] | None] = {"telegram": targets.telegram or None, "x": targets.x}
        if self.subscriber_alerts:
            out["alerts"] = "subscribers"
        return out

    def map_tiles(self) -> TileSource | None:
        """Where rendered maps (posts, a drawing shown back to staff) take their tiles; None: plain maps."""
        if not self.map_tile_url:
            return None
        return TileSource(self.map_tile_url, attribution=self.map_tile_attribution)

    def telegram_rate(self) -> float:
        """Messages a second the whole bot may send: as configured, else Telegram's limit for the mode."""
        if self.telegram_rate_msg_s is not None:
            return self.telegram_rate_msg_s
        return 1000.0 if self.telegram_paid_broadcast else 30.0

    def geometry_limits(self) -> Limits:
        """The size limits a closure's geometry must keep, in metres."""
        return Limits(max_line_m=self.max_line_km * 1000, max_area_m2=self.max_area_km2 * 1e6)

    def geocoder_config(self) -> GeocoderConfig:
        """The geocoder's plain configuration, for ``geo.geopy_providers.make_geocoder``."""
        key = self.geocoder_api_key.get_secret_value() if self.geocoder_api_key else None
        return GeocoderConfig(
            kind=self.geocoder,
            domain=self.geocoder_domain or None,
            scheme=self.geocoder_scheme,
            user_agent=self.geocoder_user_agent,
            api_key=key,
            timeout_s=self.geocoder_timeout_s,
            cache_ttl_s=self.geocoder_cache_s,
            min_interval_s=self.geocoder_min_interval_s,
            countries=self.geocoder_countries,
        )

    @field_validator("geocoder_countries", mode="before")
    @classmethod
    def _split_countries(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.replace(";", ",").split(",") if part.strip())
        return value

    @field_validator("webhook_secret_token", "webhook_path")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        shortest = 16 if info.field_name == "webhook_path" else 1
        text = value.get_secret_value() if value is not None else None
        if text is not None and not re.fullmatch(rf"[A-Za-z0-9_-]{{{shortest},256}}", text):
            raise ValueError(f"{shortest} to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webapp_url")
    @classmethod
    def _webapp_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("an https:// URL without query or fragment: Telegram opens Mini Apps over HTTPS")
        return value.rstrip("/")

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        return value
