"""What clients send and receive about print requests."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.request.print_requests.states import RequestStatus
from services.request.sukets.schemas import SuketSummary

__all__ = [
    "URGENT_REASONS",
    "ActivateIn",
    "BloodType",
    "CardData",
    "CardFields",
    "Channel",
    "Citizenship",
    "HandoverIn",
    "MaritalStatus",
    "Priority",
    "QueueView",
    "Reason",
    "Religion",
    "RequestIn",
    "RequestOut",
    "ResolveIn",
    "ResolveOutcome",
    "Sex",
]


class Sex(enum.StrEnum):
    M = "M"
    F = "F"


class BloodType(enum.StrEnum):
    A = "A"
    B = "B"
    AB = "AB"
    O = "O"  # noqa: E741 - the blood type
    A_POS = "A+"
    A_NEG = "A-"
    B_POS = "B+"
    B_NEG = "B-"
    AB_POS = "AB+"
    AB_NEG = "AB-"
    O_POS = "O+"
    O_NEG = "O-"
    UNKNOWN = "-"


class Religion(enum.StrEnum):
    ISLAM = "ISLAM"
    KRISTEN = "KRISTEN"
    KATOLIK = "KATOLIK"
    HINDU = "HINDU"
    BUDDHA = "BUDDHA"
    KONGHUCU = "KONGHUCU"
    KEPERCAYAAN = "KEPERCAYAAN TERHADAP TUHAN YME"


class MaritalStatus(enum.StrEnum):
    SINGLE = "BELUM KAWIN"
    MARRIED = "KAWIN"
    DIVORCED = "CERAI HIDUP"
    WIDOWED = "CERAI MATI"


class Citizenship(enum.StrEnum):
    WNI = "WNI"
    WNA = "WNA"


class Channel(enum.StrEnum):
    WALK_IN = "walk_in"
    KECAMATAN_BATCH = "kecamatan_batch"
    PARTNER = "partner"
    MOBILE_UNIT = "mobile_unit"


class Priority(enum.StrEnum):
    URGENT = "urgent"
    REGULAR = "regular"


class Reason(enum.StrEnum):
    # urgent
    HEALTH = "health"
    EDUCATION = "education"
    LEGAL = "legal"
    TRAVEL = "travel"
    DISASTER = "disaster"
    OTHER = "other"
    # regular
    FIRST_CARD = "first_card"
    TURNED_17 = "turned_17"
    STATUS_CHANGE = "status_change"
    ADDRESS_CHANGE = "address_change"
    DATA_CORRECTION = "data_correction"
    DAMAGED_CARD = "damaged_card"
    LOST_CARD = "lost_card"


URGENT_REASONS = frozenset(
    {Reason.HEALTH, Reason.EDUCATION, Reason.LEGAL, Reason.TRAVEL, Reason.DISASTER, Reason.OTHER}
)

Upper = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1)]


class CardFields(BaseModel):
    """The printed fields as a client sends them (names of village, kecamatan, regency come from reference data)."""

    nik: Annotated[str, Field(pattern=r"^\d{16}$", examples=["1809015708050001"])]
    name: Annotated[Upper, Field(max_length=80, pattern=r"^[A-Z .,'\-]+$", examples=["SITI RAHMAWATI"])]
    birth_place: Annotated[Upper, Field(max_length=60, examples=["PESAWARAN"])]
    birth_date: dt.date
    sex: Sex
    blood_type: BloodType = BloodType.UNKNOWN
    address: Annotated[Upper, Field(max_length=200, examples=["JL. RAYA GEDONG TATAAN NO. 5"])]
    rt: Annotated[str, Field(pattern=r"^\d{3}$", examples=["001"])]
    rw: Annotated[str, Field(pattern=r"^\d{3}$", examples=["002"])]
    village_code: Annotated[str, Field(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$", examples=["18.09.01.2001"])]
    kecamatan_code: Annotated[str, Field(pattern=r"^\d{2}\.\d{2}\.\d{2}$", examples=["18.09.01"])]
    religion: Religion
    marital_status: MaritalStatus
    occupation: Annotated[Upper, Field(max_length=60, examples=["PELAJAR/MAHASISWA"])]
    citizenship: Citizenship = Citizenship.WNI
    valid_until: Annotated[Upper, Field(max_length=20)] = "SEUMUR HIDUP"


class RequestIn(CardFields):
    """``POST /v1/requests``: the card data, the images (base64 JPEG or PNG), the reason and the channel."""

    model_config = ConfigDict(extra="forbid")

    photo: Annotated[str, Field(min_length=1, description="base64 JPEG or PNG")]
    signature: Annotated[str, Field(min_length=1, description="base64 JPEG or PNG")]
    reason: Reason
    reason_note: Annotated[str | None, Field(max_length=300)] = None
    channel: Channel
    old_ktp_seen: bool = False
    kk_copy_seen: bool = False

    @field_validator("photo", "signature", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @property
    def priority(self) -> Priority:
        return Priority.URGENT if self.reason in URGENT_REASONS else Priority.REGULAR


class CardData(BaseModel):
    """The card as it is printed: every field, names resolved from the region reference data."""

    nik: str
    name: str
    birth_place: str
    birth_date: dt.date
    sex: Sex
    blood_type: str
    address: str
    rt: str
    rw: str
    village: str
    village_code: str
    kecamatan: str
    kecamatan_code: str
    regency: str
    province: str
    religion: str
    marital_status: str
    occupation: str
    citizenship: str
    valid_until: str
    photo: str | None = Field(default=None, description="base64; only in claims")
    signature: str | None = Field(default=None, description="base64; only in claims")


class QueueView(BaseModel):
    position: int = Field(description="1 = the next request a printer takes")
    ahead: int
    daily_capacity: int = Field(description="Cards a working day: the fleet's cards an hour × office hours.")
    estimated_print_date: dt.date = Field(
        description="The office date (WIB) it is printed on, counting working days and office hours only."
    )


class RequestOut(BaseModel):
    id: str
    status: RequestStatus
    status_note: str | None = None
    priority: Priority
    reason: Reason
    reason_note: str | None = None
    channel: Channel
    old_ktp_seen: bool
    kk_copy_seen: bool
    card: CardData
    attempts: int
    job_id: str | None = None
    printer_id: str | None = None
    lease_expires_at: dt.datetime | None = None
    card_serial: str | None = None
    received_by: str | None = None
    batch_id: str | None = None
    batch_row: int | None = Field(default=None, description="its row in the proposal (the review decides by row)")
    mobile_visit_id: str | None = Field(default=None, description="the mobile recording visit that brought it")
    submitted_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    printed_at: dt.datetime | None = None
    activated_at: dt.datetime | None = None
    collected_at: dt.datetime | None = None
    replaces: str | None = Field(default=None, description="the request this one replaces (its card invalid)")
    replaced_by: str | None = Field(default=None, description="the request that replaced this one")
    due_at: dt.datetime | None = Field(
        default=None, description="When an urgent request should be printed by: its reason's target after created_at."
    )
    overdue: bool = Field(default=False, description="Still queued or printing after due_at.")
    queue: QueueView | None = None
    suket: SuketSummary | None = Field(
        default=None, description="Its latest Suket (GET /v1/requests/{id} only; null in lists and changes)."
    )


class ResolveOutcome(enum.StrEnum):
    PRINTED = "printed"
    NOT_PRINTED = "not_printed"


class ResolveIn(BaseModel):
    outcome: ResolveOutcome
    card_serial: Annotated[str | None, Field(pattern=r"^[A-Z0-9]{4,40}$")] = None
    note: Annotated[str | None, Field(max_length=300)] = None


class ActivateIn(BaseModel):
    card_serial: Annotated[str, Field(pattern=r"^[A-Z0-9]{4,40}$")]


class HandoverIn(BaseModel):
    received_by: Annotated[str, Field(min_length=1, max_length=120)]
    note: Annotated[str | None, Field(max_length=300)] = None
