"""``/v1/partners``: the registry (admin), and a partner's own deliveries (``/v1/partners/me/…``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams, paginate
from services.common.problems import NotFound, problem_responses
from services.request.context import Context
from services.request.partners import service
from services.request.partners.delivery import message_id
from services.request.partners.models import Partner, WebhookAttempt, WebhookEvent
from services.request.partners.schemas import (
    AttemptOut,
    DeliveryOut,
    PartnerChange,
    PartnerCreated,
    PartnerIn,
    PartnerOut,
    RotatedSecret,
    RotateIn,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/partners", tags=["partners"])
Admin = Annotated[Principal, Depends(Authorize(Role.ADMIN))]
PartnerItself = Annotated[Principal, Depends(Authorize(Role.PARTNER))]
PartnerId = Annotated[str, Path(pattern=r"^ptn_[0-9a-f]{16}$")]
DeliveryId = Annotated[str, Path(pattern=r"^msg_\d{1,18}$")]


@router.post("", status_code=201, response_model=PartnerCreated, summary="Register a partner system (admin)",
             responses=problem_responses(422))  # fmt: skip
async def register_partner(body: PartnerIn, session: DbSession, context: Context, admin: Admin) -> PartnerCreated:
    """The answer holds the client secret and the webhook signing secret: shown this once, never again."""
    return await service.register(session, context, admin, body)


@router.get("", response_model=list[PartnerOut], summary="The registered partners (admin)")
async def list_partners(session: ReadSession, _: Admin) -> list[PartnerOut]:
    rows = (await session.scalars(select(Partner).order_by(Partner.created_at))).all()
    return [PartnerOut.model_validate(row) for row in rows]


@router.get("/me/deliveries", response_model=Page[DeliveryOut], summary="A partner's webhook deliveries, newest first")
async def my_deliveries(
    session: ReadSession, principal: PartnerItself, page: Annotated[PageParams, Depends()]
) -> Page[DeliveryOut]:
    """Admins read any partner's at ``/v1/partners/{id}/deliveries``."""
    return await _deliveries(session, principal.subject, page)


@router.post("/me/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryOut,
             summary="Send a delivery again (a failed or delivered one: it goes back in its request's order)",
             responses=problem_responses(404))  # fmt: skip
async def redeliver(
    delivery_id: DeliveryId, session: DbSession, context: Context, principal: PartnerItself
) -> DeliveryOut:
    event = await session.get(WebhookEvent, int(delivery_id.removeprefix("msg_")))
    if event is None or event.partner_id != principal.subject:
        raise NotFound(f"no delivery {delivery_id}", kind="delivery-not-found")
    event.state, event.next_attempt_at, event.leased_until = "pending", context.clock(), None
    context.auditor.record(session, principal, "webhook.redeliver", "webhook_event", delivery_id)
    await session.flush()
    return _out(event, [])


@router.get("/{partner_id}", response_model=PartnerOut, summary="A partner (admin)", responses=problem_responses(404))
async def get_partner(partner_id: PartnerId, session: ReadSession, _: Admin) -> PartnerOut:
    return PartnerOut.model_validate(await service.get(session, partner_id))


@router.patch("/{partner_id}", response_model=PartnerOut,
              summary="Change a partner: suspend (its tokens stop at once) or reactivate, limits, callback (admin)",
              responses=problem_responses(404, 422))  # fmt: skip
async def change_partner(
    partner_id: PartnerId, body: PartnerChange, session: DbSession, context: Context, admin: Admin
) -> PartnerOut:
    return PartnerOut.model_validate(await service.change(session, context, admin, partner_id, body))


@router.post("/{partner_id}/secrets", status_code=201, response_model=RotatedSecret,
             summary="Rotate the client or webhook secret; the old one works for overlap_hours more (admin)",
             responses=problem_responses(404, 422))  # fmt: skip
async def rotate_secret(
    partner_id: PartnerId, body: RotateIn, session: DbSession, context: Context, admin: Admin
) -> RotatedSecret:
    return await service.rotate(session, context, admin, partner_id, body.kind, body.overlap_hours)


@router.get("/{partner_id}/deliveries", response_model=Page[DeliveryOut], summary="A partner's deliveries (admin)",
            responses=problem_responses(404))  # fmt: skip
async def partner_deliveries(
    partner_id: PartnerId, session: ReadSession, _: Admin, page: Annotated[PageParams, Depends()]
) -> Page[DeliveryOut]:
    await service.get(session, partner_id)
    return await _deliveries(session, partner_id, page)


def _out(event: WebhookEvent, attempts: list[WebhookAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=message_id(event.id), partner_id=event.partner_id, request_id=event.request_id,
        type=f"request.{event.status}", state=event.state, attempts=event.attempts, occurred_at=event.occurred_at,
        next_attempt_at=event.next_attempt_at if event.state == "pending" else None, delivered_at=event.delivered_at,
        last_status_code=event.last_status_code, history=[AttemptOut.model_validate(a) for a in attempts],
    )  # fmt: skip


async def _deliveries(session: AsyncSession, partner_id: str, page: PageParams) -> Page[DeliveryOut]:
    query = select(WebhookEvent).where(WebhookEvent.partner_id == partner_id)
    events, total = await paginate(session, query, WebhookEvent.id.desc(), limit=page.limit, offset=page.offset)
    ids = [event.id for event in events]
    attempts: dict[int, list[WebhookAttempt]] = {event_id: [] for event_id in ids}
    if ids:
        rows = await session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.event_id.in_(ids)).order_by(WebhookAttempt.id)
        )
        for row in rows:
            attempts[row.event_id].append(row)
    return Page[DeliveryOut](
        items=[_out(event, attempts[event.id]) for event in events], total=total, limit=page.limit, offset=page.offset
    )
