"""Staff accounts and sign-in: the rules, shared by the API (endpoints.py) and ``ektp user`` (services/ops/users.py).

Sign-in (``sign_in``) is OAuth2's password grant: a right password gives a token signed with the staff key
(``services.common.auth``: admin, operator and clerk only), living ``sign_in_token_hours`` (8 h, a working day),
subject = the username, scope = a clerk's kecamatan. ``sign_in_max_failures`` wrong passwords in a row lock the
account for ``sign_in_lock_seconds`` (429 with ``Retry-After``, the right password included); a new password set by
an admin unlocks it. Every sign-in, failure, lock and change is audited (never the password); a failure for a
username that does not exist changes nothing and is only logged, with the same answer as a wrong password.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import STAFF_KEY_ID, Principal, Role, issue_token
from services.common.db import commit
from services.common.problems import BadRequest, Conflict, NotFound, ServiceUnavailable, TooManyRequests, Unprocessable
from services.request.context import ServiceContext
from services.request.models import StaffUser
from services.request.staff import passwords
from services.request.staff.schemas import Token, UserChange, UserIn, UserOut

__all__ = ["add_user", "change_user", "list_users", "sign_in", "signing_key", "user_out"]

log = logging.getLogger(__name__)


def user_out(user: StaffUser) -> UserOut:
    return UserOut.model_validate(user)


def _codes(user: StaffUser) -> list[str]:
    return [code for code in user.kecamatan.split(",") if code]


def _check_scope(context: ServiceContext, role: str, kecamatan: list[str]) -> None:
    if role == Role.CLERK.value and not kecamatan:
        raise Unprocessable.field("kecamatan", "a clerk acts for at least one kecamatan")
    if role != Role.CLERK.value and kecamatan:
        raise Unprocessable.field("kecamatan", f"only a clerk has kecamatan; a {role} acts for the whole regency")
    unknown = [code for code in kecamatan if code not in context.catalog.kecamatan]
    if unknown:
        raise Unprocessable.field("kecamatan", f"not a kecamatan of this regency: {', '.join(unknown)}")


def _audit_user(
    context: ServiceContext, session: AsyncSession, actor: Principal, action: str, user: StaffUser, **after: object
) -> None:
    state = {"role": user.role, "kecamatan": _codes(user), "disabled": user.disabled, **after}
    context.auditor.record(session, actor, action, "staff_user", user.username, after=state)


async def add_user(session: AsyncSession, context: ServiceContext, actor: Principal, body: UserIn) -> StaffUser:
    _check_scope(context, body.role, body.kecamatan)
    if await session.get(StaffUser, body.username) is not None:
        raise Conflict(f"user {body.username} exists", kind="user-exists", username=body.username)
    now = context.clock()
    user = StaffUser(
        username=body.username,
        password_hash=await passwords.hash_password(body.password),
        role=body.role,
        kecamatan=",".join(sorted(set(body.kecamatan))),
        full_name=body.full_name,
        disabled=False,
        failed_sign_ins=0,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await session.flush()
    _audit_user(context, session, actor, "staff.user_added", user)
    return user


async def change_user(
    session: AsyncSession, context: ServiceContext, actor: Principal, username: str, body: UserChange
) -> StaffUser:
    user = await session.get(StaffUser, username, with_for_update=True)
    if user is None:
        raise NotFound(f"no user {username}", kind="user-not-found")
    role = body.role or user.role
    kecamatan = body.kecamatan if body.kecamatan is not None else (_codes(user) if role == Role.CLERK.value else [])
    _check_scope(context, role, kecamatan)
    changed = sorted(field for field, value in body.model_dump(exclude_unset=True).items() if value is not None)
    user.role, user.kecamatan = role, ",".join(sorted(set(kecamatan)))
    if body.full_name is not None:
        user.full_name = body.full_name
    if body.disabled is not None:
        user.disabled = body.disabled
    if body.password is not None:
        user.password_hash = await passwords.hash_password(body.password)
        user.failed_sign_ins, user.locked_until = 0, None
    user.updated_at = context.clock()
    await session.flush()
    _audit_user(context, session, actor, "staff.user_changed", user, changed=changed)
    return user


async def list_users(session: AsyncSession) -> list[StaffUser]:
    return list((await session.scalars(select(StaffUser).order_by(StaffUser.username))).all())


def signing_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ServiceUnavailable(
            "staff sign-in is not set up here: the staff signing key is missing (staff_private_key_file)",
            kind="sign-in-unavailable",
        ) from None


def _invalid_grant() -> BadRequest:
    return BadRequest("the username or password is wrong", kind="invalid-grant", error="invalid_grant")


def _locked(until: dt.datetime, now: dt.datetime) -> TooManyRequests:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return TooManyRequests(
        f"too many wrong passwords: this account is locked for {seconds} s",
        kind="account-locked",
        error="invalid_grant",
        headers={"Retry-After": str(seconds)},
    )


async def sign_in(session: AsyncSession, context: ServiceContext, username: str, password: str) -> Token:
    """A token for ``username`` if ``password`` is right; the failure counted and committed when it is not."""
    settings = context.settings
    key = signing_key(settings.staff_private_key_file)
    now = context.clock()
    user = await session.get(StaffUser, username, with_for_update=True)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise _locked(user.locked_until, now)
    matches, rehashed = await passwords.check(password, user.password_hash if user else None)
    if user is None:
        log.warning("sign-in for an unknown username", extra={"username": username[:64]})
        raise _invalid_grant()
    principal = Principal(subject=user.username, role=Role(user.role))
    if not matches or user.disabled:
        user.failed_sign_ins += 1
        locked = user.failed_sign_ins >= settings.sign_in_max_failures
        if locked:
            user.failed_sign_ins = 0
            user.locked_until = now + dt.timedelta(seconds=settings.sign_in_lock_seconds)
        action = "auth.locked" if locked else "auth.sign_in_failed"
        reason = "disabled" if user.disabled and matches else "wrong password"
        _audit_user(context, session, principal, action, user, reason=reason)
        await commit(session)  # the count stands although the answer is an error
        if locked and user.locked_until is not None:
            raise _locked(user.locked_until, now)
        raise _invalid_grant()
    user.failed_sign_ins, user.locked_until, user.last_sign_in_at = 0, None, now
    if rehashed:
        user.password_hash = rehashed
    ttl = dt.timedelta(hours=settings.sign_in_token_hours)
    token = issue_token(key, role=user.role, subject=user.username, scope=_codes(user), ttl=ttl, key_id=STAFF_KEY_ID)
    _audit_user(context, session, principal, "auth.signed_in", user)
    return Token(access_token=token, expires_in=int(ttl.total_seconds()))
