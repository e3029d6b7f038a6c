"""The office's review of a kecamatan's proposal: an operator (or admin) approves its valid rows, all at once or
row by row, or rejects rows with a reason. Approved rows are queued (they keep the queue keys given at upload,
so a resident's wait counts from the proposal); rejected rows end ``rejected`` and are never claimable.

::

    submitted ─▶ approved          (every valid row approved)
              ─▶ partly_approved   (some approved, some rejected)
              ─▶ rejected          (every valid row rejected)

The batch stays ``submitted`` while rows await a decision. Each call is one audit event (``batch.decided``) and
one ``batch_decisions`` row per row decided (who, when, the reason), which the batch's report lists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.problems import Conflict, FieldError, NotFound
from services.request.batches import repository
from services.request.batches.schemas import BatchStatus, Decision, DecisionsIn
from services.request.context import ServiceContext
from services.request.models import Batch

__all__ = ["decide"]


def _snapshot(batch: Batch) -> dict[str, Any]:
    return {"status": batch.status, "approved": batch.approved_rows or 0, "declined": batch.declined_rows or 0}


async def decide(
    session: AsyncSession, context: ServiceContext, principal: Principal, batch_id: str, body: DecisionsIn
) -> Batch:
    batch = await repository.get(session, batch_id, for_update=True)
    if batch is None:
        raise NotFound(f"no batch {batch_id}", kind="batch-not-found")
    if batch.status != BatchStatus.SUBMITTED.value:
        raise Conflict(f"the batch is {batch.status}: only a submitted proposal is decided", kind="batch-not-submitted")
    before = _snapshot(batch)
    now = context.clock()
    detail: dict[str, Any]
    try:
        async with session.begin_nested():  # a concurrent decision on the same row: refused whole, nothing kept
            if body.approve == "all_valid":
                approved = await repository.approve_all_pending(session, batch_id=batch.id, principal=principal, at=now)
                detail = {"approve": "all_valid", "approved": approved}
            else:
                assert body.rows is not None
                pending = await repository.pending_rows(session, batch.id, [r.row for r in body.rows])
                missing = [r.row for r in body.rows if r.row not in pending]
                if missing:
                    raise Conflict(
                        f"{len(missing)} rows do not await a decision (decided already, or not a valid row)",
                        kind="rows-not-pending",
                        errors=[FieldError(row=row, field="row", reason="not awaiting a decision") for row in missing],
                    )
                approve = [(r.row, pending[r.row]) for r in body.rows if r.decision is Decision.APPROVE]
                reject = [(r.row, pending[r.row], r.reason or "") for r in body.rows if r.decision is Decision.REJECT]
                await repository.decide_rows(
                    session, batch_id=batch.id, principal=principal, at=now, approve=approve, reject=reject
                )
                approved = len(approve)
                detail = {"approved_rows": [row for row, _ in approve], "rejected_rows": [row for row, *_ in reject]}
    except IntegrityError:
        raise Conflict("another decision on these rows came first; read the batch again", kind="batch-raced") from None

    counts = await repository.decision_counts(session, batch.id)
    batch.approved_rows = counts.get(Decision.APPROVE.value, 0)
    batch.declined_rows = counts.get(Decision.REJECT.value, 0)
    batch.decided_by, batch.decided_at = principal.subject, now
    if batch.approved_rows + batch.declined_rows >= batch.accepted_rows:
        if batch.declined_rows == 0:
            batch.status = BatchStatus.APPROVED.value
        elif batch.approved_rows == 0:
            batch.status = BatchStatus.REJECTED.value
        else:
            batch.status = BatchStatus.PARTLY_APPROVED.value
    if approved:
        context.queued(session)
    await session.flush()
    context.auditor.record(
        session, principal, "batch.decided", "batch", batch.id, before=before, after=_snapshot(batch) | detail
    )
    return batch
