"""Rules of batches: the file is spooled and hashed (same file again → the same batch), then read row by row
in chunks; each chunk is validated off the event loop, checked against active NIKs, and inserted in bulk with
its audit rows. Row numbers count data rows from 1 (the CSV header is row 0); a JSON row may carry its own ``row``.

What a file costs is bounded whatever it holds: ``batch_max_rows`` rows (past them it is refused whole), chunks
of ``batch_chunk_rows`` rows or ``CHUNK_IMAGE_BYTES`` of images, and ``batch_report_max_errors`` stored errors
(whole rows, at most ``ROW_ERRORS`` each): the rows refused after them are counted, not listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal, Role
from services.common.models import new_id
from services.common.problems import BadRequest, Conflict, FieldError, Forbidden, NotFound, Unprocessable
from services.request.batches import repository
from services.request.batches.files import Row, Upload, csv_rows, json_rows, spool
from services.request.batches.schemas import BatchOut, BatchStatus
from services.request.context import ServiceContext
from services.request.models import Batch
from services.request.print_requests import repository as request_repository
from services.request.print_requests.schemas import Channel, Priority, RequestIn
from services.request.print_requests.states import RequestStatus
from services.request.print_requests.validation import check_request
from services.request.queue import repository as queue_repository
from services.request.queue.policy import BATCH_SOURCE, QueuePolicy

__all__ = ["BATCH_CHANNELS", "Upload", "batch_out", "needs_review", "process", "readable", "spool"]

BATCH_CHANNELS = frozenset({Channel.KECAMATAN_BATCH, Channel.MOBILE_UNIT})
_IMAGES: set[str] = {"photo", "signature"}
READ_CHUNK = 1024 * 1024
# A chunk also ends once its valid rows hold this many bytes of images: 5,000 rows of large photos stay small.
CHUNK_IMAGE_BYTES = 16 * 1024 * 1024
# The errors one refused row keeps for the report (the last says how many more there were).
ROW_ERRORS = 20


def batch_out(batch: Batch) -> BatchOut:
    return BatchOut(
        id=batch.id,
        status=BatchStatus(batch.status),
        format=batch.format,
        filename=batch.filename,
        content_hash=batch.content_hash,
        total_rows=batch.total_rows,
        accepted_rows=batch.accepted_rows,
        rejected_rows=batch.rejected_rows,
        approved_rows=batch.approved_rows or 0,
        declined_rows=batch.declined_rows or 0,
        pending_rows=(
            batch.accepted_rows - (batch.approved_rows or 0) - (batch.declined_rows or 0)
            if batch.status == BatchStatus.SUBMITTED.value
            else 0
        ),
        submitted_by=batch.submitted_by,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        decided_by=batch.decided_by,
        decided_at=batch.decided_at,
        report=f"/v1/batches/{batch.id}/report",
    )


def needs_review(context: ServiceContext, principal: Principal) -> bool:
    """A clerk's batch is a kecamatan's proposal: with ``batch_review_required`` its rows wait for the office's
    decision. The office's own uploads (operator, admin) are queued at once, as is everything with review off."""
    return context.settings.batch_review_required and principal.role is Role.CLERK


def validator_status(context: ServiceContext, principal: Principal) -> RequestStatus:
    """What a batch's valid rows are stored as: ``received`` (awaiting review) or ``queued``."""
    return RequestStatus.RECEIVED if needs_review(context, principal) else RequestStatus.QUEUED


def readable(principal: Principal, batch: Batch) -> None:
    """Clerks read the batches they submitted; operators and admins read all."""
    if principal.role is Role.CLERK and batch.submitted_by != principal.subject:
        raise Forbidden("a clerk reads only the batches it submitted", kind="out-of-scope")


@dataclass
class _Chunk:
    seen: int = 0
    # (row number, the request's column values but id, queue_key, created_at and updated_at)
    valid: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    image_bytes: int = 0


class _ReportRoom:
    """Room left in the report: a refused row's errors are kept whole while they fit in ``limit`` errors, and
    once one row does not fit no later row is kept (the report lists the first refused rows, the batch counts
    them all). Shared by the validating thread and the inserting event loop, hence the lock."""

    def __init__(self, limit: int) -> None:
        self._room = limit
        self._lock = threading.Lock()

    def take(self, errors: list[FieldError]) -> bool:
        with self._lock:
            if len(errors) > self._room:
                self._room = 0
                return False
            self._room -= len(errors)
            return True


