"""Tables of the request service. Schema changes go through alembic (migrations/request), never create_all."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.models import AuditEventMixin, BigIntPK, IdempotencyKeyMixin, UTCDateTime, new_id, utcnow

__all__ = [
    "AuditEvent",
    "Base",
    "Batch",
    "BatchDecision",
    "BatchError",
    "Card",
    "CoverageFigure",
    "IdempotencyKey",
    "PrintRequest",
    "QueueCapacity",
    "QueueJob",
    "QueueLane",
    "StaffUser",
]

# Statuses in which a request still counts as the NIK's one active request (see print_requests/states.py).
FINAL_STATUSES_SQL = "'collected', 'cancelled', 'rejected', 'replaced'"


class Base(DeclarativeBase):
    pass


class AuditEvent(AuditEventMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass


class Batch(Base):
    """A kecamatan's batch (usulan), identified by the hash of its content so a re-upload finds it again."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    accepted_rows: Mapped[int] = mapped_column(Integer, default=0)
    rejected_rows: Mapped[int] = mapped_column(Integer, default=0)
    submitted_by: Mapped[str] = mapped_column(String(200), index=True)
    submitter_role: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Proposal review (batches/review.py): the rows the office approved and declined, and its last decision.
    approved_rows: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    declined_rows: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BatchDecision(Base):
    """The office's decision on one row of a kecamatan's proposal: approve (queued) or reject, by whom, when."""

    __tablename__ = "batch_decisions"
    __table_args__ = (Index("uq_batch_decisions_row", "batch_id", "row", unique=True),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(36))
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(300))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_role: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BatchError(Base):
    """One refused row of a batch: its number (1 = first data row), the field and the reason."""

    __tablename__ = "batch_errors"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(String(300))


