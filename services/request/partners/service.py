"""The partner registry: register, change, suspend, rotate secrets; client credentials → a partner token; the
guard every partner call passes (still active? within its rate limit?); what a partner may submit.

A registered partner's token is signed with the request service's own key (``kid: staff``, which the services
accept for staff and partner roles only), subject = its ``client_id``, for ``partner_token_minutes``. Suspending a
partner stops its tokens at the next call: the guard reads the registry on every call a registered partner makes
(one primary-key read), so nothing waits for a token to expire.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

from fastapi import Request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import STAFF_KEY_ID, Principal, Role, issue_token
from services.common.problems import (
    BadRequest,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from services.request.context import ServiceContext
from services.request.partners import secrets
from services.request.partners.models import Partner, PartnerSecret
from services.request.partners.schemas import PartnerChange, PartnerCreated, PartnerIn, PartnerOut, RotatedSecret
from services.request.staff.schemas import Token
from services.request.staff.service import signing_key

__all__ = ["Guard", "authenticate", "change", "check_submission", "get", "register", "rotate", "valid_secrets"]

ACTIVE, SUSPENDED = "active", "suspended"


def _audit(context: ServiceContext, session: AsyncSession, actor: Principal, action: str, partner: Partner) -> None:
    state = {"status": partner.status, "name": partner.name, "callback_url": partner.callback_url}
    context.auditor.record(session, actor, action, "partner", partner.id, after=state)


def _secret_row(context: ServiceContext, partner_id: str, kind: str, secret: str, now: dt.datetime) -> PartnerSecret:
    if kind == "client":
        return PartnerSecret(partner_id=partner_id, kind=kind, secret_hash=secrets.hash_secret(secret), created_at=now)
    sealed, key_id = secrets.seal(context.keyring, partner_id, secret)
    return PartnerSecret(partner_id=partner_id, kind=kind, sealed=sealed, key_id=key_id, created_at=now)


def _check_kecamatan(context: ServiceContext, codes: list[str] | None) -> None:
    unknown = [code for code in codes or [] if code not in context.catalog.kecamatan]
    if unknown:
        raise Unprocessable.field("allowed_kecamatan", f"not a kecamatan of this regency: {', '.join(unknown)}")


async def register(session: AsyncSession, context: ServiceContext, actor: Principal, body: PartnerIn) -> PartnerCreated:
    _check_kecamatan(context, body.allowed_kecamatan)
    now = context.clock()
    partner = Partner(
        id=secrets.new_client_id(),
        name=body.name,
        contact=body.contact,
        allowed_reasons=[str(r) for r in body.allowed_reasons],
        allowed_kecamatan=body.allowed_kecamatan,
        rate_limit_per_minute=body.rate_limit_per_minute,
        callback_url=str(body.callback_url) if body.callback_url else None,
        status=ACTIVE,
        created_at=now,
        updated_at=now,
    )
    client_secret, webhook_secret = secrets.new_client_secret(), secrets.new_webhook_secret()
    session.add(partner)
    await session.flush()
    session.add_all([_secret_row(context, partner.id, "client", client_secret, now),
                     _secret_row(context, partner.id, "webhook", webhook_secret, now)])  # fmt: skip
    _audit(context, session, actor, "partner.registered", partner)
    await session.flush()
    out = PartnerOut.model_validate(partner).model_dump()
    return PartnerCreated(**out, client_id=partner.id, client_secret=client_secret, webhook_secret=webhook_secret)


async def get(session: AsyncSession, partner_id: str) -> Partner:
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"no partner {partner_id}", kind="partner-not-found")
    return partner


async def change(
    session: AsyncSession, context: ServiceContext, actor: Principal, partner_id: str, body: PartnerChange
) -> Partner:
    partner = await get(session, partner_id)
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"all_kecamatan"})
    for name in ("name", "contact", "allowed_reasons", "rate_limit_per_minute", "status"):
        if name in values and values[name] is None:
            raise Unprocessable.field(name, "may be changed, not emptied")
    if body.all_kecamatan:
        values["allowed_kecamatan"] = None
    _check_kecamatan(context, values.get("allowed_kecamatan"))
    if "allowed_reasons" in values and values["allowed_reasons"] is not None:
        values["allowed_reasons"] = [str(r) for r in values["allowed_reasons"]]
    if "callback_url" in values and values["callback_url"] is not None:
        values["callback_url"] = str(values["callback_url"])
    for name, value in values.items():
        setattr(partner, name, value)
    partner.updated_at = context.clock()
    action = {SUSPENDED: "partner.suspended", ACTIVE: "partner.reactivated"}.get(str(values.get("status")))
    _audit(context, session, actor, action or "partner.changed", partner)
    await session.flush()
    return partner


async def valid_secrets(session: AsyncSession, partner_id: str, kind: str, now: dt.datetime) -> list[PartnerSecret]:
    """The partner's secrets of ``kind`` still in force (the current one, and rotated ones within their overlap)."""
    query = select(PartnerSecret).where(PartnerSecret.partner_id == partner_id, PartnerSecret.kind == kind)
    rows = (await session.scalars(query.order_by(PartnerSecret.id.desc()))).all()
    return [row for row in rows if row.expires_at is None or row.expires_at > now]


