"""Settings from the environment and an optional ``.env`` file: built in ``main()``, never global."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo.parse import Limits

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PUBLIC_BOT_API = "https://api.telegram.org/bot"
PUBLIC_BOT_FILE_API = "https://api.telegram.org/file/bot"


class Settings(BaseSettings):
    """Everything configurable. Defaults run on a local SQLite file with no credentials."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

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

    def geometry_limits(self) -> Limits:
        """The size limits a closure's geometry must keep, in metres."""
        return Limits(max_line_m=self.max_line_km * 1000, max_area_m2=self.max_area_km2 * 1e6)

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        return value