class PrintRequest(Base):
    """A resident's print request: the printed card data, the images, its priority and where it is."""

    __tablename__ = "print_requests"
    __table_args__ = (
        # The claim's order: served by this partial index alone, however long the queue.
        Index(
            "ix_print_requests_queue",
            "queue_key",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        # One active request per NIK, enforced by the database even under concurrent submissions.
        Index(
            "uq_print_requests_active_nik",
            "nik",
            unique=True,
            postgresql_where=text(f"status NOT IN ({FINAL_STATUSES_SQL})"),
            sqlite_where=text(f"status NOT IN ({FINAL_STATUSES_SQL})"),
        ),
        Index(
            "ix_print_requests_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'printing'"),
            sqlite_where=text("status = 'printing'"),
        ),
        Index("ix_print_requests_kecamatan_status", "kecamatan_code", "status"),
        # The console's lists, newest first (created_at DESC, id): a kecamatan's (every clerk's list) skips the
        # other kecamatan in the index, not in the table; a deep page of one read 150,000 rows, now the 20,000 it
        # skips (bench/bench_console.py).
        Index("ix_print_requests_created_kecamatan", "created_at", "kecamatan_code"),
        # A status's requests; the queue's stats (by status and priority) and the overdue counts (queued or
        # printing, by reason and age, per kecamatan) are read from this index alone, not the 41,000 rows queued.
        Index("ix_print_requests_status_overdue", "status", "reason", "created_at", "priority", "kecamatan_code"),
        # A NIK search finds the resident's past requests too (the unique index holds only the active one).
        Index("ix_print_requests_nik", "nik"),
        Index("ix_print_requests_printed_at", "printed_at"),  # the cards printed today (queue stats)
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    nik: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))
    birth_place: Mapped[str] = mapped_column(String(60))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    blood_type: Mapped[str] = mapped_column(String(3))
    address: Mapped[str] = mapped_column(String(200))
    rt: Mapped[str] = mapped_column(String(3))
    rw: Mapped[str] = mapped_column(String(3))
    village_code: Mapped[str] = mapped_column(String(13))
    kecamatan_code: Mapped[str] = mapped_column(String(8))
    religion: Mapped[str] = mapped_column(String(40))
    marital_status: Mapped[str] = mapped_column(String(20))
    occupation: Mapped[str] = mapped_column(String(60))
    citizenship: Mapped[str] = mapped_column(String(3))
    valid_until: Mapped[str] = mapped_column(String(20))
    # Sealed with the data key named by data_key_id (services.request.privacy; NULL: plain, written before
    # encryption until `ektp keys rotate-data`); empty once purged after the retention window.
    photo: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    images_purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    priority: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(30))
    reason_note: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(20))
    old_ktp_seen: Mapped[bool] = mapped_column(Boolean, default=False)
    kk_copy_seen: Mapped[bool] = mapped_column(Boolean, default=False)

    status: Mapped[str] = mapped_column(String(20))
    status_note: Mapped[str | None] = mapped_column(String(300))
    queue_key: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(80))
    printer_id: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    card_serial: Mapped[str | None] = mapped_column(String(40))
    received_by: Mapped[str | None] = mapped_column(String(120))
    # The replacement chain (POST /v1/requests/{id}/replacements): the request this one replaces, and the one
    # that replaced it (this one is then ``replaced``).
    replaces: Mapped[str | None] = mapped_column(String(36), index=True)
    replaced_by: Mapped[str | None] = mapped_column(String(36))

    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), index=True)
    batch_row: Mapped[int | None] = mapped_column(Integer)  # the row of its batch (proposal review decides by row)
    mobile_visit_id: Mapped[str | None] = mapped_column(String(36), index=True)  # brought by a mobile visit
    submitted_by: Mapped[str] = mapped_column(String(200), index=True)
    submitter_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    printed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AccessEvent(Base):
    """One look at a resident's personal data: who, when, what (``action``: view, search, claim, …), which request
    or NIK, and why (``purpose``). Written with the read itself (services.request.privacy.access)."""

    __tablename__ = "access_events"
    __table_args__ = (Index("ix_access_events_actor_at", "actor", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    nik: Mapped[str | None] = mapped_column(String(16), index=True)
    purpose: Mapped[str | None] = mapped_column(String(200))


class StaffUser(Base):
    """An office staff member who signs in with a password (services.request.staff): a role, and for a clerk the
    kecamatan codes it acts for (comma-separated). The password only as an Argon2 hash; ``failed_sign_ins`` in a
    row lock the account until ``locked_until``."""

    __tablename__ = "staff_users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    kecamatan: Mapped[str] = mapped_column(String(500), default="")
    full_name: Mapped[str] = mapped_column(String(200), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueJob(Base):
    """One claim of a request by a gateway job: the lease, and the job's reported outcome."""

    __tablename__ = "queue_jobs"

    job_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("print_requests.id"), index=True)
    printer_id: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    card_serial: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(300))
    card_used: Mapped[bool | None] = mapped_column(Boolean)


class QueueLane(Base):
    """The last queue key given to one (class, source, kecamatan): the fairness clock of that lane.

    ``source`` is ``batch`` for a kecamatan's proposals (batch rows), ``direct`` for requests submitted one by one
    (walk-ins, partners, mobile units): a walk-in never waits behind its own kecamatan's batch (queue/policy.py).
    """

    __tablename__ = "queue_lanes"

    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    kecamatan_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_key: Mapped[int] = mapped_column(BigInteger)


class QueueCapacity(Base):
    """The printers' throughput that estimated print dates use (one row, id 1)."""

    __tablename__ = "queue_capacity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cards_per_hour: Mapped[float] = mapped_column(Float)
    printers: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class CoverageFigure(Base):
    """A kecamatan's residents obliged to hold an e-KTP, those recorded (perekaman) and the cards handed to them
    before this system kept records, set by the office."""

    __tablename__ = "coverage_figures"

    kecamatan_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    obliged: Mapped[int] = mapped_column(Integer, default=0)
    recorded: Mapped[int] = mapped_column(Integer, default=0)
    collected_before: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class Card(Base):
    """A printed card by its serial: registered when the gateway reports it printed, then activated, collected,
    or made invalid (replaced, lost, damaged), surrendered and destroyed (cards/states.py). History: the audit
    trail (object_type ``card``, object_id the serial)."""

    __tablename__ = "cards"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("print_requests.id"), index=True)
    nik: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(20))
    status_note: Mapped[str | None] = mapped_column(String(300))
    printed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_by_request_id: Mapped[str | None] = mapped_column(String(36))
    police_report: Mapped[str | None] = mapped_column(String(100))
    surrendered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    surrender_received_by: Mapped[str | None] = mapped_column(String(120))


# The partner registry and the webhook outbox live beside their code; imported here so that this module's
# ``Base.metadata`` (alembic, the schema checks) holds every table of the service.
from services.request.mobile import models as _mobile_models  # noqa: E402, F401
from services.request.partners import models as _partner_models  # noqa: E402, F401
from services.request.sukets import models as _suket_models  # noqa: E402, F401