async def rotate(
    session: AsyncSession, context: ServiceContext, actor: Principal, partner_id: str, kind: str, overlap_hours: float
) -> RotatedSecret:
    await get(session, partner_id)
    now = context.clock()
    until = now + dt.timedelta(hours=overlap_hours)
    for row in await valid_secrets(session, partner_id, kind, now):
        row.expires_at = min(row.expires_at or until, until)
    secret = secrets.new_client_secret() if kind == "client" else secrets.new_webhook_secret()
    session.add(_secret_row(context, partner_id, kind, secret, now))
    context.auditor.record(session, actor, f"partner.{kind}_secret_rotated", "partner", partner_id,
                           after={"previous_valid_until": until.isoformat()})  # fmt: skip
    await session.flush()
    return RotatedSecret(kind=kind, secret=secret, previous_valid_until=until)


async def authenticate(session: AsyncSession, context: ServiceContext, client_id: str, client_secret: str) -> Token:
    """OAuth2's client credentials grant (RFC 6749 §4.4): a partner token, or 400 ``invalid_client``."""
    now = context.clock()
    partner = await session.get(Partner, client_id) if client_id.startswith("ptn_") else None
    rows = await valid_secrets(session, client_id, "client", now) if partner is not None else []
    if partner is None or not any(row.secret_hash and secrets.matches(client_secret, row.secret_hash) for row in rows):
        raise BadRequest("the client_id or client_secret is wrong", kind="invalid-client", error="invalid_client")
    if partner.status != ACTIVE:
        raise BadRequest(f"partner {partner.id} is suspended", kind="partner-suspended", error="invalid_client")
    ttl = dt.timedelta(minutes=context.settings.partner_token_minutes)
    key = signing_key(context.settings.staff_private_key_file)
    token = issue_token(key, role=Role.PARTNER.value, subject=partner.id, ttl=ttl, key_id=STAFF_KEY_ID)
    principal = Principal(subject=partner.id, role=Role.PARTNER, registered=True)
    context.auditor.record(session, principal, "auth.partner_token", "partner", partner.id)
    return Token(access_token=token, expires_in=int(ttl.total_seconds()))


class Guard:
    """``app.state.principal_guard``: a registered partner's every call finds it active and within its limit."""

    def __init__(self) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def __call__(self, request: Request, principal: Principal) -> None:
        if not principal.registered:
            return
        async with request.app.state.db.read_sessions() as session:
            partner = await session.get(Partner, principal.subject)
        if partner is None or partner.status != ACTIVE:
            raise Unauthorized(f"partner {principal.subject} is suspended or unknown", kind="partner-suspended")
        item = parse(f"{partner.rate_limit_per_minute}/minute")
        if not self.limiter.hit(item, "partner", partner.id):
            reset = self.limiter.get_window_stats(item, "partner", partner.id).reset_time
            retry_after = max(1, math.ceil(reset - time.time()))
            raise TooManyRequests(
                f"partner {partner.id} makes at most {partner.rate_limit_per_minute} calls a minute",
                kind="rate-limited",
                retry_after=retry_after,
                headers={"Retry-After": str(retry_after)},
            )
        request.state.partner = partner


def check_submission(request: Request, principal: Principal, reason: str, kecamatan_code: str) -> None:
    """A registered partner submits only the reasons and kecamatan the office allowed it."""
    partner: Partner | None = getattr(request.state, "partner", None)
    if not principal.registered or partner is None:
        return
    if reason not in partner.allowed_reasons:
        raise Forbidden(f"partner {partner.id} may not submit reason {reason}", kind="reason-not-allowed")
    if partner.allowed_kecamatan is not None and kecamatan_code not in partner.allowed_kecamatan:
        raise Forbidden(f"partner {partner.id} may not submit for kecamatan {kecamatan_code}", kind="out-of-scope")
