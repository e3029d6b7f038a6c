"""Rules of Sukets: issued for a resident waiting for the card (one valid at a time), withdrawn by an operator,
verified by anyone holding its code. Functions flush, never commit (the session dependency owns the transaction).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import new_id
from services.common.problems import Conflict, NotFound
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.print_requests import service as requests
from services.request.print_requests.states import RequestStatus as S
from services.request.sukets.lifecycle import audit_state, effective_status, withdraw
from services.request.sukets.models import Suket
from services.request.sukets.repository import latest_for_request, next_seq
from services.request.sukets.schemas import SuketOut, SuketStatus, SuketSummary, SuketVerification

__all__ = [
    "ISSUABLE",
    "VERIFY_PREFIX",
    "cancel",
    "get",
    "issue",
    "mask_name",
    "number_for",
    "summary",
    "to_out",
    "verification",
    "verification_url",
]

# A resident still waiting for the card: the request is queued (or about to be), printing, or in review.
ISSUABLE = frozenset({S.RECEIVED, S.QUEUED, S.PRINTING, S.NEEDS_REVIEW})
WHY_NOT = {
    S.PRINTED: "its card is printed: activate it and hand it over",
    S.ACTIVATED: "its card is activated: hand it over",
    S.COLLECTED: "its card was handed over",
    S.CANCELLED: "it was cancelled: no card is coming",
    S.REJECTED: "it was rejected: no card is coming",
    S.REPLACED: "it was replaced: issue the Suket on the request that replaced it",
}
VERIFY_PREFIX = "/v1/sukets/verify/"
CODE_BYTES = 24  # 192 random bits: 32 URL-safe characters, never guessed


def number_for(seq: int, regency_code: str, year: int) -> str:
    """The register number: classification 474.11 (KTP), the year's sequence, SKET, the regency, the year."""
    return f"474.11/{seq:04d}/SKET/{regency_code}/{year}"


def mask_name(name: str) -> str:
    """``SITI RAHMAWATI`` → ``S*** R********``: enough to compare with the paper, not to learn the name."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in name.split())


def verification_url(base: str, suket: Suket) -> str:
    return base.rstrip("/") + VERIFY_PREFIX + suket.verification_code


def to_out(suket: Suket, context: ServiceContext, base: str) -> SuketOut:
    return SuketOut(
        id=suket.id,
        number=suket.number,
        request_id=suket.request_id,
        kecamatan_code=suket.kecamatan_code,
        status=effective_status(suket, context.today()),
        issued_at=suket.issued_at,
        issued_on=suket.issued_on,
        valid_until=suket.valid_until,
        issued_by=suket.issued_by,
        withdrawn_at=suket.withdrawn_at,
        withdrawn_by=suket.withdrawn_by,
        withdrawal_reason=suket.withdrawal_reason,
        pdf=f"/v1/sukets/{suket.id}.pdf",
        verification_url=verification_url(base, suket),
    )


def suket_exists(held: Suket) -> Conflict:
    url = f"/v1/sukets/{held.id}"
    return Conflict(
        f"the resident already holds Suket {held.number}, valid until {held.valid_until.isoformat()}: withdraw it "
        "first to issue another",
        kind="suket-exists",
        headers={"Link": f'<{url}>; rel="duplicate"'},
        existing_suket_id=held.id,
        existing_suket=url,
        existing_number=held.number,
    )


async def get(session: AsyncSession, suket_id: str, *, for_update: bool = False) -> Suket:
    query = select(Suket).where(Suket.id == suket_id)
    suket = (await session.scalars(query.with_for_update() if for_update else query)).first()
    if suket is None:
        raise NotFound(f"no Suket {suket_id}", kind="suket-not-found")
    return suket


async def _held_by_resident(session: AsyncSession, nik: str) -> list[Suket]:
    """The resident's Sukets still valid by status (one past its date too), on any of its requests."""
    query = select(Suket).where(
        Suket.status == SuketStatus.VALID.value,
        Suket.request_id.in_(select(PrintRequest.id).where(PrintRequest.nik == nik)),
    )
    return list((await session.scalars(query.with_for_update())).all())


