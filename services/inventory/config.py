"""Settings of the inventory service: environment variables prefixed ``EKTP_INVENTORY_``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, default_sqlite_url

__all__ = ["DEFAULT_PORT", "Settings"]

DEFAULT_PORT = 8002


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EKTP_INVENTORY_", extra="ignore")

    def resolved_database_url(self) -> str:
        return self.database_url or default_sqlite_url("inventory")