def _row_errors(number: int, errors: list[FieldError]) -> list[FieldError]:
    """At most ``ROW_ERRORS`` errors of one row, the last saying how many more there were."""
    if len(errors) <= ROW_ERRORS:
        return errors
    more = len(errors) - ROW_ERRORS + 1
    return [*errors[: ROW_ERRORS - 1], FieldError(row=number, field="row", reason=f"{more} more errors in this row")]


class _Validator:
    """Validates rows chunk by chunk (in a worker thread); remembers NIKs seen earlier in the file."""

    def __init__(
        self,
        rows: Iterator[Row],
        context: ServiceContext,
        principal: Principal,
        batch_id: str,
        status: RequestStatus,
        channel: Channel | None = None,
        stamp: Mapping[str, Any] | None = None,
    ):
        self.rows = rows
        self.channel = channel
        self.context = context
        self.principal = principal
        self.report = _ReportRoom(context.settings.batch_report_max_errors)
        self.today = context.today()
        self.seen_niks: dict[str, int] = {}
        # What every request of the batch is stored with (the row's values are built here, off the event loop).
        self.common = {
            "status": status.value,
            "status_note": None,
            "attempts": 0,
            "batch_id": batch_id,
            "submitted_by": principal.subject,
            "submitter_role": principal.role.value,
            **(stamp or {}),
        }

    def next_chunk(self, size: int) -> _Chunk:
        chunk = _Chunk()
        for row in self.rows:
            chunk.seen += 1
            errors = self._check(row, chunk)
            if errors:
                errors = _row_errors(row.number, errors)
                if self.report.take(errors):
                    chunk.errors.extend(errors)
            if chunk.seen >= size or chunk.image_bytes >= CHUNK_IMAGE_BYTES:
                break
        return chunk

    def _check(self, row: Row, chunk: _Chunk) -> list[FieldError]:
        if row.errors:
            return row.errors
        number, raw = row.number, row.values
        raw.setdefault("channel", (self.channel or Channel.KECAMATAN_BATCH).value)
        try:
            data = RequestIn.model_validate(raw)
        except ValidationError as exc:
            return [
                FieldError(row=number, field=".".join(str(p) for p in e["loc"]) or "row", reason=e["msg"])
                for e in exc.errors()
            ]
        if self.channel is not None and data.channel != self.channel:
            return [FieldError(row=number, field="channel", reason=f"every row of this upload is {self.channel}")]
        if data.channel not in BATCH_CHANNELS:
            return [FieldError(row=number, field="channel", reason="a batch row is kecamatan_batch or mobile_unit")]
        if not self.principal.may_act_for(data.kecamatan_code):
            return [FieldError(row=number, field="kecamatan_code", reason="outside your scope")]
        checked, errors = check_request(
            data, catalog=self.context.catalog, settings=self.context.settings, today=self.today, thorough=False
        )
        if checked is None:
            return [FieldError(row=number, field=e.field, reason=e.reason) for e in errors]
        first = self.seen_niks.setdefault(data.nik, number)
        if first != number:
            return [FieldError(row=number, field="nik", reason=f"already in this batch at row {first}")]
        values = data.model_dump(exclude=_IMAGES)
        values.update(
            self.common,
            id=new_id(),
            batch_row=number,
            photo=checked.photo,
            signature=checked.signature,
            priority=data.priority.value,
        )
        # Sealed here, in the worker thread, under the id the row is stored with (privacy/keys.py).
        self.context.keyring.seal_images(values)
        chunk.valid.append((number, values))
        chunk.image_bytes += len(checked.photo) + len(checked.signature)
        return []


# --- processing ---------------------------------------------------------------------------------------------


