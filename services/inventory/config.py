"""Settings of the inventory service: environment variables prefixed ``EKTP_INVENTORY_``."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.office_hours import OfficeHoursSettings
from services.common.settings import ServiceSettings, StackLayout, default_sqlite_url

__all__ = ["DEFAULT_PORT", "Settings"]

DEFAULT_PORT = 8002


class Settings(ServiceSettings, OfficeHoursSettings):
    model_config = SettingsConfigDict(env_prefix="EKTP_INVENTORY_", extra="ignore")

    request_url: str = Field(default="http://127.0.0.1:8001", description="The request service (queue backlog).")
    peer_timeout_seconds: float = Field(default=3.0, gt=0, description="Longest wait for the request service.")

    urgent_reserve_count: int = Field(default=20, ge=0, description="Blanks only urgent jobs may reserve.")
    urgent_reserve_share: float = Field(
        default=0.0, ge=0, le=1, description="Share of the unused blanks kept for urgent jobs (the larger wins)."
    )
    default_ttl_seconds: float = Field(default=900.0, gt=0, description="Reservation lifetime when none is given.")
    max_ttl_seconds: float = Field(default=86_400.0, gt=0)
    sweep_interval_seconds: float = Field(default=5.0, gt=0, description="How often expired reservations go back.")
    start_sweeper: bool = Field(default=True, description="Run the expiry sweeper in the lifespan.")

    reorder_window_days: int = Field(default=30, ge=1, description="Window over which consumption is measured.")
    reorder_lead_time_days: int = Field(default=21, ge=0, description="Days from order to delivery by the centre.")
    reorder_safety_days: int = Field(default=7, ge=0, description="Extra days of stock kept as a buffer.")
    reorder_cover_days: int = Field(default=60, ge=1, description="Days of consumption one proposal should cover.")
    reorder_min_quantity: int = Field(default=1000, ge=1, description="Smallest quantity proposed.")

    @classmethod
    def for_stack(cls, layout: StackLayout) -> dict[str, Any]:
        return super().for_stack(layout) | {
            "database_url": default_sqlite_url("inventory", layout.data_dir),
            "request_url": layout.urls["request"],
            "service_token": layout.service_token,
        }

    def resolved_database_url(self) -> str:
        return self.database_url_for("inventory")
