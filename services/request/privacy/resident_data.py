"""A resident's own data (UU 27/2022 PDP, the right of access): everything this service holds about one NIK.

Gathered from the NIK outwards, never wider: the print requests with that NIK; the cards printed for them (or
registered under the NIK); the batch rows they came from, with the office's decisions on *those rows* only; the
print jobs that carried them; the audit rows whose object is one of those requests, cards or jobs (audit rows
never hold a NIK); the access rows naming the NIK or one of its requests; and the answers kept for retried
submissions of those requests (idempotency keys). A batch's other rows, totals and audit rows are other
residents' and are left out.

Every stored column is given except the images' bytes (for those: held or not, sealed with which data key, or
purged and when), so a column added later appears here without a change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.request.models import (
    AccessEvent,
    AuditEvent,
    Batch,
    BatchDecision,
    Card,
    IdempotencyKey,
    PrintRequest,
    QueueJob,
)

__all__ = ["BatchRow", "ImagesHeld", "ResidentData", "gather"]

Record = dict[str, Any]
IMAGE_COLUMNS = ("photo", "signature")


class ImagesHeld(BaseModel):
    """What is held of a request's photo and signature, without their bytes."""

    photo_held: bool
    signature_held: bool
    sealed: bool = Field(description="encrypted at rest with the data key data_key_id")
    data_key_id: str | None = None
    purged_at: dt.datetime | None = Field(default=None, description="emptied after the retention window")


class BatchRow(BaseModel):
    """The kecamatan batch (usulan) a request came from: its row there and the office's decisions on that row."""

    batch_id: str
    request_id: str
    kecamatan: str
    filename: str | None
    row: int | None
    submitted_by: str
    submitted_at: dt.datetime
    decisions: list[Record]


class ResidentData(BaseModel):
    nik: str
    generated_at: dt.datetime
    generated_by: str
    requests: list[Record] = Field(description="every stored field of each request but the images' bytes")
    cards: list[Record]
    batches: list[BatchRow]
    print_jobs: list[Record]
    audit: list[Record] = Field(description="audit rows about these requests, cards and print jobs")
    access: list[Record] = Field(description="every recorded look at this NIK or its requests, newest first")
    stored_answers: list[Record] = Field(description="answers kept for retried submissions (Idempotency-Key)")


def _record(row: Any, *, leave_out: Iterable[str] = ()) -> Record:
    """Every mapped column of an ORM row, by attribute name."""
    skip = set(leave_out)
    return {c.key: getattr(row, c.key) for c in inspect(type(row)).column_attrs if c.key not in skip}


async def _requests(session: AsyncSession, nik: str) -> list[Record]:
    table = PrintRequest.__table__
    columns = [c for c in table.columns if c.name not in IMAGE_COLUMNS]
    query = (
        select(
            *columns,
            (func.length(PrintRequest.photo) > 0).label("photo_held"),
            (func.length(PrintRequest.signature) > 0).label("signature_held"),
        )
        .where(PrintRequest.nik == nik)
        .order_by(PrintRequest.created_at, PrintRequest.id)
    )
    found = []
    for row in (await session.execute(query)).mappings():
        record = {c.name: row[c] for c in columns}
        record["images"] = ImagesHeld(
            photo_held=bool(row["photo_held"]),
            signature_held=bool(row["signature_held"]),
            sealed=row[table.c.data_key_id] is not None,
            data_key_id=row[table.c.data_key_id],
            purged_at=row[table.c.images_purged_at],
        ).model_dump()
        found.append(record)
    return found


def _any_of(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    # An empty IN is false on both databases: a NIK with nothing held matches nothing.
    condition: ColumnElement[bool] = column.in_(sorted(set(values)))
    return condition


async def gather(session: AsyncSession, nik: str, *, generated_by: str, at: dt.datetime) -> ResidentData:
    """Everything held about ``nik`` (an empty document when nothing is)."""
    requests = await _requests(session, nik)
    ids = [r["id"] for r in requests]
    cards = (
        await session.scalars(
            select(Card).where(or_(Card.nik == nik, _any_of(Card.request_id, ids))).order_by(Card.printed_at)
        )
    ).all()
    jobs = (
        await session.scalars(select(QueueJob).where(_any_of(QueueJob.request_id, ids)).order_by(QueueJob.claimed_at))
    ).all()
    objects = ids + [c.serial for c in cards] + [j.job_id for j in jobs]
    audit = (
        await session.scalars(select(AuditEvent).where(_any_of(AuditEvent.object_id, objects)).order_by(AuditEvent.id))
    ).all()
    access = (
        await session.scalars(
            select(AccessEvent)
            .where(or_(AccessEvent.nik == nik, _any_of(AccessEvent.request_id, ids)))
            .order_by(AccessEvent.id.desc())
        )
    ).all()
    answers = (
        await session.scalars(
            select(IdempotencyKey)
            .where(_any_of(IdempotencyKey.body["id"].as_string(), ids))
            .order_by(IdempotencyKey.created_at)
        )
    ).all()
    return ResidentData(
        nik=nik,
        generated_at=at,
        generated_by=generated_by,
        requests=requests,
        cards=[_record(c) for c in cards],
        batches=await _batches(session, requests),
        print_jobs=[_record(j) for j in jobs],
        audit=[_record(a) for a in audit],
        access=[_record(a) for a in access],
        # The answer itself is the request as submitted: it is listed above; here, who kept it and when.
        stored_answers=[_record(k, leave_out=("body", "fingerprint")) for k in answers],
    )


async def _batches(session: AsyncSession, requests: Sequence[Record]) -> list[BatchRow]:
    from_batches = [r for r in requests if r["batch_id"] is not None]
    if not from_batches:
        return []
    batch_ids = [r["batch_id"] for r in from_batches]
    batches = {b.id: b for b in (await session.scalars(select(Batch).where(_any_of(Batch.id, batch_ids)))).all()}
    decided = (
        await session.scalars(
            select(BatchDecision)
            .where(_any_of(BatchDecision.request_id, [r["id"] for r in from_batches]))
            .order_by(BatchDecision.decided_at, BatchDecision.id)
        )
    ).all()
    rows = []
    for request in from_batches:
        batch = batches[request["batch_id"]]
        rows.append(
            BatchRow(
                batch_id=batch.id,
                request_id=request["id"],
                kecamatan=request["kecamatan_code"],
                filename=batch.filename,
                row=request["batch_row"],
                submitted_by=batch.submitted_by,
                submitted_at=batch.created_at,
                decisions=[_record(d) for d in decided if d.request_id == request["id"]],
            )
        )
    return rows
