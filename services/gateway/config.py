"""Settings of the gateway service: environment variables prefixed ``EKTP_GATEWAY_``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.common.settings import ServiceSettings, StackLayout, default_sqlite_url
from services.gateway.fleet.printer_urls import DEFAULT_DEVICES, PrinterUrls

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
    # Which URLs a printer may have (services/gateway/fleet/printer_urls.py); the printers above are allowed too.
    # Comma-separated or a JSON list in the environment.
    printer_devices: Annotated[list[str], NoDecode] = Field(
        default=list(DEFAULT_DEVICES),
        description="Serial device globs a printer may be on; a * stays within one path segment.",
    )
    printer_hosts: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Printer endpoints a socket:// printer may be at: host:port, host:low-high or host:*.",
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
            # Exactly the emulators' ports: any other printer the developer registers needs its own entry.
            "printer_hosts": [
                url.removeprefix("socket://") for _, url in layout.printers if url.startswith("socket://")
            ],
        }

    @field_validator("printer_devices", "printer_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _printer_urls_valid(self) -> Self:
        """A gateway configured with a printer URL it would refuse does not start."""
        self.printer_urls()
        return self

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

    def printer_urls(self) -> PrinterUrls:
        """What a printer's URL may be: ``printer_devices``, ``printer_hosts``, and the printers in ``printers``."""
        return PrinterUrls.of(
            devices=self.printer_devices, hosts=self.printer_hosts, urls=[url for _, url in self.printer_list()]
        )

    def resolved_database_url(self) -> str:
        return self.database_url_for("gateway")
