"""A Suket's status as read (a valid one past its date is expired) and its withdrawal, called by the request's
own steps: the card's handover withdraws the resident's Sukets in the handover's transaction, a cancellation the
request's. Imports nothing of print_requests, which calls it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.sukets.models import Suket
from services.request.sukets.schemas import SuketStatus

__all__ = ["audit_state", "effective_status", "withdraw", "withdraw_valid"]

HANDED_OVER = "KTP-el diserahkan (card handed over)"
CANCELLED = "permohonan dibatalkan (request cancelled)"


def effective_status(suket: Suket, today: dt.date) -> SuketStatus:
    if suket.status == SuketStatus.VALID.value and today > suket.valid_until:
        return SuketStatus.EXPIRED
    return SuketStatus(suket.status)


def audit_state(suket: Suket) -> dict[str, Any]:
    """What an audit row records of a Suket: never its verification code."""
    return {
        "status": suket.status,
        "number": suket.number,
        "request_id": suket.request_id,
        "valid_until": suket.valid_until.isoformat(),
        "withdrawal_reason": suket.withdrawal_reason,
    }


async def withdraw(
    session: AsyncSession, context: ServiceContext, principal: Principal, suket: Suket, reason: str
) -> Suket:
    before = audit_state(suket)
    suket.status = SuketStatus.WITHDRAWN.value
    suket.withdrawn_at, suket.withdrawn_by, suket.withdrawal_reason = context.clock(), principal.subject, reason[:300]
    await session.flush()
    context.auditor.record(
        session, principal, "suket.withdrawn", "suket", suket.id, before=before, after=audit_state(suket)
    )
    return suket


async def withdraw_valid(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    *,
    reason: str,
    request_id: str | None = None,
    nik: str | None = None,
) -> list[Suket]:
    """Withdraw the Sukets still valid (by status: an expired one too) of ``request_id``, or of every request of
    ``nik`` (a card handed over ends the resident's Sukets, those of the request it replaced too)."""
    query = select(Suket).where(Suket.status == SuketStatus.VALID.value)
    if nik is not None:
        query = query.where(Suket.request_id.in_(select(PrintRequest.id).where(PrintRequest.nik == nik)))
    else:
        query = query.where(Suket.request_id == request_id)
    found = list((await session.scalars(query.with_for_update())).all())
    for suket in found:
        await withdraw(session, context, principal, suket, reason)
    return found