async def _insert_chunk(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    batch: Batch,
    chunk: _Chunk,
    report: _ReportRoom,
) -> int:
    active = await request_repository.active_niks(session, [values["nik"] for _, values in chunk.valid])
    accepted: list[dict[str, Any]] = []
    for number, values in chunk.valid:
        nik = values["nik"]
        if nik in active:
            error = FieldError(
                row=number, field="nik", reason=f"already has an active request /v1/requests/{active[nik]}"
            )
            if report.take([error]):
                chunk.errors.append(error)
        else:
            accepted.append(values)

    now = context.clock()
    policy = QueuePolicy.from_settings(context.settings)
    spacing = policy.spacing_ms
    # Every row queues in its kecamatan's batch lane, apart from the desk's walk-ins (queue/policy.py).
    lanes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for values in accepted:
        lanes.setdefault((values["priority"], values["kecamatan_code"]), []).append(values)
    for (priority, kecamatan), members in sorted(lanes.items()):
        first = await queue_repository.take_keys(
            session,
            priority=priority,
            source=BATCH_SOURCE,
            kecamatan_code=kecamatan,
            count=len(members),
            base=policy.base_key(urgent=priority == Priority.URGENT.value, now=now),
            spacing=spacing,
        )
        for offset, values in enumerate(members):
            values["queue_key"] = first + offset * spacing
    for values in accepted:
        values["created_at"] = values["updated_at"] = now

    try:
        await request_repository.bulk_insert(session, accepted)
    except IntegrityError:
        raise Conflict(
            "a request for one of this batch's NIKs arrived meanwhile; upload the batch again",
            kind="batch-raced",
        ) from None
    await repository.insert_created_audit_rows(
        session,
        at=now,
        principal=principal,
        batch_id=batch.id,
        created=[(values["id"], values["priority"]) for values in accepted],
        status=RequestStatus(validator_status(context, principal)),
    )
    await repository.insert_errors(
        session,
        [{"batch_id": batch.id, "row": e.row, "field": e.field[:60], "reason": e.reason[:300]} for e in chunk.errors],
    )
    return len(accepted)


async def process(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    upload: Upload,
    *,
    channel: Channel | None = None,
    stamp: Mapping[str, Any] | None = None,
) -> tuple[Batch, bool]:
    """``(batch, created)``: the same content again returns the batch made the first time. ``channel``: every row
    is of that channel (a row naming another is refused), else kecamatan_batch unless it names mobile_unit;
    ``stamp``: columns every request of the batch is stored with (a mobile visit's id, services.request.mobile)."""
    existing = await repository.by_hash(session, upload.content_hash)
    if existing is not None:
        readable(principal, existing)
        return existing, False
    if upload.format not in ("csv", "json"):
        raise BadRequest(f"unsupported format {upload.format}", kind="unsupported-format")
    now = context.clock()
    batch = Batch(
        id=new_id(),
        content_hash=upload.content_hash,
        format=upload.format,
        filename=upload.filename,
        status=BatchStatus.PROCESSING.value,
        total_rows=0,
        accepted_rows=0,
        rejected_rows=0,
        submitted_by=principal.subject,
        submitter_role=principal.role.value,
        scope=",".join(sorted(principal.scope))[:400],
        created_at=now,
    )
    session.add(batch)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("the same file is being processed; retry", kind="batch-in-progress") from None

    max_rows = context.settings.batch_max_rows
    rows = (csv_rows if upload.format == "csv" else json_rows)(upload.file, max_rows=max_rows)
    review = needs_review(context, principal)
    validator = _Validator(rows, context, principal, batch.id, validator_status(context, principal), channel, stamp)
    size = context.settings.batch_chunk_rows
    total = accepted = rejected = 0
    # A pipeline: the next chunk is read and validated in a worker thread while this one is inserted.
    pending = asyncio.ensure_future(asyncio.to_thread(validator.next_chunk, size))
    try:
        while True:
            chunk = await pending
            if chunk.seen == 0:
                break
            pending = asyncio.ensure_future(asyncio.to_thread(validator.next_chunk, size))
            total += chunk.seen
            chunk_accepted = await _insert_chunk(session, context, principal, batch, chunk, validator.report)
            accepted += chunk_accepted
            rejected += chunk.seen - chunk_accepted
    finally:
        if not pending.done():
            with contextlib.suppress(Exception):
                await pending
    if total == 0:
        raise Unprocessable.field("file", "no data rows")

    batch.total_rows, batch.accepted_rows, batch.rejected_rows = total, accepted, rejected
    if accepted and review:
        batch.status = BatchStatus.SUBMITTED.value  # the office decides (batches/review.py)
    elif rejected == 0:
        batch.status = BatchStatus.COMPLETED.value
    elif accepted == 0:
        batch.status = BatchStatus.REJECTED.value
    else:
        batch.status = BatchStatus.COMPLETED_WITH_ERRORS.value
    batch.finished_at = context.clock()
    if accepted and not review:
        context.queued(session)
    await session.flush()
    context.auditor.record(
        session, principal, "batch.processed", "batch", batch.id,
        before=None, after={"status": batch.status, "total": total, "accepted": accepted, "rejected": rejected},
    )  # fmt: skip
    return batch, True


async def get_readable(session: AsyncSession, principal: Principal, batch_id: str) -> Batch:
    batch = await repository.get(session, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}", kind="batch-not-found")
    readable(principal, batch)
    return batch
