"""Settings of the request service: environment variables prefixed ``EKTP_REQUEST_``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, default_sqlite_url

__all__ = ["DEFAULT_PORT", "Settings"]

DEFAULT_PORT = 8001


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EKTP_REQUEST_", extra="ignore")

    def resolved_database_url(self) -> str:
        return self.database_url or default_sqlite_url("request")
