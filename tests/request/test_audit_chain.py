"""Every way the request service writes audit rows is sealed into its hash chain: the ORM, a one-statement CTE
in autocommit (submissions and claims on PostgreSQL) and COPY (a batch on PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from services.common.audit_chain import verify_trail
from services.common.db import Database
from services.request.models import AuditEvent
from tests.factories import batch_row, request_body
from tests.request.conftest import InProcessRequestService


async def test_submissions_a_batch_and_claims_at_once_leave_one_unbroken_chain(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    submitted = await asyncio.gather(*(operator.post("/v1/requests", json=request_body(n)) for n in range(1, 6)))
    assert [r.status_code for r in submitted] == [201] * 5, [r.text for r in submitted]
    batch = await operator.post("/v1/batches", json={"rows": [batch_row(n) for n in range(10, 20)]})
    assert batch.status_code < 300, batch.text
    claims = await asyncio.gather(
        *(gateway.post("/v1/queue/claims", json={"job_id": f"job_{n}", "printer_id": "p1"}) for n in range(3))
    )
    assert all(r.status_code < 300 for r in claims), [r.text for r in claims]

    db: Database = office.app.state.db
    async with db.read_sessions() as session:
        report = await verify_trail(session)
        rows = await session.scalar(select(func.count()).select_from(AuditEvent))
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert report.broken is None
    assert report.rows == rows
    assert rows is not None
    assert rows >= 5 + 10 + 3
    assert {"request.created", "queue.claimed"} <= actions
