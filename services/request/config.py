"""Settings of the request service: environment variables prefixed ``EKTP_REQUEST_``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, StackLayout, default_sqlite_url

__all__ = ["DEFAULT_PORT", "Settings"]

DEFAULT_PORT = 8001


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EKTP_REQUEST_", extra="ignore")

    # Region reference data
    console_request_url: str = Field(default="", description="The console's view of this service (empty: its own).")
    console_inventory_url: str = Field(default="", description="Inventory URL for the console (empty: port 8002).")
    console_gateway_url: str = Field(default="", description="Gateway URL for the console (empty: port 8003).")
    regency_code: str = Field(default="18.09", pattern=r"^\d{2}\.\d{2}$", description="The regency this office serves.")
    region_data_file: Path | None = Field(
        default=None, description="CSV level,code,name,parent_code; empty means the shipped file for regency_code."
    )

    # Validation
    minimum_age: int = Field(default=17, ge=0, description="Residents younger than this need to be married.")
    photo_max_bytes: int = Field(default=512 * 1024, ge=1024)
    signature_max_bytes: int = Field(default=256 * 1024, ge=256)

    # Queue and leases
    max_attempts: int = Field(default=3, ge=1, description="Failed prints before a request goes to needs_review.")
    default_lease_seconds: float = Field(default=120.0, gt=0)
    max_lease_seconds: float = Field(default=3600.0, gt=0)
    sweep_interval_seconds: float = Field(default=5.0, gt=0, description="How often expired leases are collected.")
    max_claim_wait_seconds: float = Field(
        default=60.0, ge=0, description="The longest a claim may wait for work (its wait_seconds is capped here)."
    )
    claim_recheck_seconds: float = Field(
        default=10.0, gt=0, description="A waiting claim looks at the queue this often even without a notice."
    )

    # Priority policy (docs/architecture.md, "Request queue policy")
    urgent_head_start_hours: float = Field(
        default=720.0, ge=0, description="Urgent requests sort as if enqueued this much earlier (ageing bound)."
    )
    fair_spacing_seconds: float = Field(
        default=216.0, ge=0, description="Queue-time spacing between two requests of the same kecamatan and class."
    )

    # Capacity (feeds estimated print dates until the gateway reports its measured throughput)
    daily_capacity: int = Field(default=400, ge=1, description="Cards a day: 2 printers × 200.")
    working_hours_per_day: float = Field(default=8.0, gt=0, le=24)
    office_timezone: str = "Asia/Jakarta"

    # Batches
    batch_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    batch_chunk_rows: int = Field(default=5000, ge=1, description="Rows validated and inserted together (COPY).")

    @classmethod
    def for_stack(cls, layout: StackLayout) -> dict[str, Any]:
        return super().for_stack(layout) | {
            "database_url": default_sqlite_url("request", layout.data_dir),
            "console_inventory_url": layout.urls["inventory"],
            "console_gateway_url": layout.urls["gateway"],
        }

    def resolved_database_url(self) -> str:
        return self.database_url or default_sqlite_url("request")
