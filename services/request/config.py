"""Settings of the request service: environment variables prefixed ``EKTP_REQUEST_``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.office_hours import OfficeHoursSettings
from services.common.settings import ServiceSettings, StackLayout, default_sqlite_url

__all__ = ["DEFAULT_PORT", "Settings"]

DEFAULT_PORT = 8001


class Settings(ServiceSettings, OfficeHoursSettings):
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

    # Targets of urgent reasons: hours from submission until the card is printed; a request still queued or
    # printing after its target is overdue (queue/policy.py).
    target_hours_health: float = Field(default=24.0, gt=0, description="Health administration (hospital, BPJS).")
    target_hours_disaster: float = Field(default=24.0, gt=0, description="Victims of a disaster (papers lost).")
    target_hours_travel: float = Field(default=48.0, gt=0, description="Travel: passport, hajj, work abroad.")
    target_hours_education: float = Field(default=72.0, gt=0, description="Enrolment: university, scholarship.")
    target_hours_legal: float = Field(default=72.0, gt=0, description="Court, police, notary, marriage papers.")
    target_hours_other: float = Field(default=72.0, gt=0, description="Other urgent needs (with a note).")

    # Capacity (feeds estimated print dates until the gateway reports its measured throughput). The office
    # calendar (office_timezone, office_opens/closes, office_weekdays, office_closed_dates): OfficeHoursSettings.
    daily_capacity: int = Field(default=400, ge=1, description="Cards a working day: 2 printers × 200.")

    # Batches uploaded by clerks (kecamatan proposals) wait for an operator's decision before they are queued.
    batch_review_required: bool = Field(
        default=True, description="A clerk's batch is queued only as an operator approves its rows."
    )

    # Batches
    batch_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    batch_chunk_rows: int = Field(default=5000, ge=1, description="Rows validated and inserted together (COPY).")

    # Replacements and the card registry (docs/architecture.md, "Cards, replacements, custody")
    lost_card_police_report_required: bool = Field(
        default=True, description="A replacement for a lost card needs a police report reference (police_report)."
    )
    inventory_url: str = Field(
        default="http://127.0.0.1:8002", description="The inventory service (custody of surrendered cards)."
    )
    inventory_timeout_seconds: float = Field(default=5.0, gt=0, description="Longest wait for the inventory.")

    @classmethod
    def for_stack(cls, layout: StackLayout) -> dict[str, Any]:
        return super().for_stack(layout) | {
            "database_url": default_sqlite_url("request", layout.data_dir),
            "console_inventory_url": layout.urls["inventory"],
            "console_gateway_url": layout.urls["gateway"],
            "inventory_url": layout.urls["inventory"],
            "service_token": layout.service_token,
        }

    def resolved_database_url(self) -> str:
        return self.database_url or default_sqlite_url("request")