async def issue(session: AsyncSession, context: ServiceContext, principal: Principal, request_id: str) -> Suket:
    """A Suket for the resident of ``request_id``, waiting for the card: 409 once the card is printed or the
    request ended (naming why), and while the resident holds a valid one (naming it)."""
    request = await requests.load(session, principal, request_id)  # its row locked: a handover waits for us
    status = S(request.status)
    if status not in ISSUABLE:
        raise Conflict(
            f"no Suket for a request that is {status.value}: {WHY_NOT[status]}",
            kind="suket-not-issuable",
            request_status=status.value,
        )
    today = context.today()
    for held in await _held_by_resident(session, request.nik):
        if effective_status(held, today) is SuketStatus.VALID:
            raise suket_exists(held)
        before = audit_state(held)  # past its date: expired for good, so that a new one may be the valid one
        held.status = SuketStatus.EXPIRED.value
        context.auditor.record(session, principal, "suket.expired", "suket", held.id, before=before,
                               after=audit_state(held))  # fmt: skip
    await session.flush()  # before the new one: the partial unique index holds one valid Suket per request
    seq = await next_seq(session, today.year)
    suket = Suket(
        id=new_id(),
        number=number_for(seq, context.settings.regency_code, today.year),
        year=today.year,
        seq=seq,
        request_id=request.id,
        kecamatan_code=request.kecamatan_code,
        status=SuketStatus.VALID.value,
        issued_at=context.clock(),
        issued_on=today,
        valid_until=today + dt.timedelta(days=context.settings.suket_valid_days),
        verification_code=secrets.token_urlsafe(CODE_BYTES),
        issued_by=principal.subject,
    )
    try:
        async with session.begin_nested():
            session.add(suket)
            await session.flush()
    except IntegrityError:  # pragma: no cover - the request's row lock serialises issues; the index is the net
        raise Conflict("another Suket was issued for this request at the same moment", kind="suket-exists") from None
    context.auditor.record(session, principal, "suket.issued", "suket", suket.id, after=audit_state(suket))
    return suket


async def cancel(
    session: AsyncSession, context: ServiceContext, principal: Principal, suket_id: str, reason: str
) -> Suket:
    """An operator withdraws a valid Suket (issued in error, the resident moved): 409 for one not valid."""
    suket = await get(session, suket_id, for_update=True)
    status = effective_status(suket, context.today())
    if status is not SuketStatus.VALID:
        raise Conflict(f"Suket {suket.number} is {status.value}: only a valid one is withdrawn", kind="suket-not-valid")
    return await withdraw(session, context, principal, suket, reason)


async def verification(session: AsyncSession, context: ServiceContext, code: str) -> SuketVerification:
    """What the public page answers for ``code``: 404 for an unknown one."""
    query = select(Suket, PrintRequest.name).join(PrintRequest, PrintRequest.id == Suket.request_id)
    found = (await session.execute(query.where(Suket.verification_code == code))).first()
    if found is None:
        raise NotFound("no Suket has this code", kind="suket-not-found")
    suket, name = found
    return SuketVerification(
        status=effective_status(suket, context.today()),
        number=suket.number,
        name=mask_name(name),
        issued_on=suket.issued_on,
        valid_until=suket.valid_until,
    )


async def summary(session: AsyncSession, context: ServiceContext, request_id: str) -> SuketSummary | None:
    """The request's latest Suket in brief (``GET /v1/requests/{id}``), or None."""
    suket = await latest_for_request(session, request_id)
    if suket is None:
        return None
    status = effective_status(suket, context.today())
    return SuketSummary(id=suket.id, number=suket.number, status=status, valid_until=suket.valid_until)
