"""Settings of the gateway service: environment variables prefixed ``EKTP_GATEWAY_``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, StackLayout, default_sqlite_url

__all__ = ["DEFAULT_PORT", "Settings"]

DEFAULT_PORT = 8003


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EKTP_GATEWAY_", extra="ignore")

    request_url: str = Field(default="http://127.0.0.1:8001", description="The request service.")
    inventory_url: str = Field(default="http://127.0.0.1:8002", description="The inventory service.")
    service_token: str = Field(default="", description="A JWT with role service (`ektp token create --role service`).")
    service_token_file: Path | None = Field(default=None, description="A file holding the token (used if no token).")
    printers: str = Field(
        default="",
        description="name=url,… registered and commissioned at start unless a printer of that name exists.",
    )
    lease_seconds: float = Field(default=300.0, gt=0, description="Lease asked for each claim; renewed at a third.")
    reservation_ttl_seconds: float = Field(default=900.0, gt=0)
    poll_interval: float = Field(default=2.0, gt=0, description="Seconds between status polls of each printer.")
    idle_claim_interval: float = Field(default=1.0, gt=0, description="Wait after an empty queue or no blanks.")
    claim_wait_seconds: float = Field(
        default=20.0,
        ge=0,
        le=60,
        description="An idle printer's claim waits this long at the request service for work (long polling); "
        "0 polls every idle_claim_interval instead.",
    )
    peer_retry_max_wait: float = Field(default=5.0, gt=0, description="Longest backoff while a peer is down.")
    card_timeout: float | None = Field(default=None, description="Seconds a card may take (default: from Rcap).")
    card_margin: float = Field(default=15.0, ge=0)
    clean_between_cards: bool = Field(default=True, description="Run a cleaning cycle as soon as one is due.")
    throughput_window_seconds: float = Field(default=3600.0, gt=0, description="Window of the measured cards/hour.")
    capacity_publish_interval: float = Field(default=30.0, gt=0)
    start_loops: bool = Field(default=True, description="Run dispatch loops and status polls (tests turn it off).")

    @classmethod
    def for_stack(cls, layout: StackLayout) -> dict[str, Any]:
        return super().for_stack(layout) | {
            "database_url": default_sqlite_url("gateway", layout.data_dir),
            "request_url": layout.urls["request"],
            "inventory_url": layout.urls["inventory"],
            "service_token": layout.service_token,
            "printers": ",".join(f"{name}={url}" for name, url in layout.printers),
        }

    def token(self) -> str:
        """The service token: inline, else read from ``service_token_file``."""
        if self.service_token or self.service_token_file is None:
            return self.service_token
        return self.service_token_file.read_text().strip()

    def printer_list(self) -> list[tuple[str, str]]:
        """``printers`` as (name, url) pairs."""
        pairs = []
        for item in self.printers.split(","):
            name, sep, url = item.strip().partition("=")
            if sep and name.strip() and url.strip():
                pairs.append((name.strip(), url.strip()))
            elif item.strip():
                raise ValueError(f"EKTP_GATEWAY_PRINTERS: {item!r} is not name=url")
        return pairs

    def resolved_database_url(self) -> str:
        return self.database_url or default_sqlite_url("gateway")
