"""Settings of the request service: environment variables prefixed ``EKTP_REQUEST_``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.office_hours import OfficeHoursSettings
from services.common.settings import DATA_DIR, ServiceSettings, StackLayout, default_sqlite_url

__all__ = ["DEFAULT_PORT", "IMAGE_MAX_PIXELS", "IMAGE_MAX_SIDE", "Settings"]

DEFAULT_PORT = 8001
# An e-KTP photo is 4 × 6 cm, 472 × 709 pixels at 300 dpi. Cameras and scanners give far more, which is allowed up
# to a 12-megapixel camera's 4000 × 3000; the gateway draws pictures up to 16 megapixels (rendering/card.py).
IMAGE_MAX_SIDE = 4000
IMAGE_MAX_PIXELS = 12_000_000


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
    # A PNG of a few hundred KB may claim 13000 × 13000 pixels; its header is read, never its pixels.
    photo_max_side: int = Field(
        default=IMAGE_MAX_SIDE, ge=1, description="Longest side of the photo in pixels (e-KTP: 472 × 709 at 300 dpi)."
    )
    photo_max_pixels: int = Field(
        default=IMAGE_MAX_PIXELS, ge=1, description="Width × height of the photo at most (12 MP: a 4000 × 3000 camera)."
    )
    signature_max_side: int = Field(
        default=IMAGE_MAX_SIDE, ge=1, description="Longest side of the signature in pixels (a pad gives ~600 × 200)."
    )
    signature_max_pixels: int = Field(
        default=IMAGE_MAX_PIXELS, ge=1, description="Width × height of the signature at most (a scan of it, cropped)."
    )

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

    # Batches. One file is one kecamatan's proposal: the limits fit the biggest kecamatan's with room to spare,
    # and keep a file of junk from costing more than that (batches/files.py, batches/service.py).
    batch_max_rows: int = Field(
        default=75_000,
        ge=1,
        description="Rows one batch may hold. Pesawaran's biggest kecamatan has about 60,000 residents obliged to "
        "hold a KTP (the regency 247,111 over its 11 kecamatan), so a whole kecamatan fits, with a quarter to spare; "
        "the whole regency is one file per kecamatan. A longer file is refused whole (413 naming rows).",
    )
    batch_max_bytes: int = Field(
        default=160 * 1024 * 1024,
        ge=1024,
        description="Bytes one upload may hold. A row with a passport-sized photo and a signature scan "
        "(tests/factories.py) is about 2.1 kB as JSON and 1.8 kB as CSV, so batch_max_rows such rows are about "
        "155 MB (148 MiB); rows with the factory's smaller photo (1.4 kB) about 108 MB. A file of bigger photos "
        "holds fewer rows: split it. A larger body is refused before it is read (413).",
    )
    batch_report_max_errors: int = Field(
        default=1000,
        ge=1,
        description="Errors kept for a batch's report: whole rows, the first refused ones; the rows refused after "
        "them are counted (rejected_rows, the report's unlisted_rows), not listed. A clerk fixes those and "
        "uploads again.",
    )
    batch_chunk_rows: int = Field(default=5000, ge=1, description="Rows validated and inserted together (COPY).")

    # Replacements and the card registry (docs/architecture.md, "Cards, replacements, custody")
    lost_card_police_report_required: bool = Field(
        default=True, description="A replacement for a lost card needs a police report reference (police_report)."
    )
    inventory_url: str = Field(
        default="http://127.0.0.1:8002", description="The inventory service (custody of surrendered cards)."
    )
    inventory_timeout_seconds: float = Field(default=5.0, gt=0, description="Longest wait for the inventory.")

    # The Suket, issued while a resident waits for the card (docs/architecture.md, "Suket")
    suket_valid_days: int = Field(
        default=183, ge=1, le=366, description="Days a Suket stands in for the KTP-el from its issue (six months)."
    )
    public_url: str = Field(
        default="",
        description="This service's address as the public reaches it, for the Suket's QR code "
        "(<public_url>/v1/sukets/verify/<code>); empty: the address the PDF was asked on.",
    )

    # Personal data (docs/privacy.md)
    data_keys_file: Path = Field(
        default=DATA_DIR / "keys" / "data-keys.json",
        description="The data keys that seal photos and signatures (AES-256-GCM), never kept in the database: "
        '{"current": ID, "keys": {ID: base64 of 32 bytes}}, mode 0600 (or a Docker secret); re-read when it '
        "changes (`ektp keys rotate-data`).",
    )
    retention_days: int = Field(
        default=30,
        ge=0,
        description="Days a photo and signature are kept after the card is handed over (collected) or the request "
        "ends otherwise (cancelled, replaced); then they are emptied, the rest of the record stays.",
    )
    retention_interval_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="How often the retention purge runs (daily; also once at start)."
    )

    staff_private_key_file: Path = Field(
        default=DATA_DIR / "keys" / "staff-private.pem",
        description="The staff key that signs sign-in tokens (admin, operator, clerk only; every service verifies "
        "them with staff_public_key_file). Without it POST /v1/auth/token answers 503.",
    )
    sign_in_token_hours: float = Field(default=8.0, gt=0, le=12, description="A signed-in staff token's life.")
    sign_in_max_failures: int = Field(default=5, ge=1, description="Wrong passwords in a row that lock an account.")
    sign_in_lock_seconds: int = Field(default=900, ge=1, description="How long a locked account stays locked.")

    # Partner systems (services/request/partners)
    partner_token_minutes: float = Field(
        default=60.0, gt=0, le=24 * 60, description="A partner token's life (client credentials grant)."
    )
    webhook_retry_days: float = Field(default=3.0, gt=0, description="How long an event is retried, then failed.")
    webhook_backoff_seconds: float = Field(
        default=5.0, gt=0, description="The first retry's delay; doubled each try (with jitter), at most an hour."
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="How long a receiver may take.")
    webhook_poll_seconds: float = Field(default=0.25, gt=0, description="How often the delivery worker looks.")
    webhook_lease_seconds: float = Field(
        default=60.0, gt=0, description="An event being sent is another worker's only after this (a crash)."
    )
    webhook_concurrency: int = Field(default=32, ge=1, description="Deliveries in flight at once (different requests).")
    webhook_delivery: bool = Field(default=True, description="Run the delivery worker in this process.")

    # Mobile recording visits (e-Mobile KTP; services/request/mobile/plan.py, docs/architecture.md)
    office_latitude: float = Field(
        default=-5.3986, ge=-90, le=90, description="Where the mobile unit sets out: Disdukcapil, Gedong Tataan."
    )
    office_longitude: float = Field(default=105.08, ge=-180, le=180, description="The office's longitude.")
    mobile_per_day: int = Field(default=120, ge=1, description="Residents the mobile unit records a day (plan).")
    mobile_remote_km: float = Field(
        default=25.0, gt=0, description="A desa this far from the office ranks as if its gap were twice as large."
    )
    mobile_neighbour_km: float = Field(
        default=10.0, gt=0, description="Desa within this distance of a day's first desa may share its day."
    )

    @classmethod
    def for_stack(cls, layout: StackLayout) -> dict[str, Any]:
        return super().for_stack(layout) | {
            "database_url": default_sqlite_url("request", layout.data_dir),
            "console_inventory_url": layout.urls["inventory"],
            "console_gateway_url": layout.urls["gateway"],
            "inventory_url": layout.urls["inventory"],
            "service_token": layout.service_token,
            "data_keys_file": layout.key_dir / "data-keys.json",
            "staff_private_key_file": layout.key_dir / "staff-private.pem",
        }

    def resolved_database_url(self) -> str:
        return self.database_url_for("request")
