"""``request.overdue``: a partner's urgent request still waiting (queued or printing) past its reason's target
(services/request/queue/policy.py) is told once. Not a change of status, so no trigger sees it: the delivery
worker looks every ``OVERDUE_EVERY`` seconds and writes one outbox row per late request (``status`` 'overdue',
``previous_status`` the request's status), never a second."""

from __future__ import annotations

from sqlalchemy import and_, exists, insert, literal, or_, select

from services.common.db import Database
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.partners.models import Partner, WebhookEvent
from services.request.queue.policy import WAITING_STATUSES, overdue_before

__all__ = ["OVERDUE_EVERY", "notice_overdue"]

OVERDUE_EVERY = 30.0


async def notice_overdue(database: Database, context: ServiceContext) -> int:
    """Write the ``overdue`` events due now; how many."""
    now = context.clock()
    before = overdue_before(context.settings, now)
    if not before:
        return 0
    late = or_(*(and_(PrintRequest.reason == reason, PrintRequest.created_at < at) for reason, at in before.items()))
    told = exists().where(WebhookEvent.request_id == PrintRequest.id, WebhookEvent.status == "overdue")
    values = (PrintRequest.submitted_by, PrintRequest.id, literal("overdue"), PrintRequest.status, literal(now),
              literal("pending"), literal(0), literal(now))  # fmt: skip
    rows = (
        select(*values)
        .join(Partner, and_(Partner.id == PrintRequest.submitted_by, Partner.callback_url.is_not(None)))
        .where(PrintRequest.submitter_role == "partner", PrintRequest.status.in_(WAITING_STATUSES), late, ~told)
    )
    columns = ["partner_id", "request_id", "status", "previous_status", "occurred_at", "state", "attempts",
               "next_attempt_at"]  # fmt: skip
    async with database.transaction() as session:
        result = await session.execute(insert(WebhookEvent).from_select(columns, rows))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
