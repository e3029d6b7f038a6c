"""Sign-in (``POST /v1/auth/token``, OAuth2's password grant), sign-out, and the admin's staff accounts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from services.common.auth import STAFF_ROLES, Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.problems import Unprocessable, problem_responses
from services.request.context import Context
from services.request.partners import service as partners
from services.request.staff import passwords, service
from services.request.staff.schemas import Token, UserChange, UserIn, Username, UserOut

__all__ = ["SIGN_IN_PATH", "router"]

SIGN_IN_PATH = "/v1/auth/token"
router = APIRouter(tags=["staff"])
Admin = Annotated[Principal, Depends(Authorize(Role.ADMIN))]
Staff = Annotated[Principal, Depends(Authorize(*STAFF_ROLES))]
_basic = HTTPBasic(auto_error=False, description="A partner's client_id and client_secret (client credentials)")


class TokenForm:
    """``POST /v1/auth/token``'s form: OAuth2's password grant (staff: ``username``, ``password``; RFC 6749
    §4.3.2) or client credentials grant (partner systems: ``client_id`` and ``client_secret`` in the form, or in an
    HTTP Basic header, RFC 6749 §2.3.1)."""

    def __init__(
        self,
        grant_type: Annotated[str, Form(pattern="^(password|client_credentials)$")],
        username: Annotated[str | None, Form(max_length=64)] = None,
        password: Annotated[str | None, Form(max_length=passwords.MAX_LENGTH)] = None,
        client_id: Annotated[str | None, Form(max_length=64)] = None,
        client_secret: Annotated[str | None, Form(max_length=200)] = None,
        basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username, self.password = username, password
        self.client_id = client_id or (unquote(basic.username) if basic else None)
        self.client_secret = client_secret or (unquote(basic.password) if basic else None)


@router.post(
    SIGN_IN_PATH,
    response_model=Token,
    summary="A token: staff sign in with a password (a working day's token); partners with client credentials",
    responses=problem_responses(400, 422, 429, 503),
)
async def sign_in(form: Annotated[TokenForm, Depends()], session: DbSession, context: Context) -> JSONResponse:
    if form.grant_type == "client_credentials":
        if not form.client_id or not form.client_secret:
            raise Unprocessable.field("client_secret", "client_id and client_secret are required (form or Basic)")
        token = await partners.authenticate(session, context, form.client_id, form.client_secret)
    else:
        if not form.username:
            raise Unprocessable.field("username", "the password grant needs a username")
        if form.password is None:
            raise Unprocessable.field("password", "the password grant needs a password")
        token = await service.sign_in(session, context, form.username.strip().lower(), form.password)
    # RFC 6749 §5.1: a token answer is never cached.
    return JSONResponse(token.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post("/v1/auth/sign-out", status_code=204, summary="Sign out (audited)", responses=problem_responses(401))
async def sign_out(session: DbSession, context: Context, principal: Staff) -> Response:
    """On record; the console forgets its token. The token itself lives until it expires (at most a working day):
    ``ektp token revoke`` stops one at once."""
    context.auditor.record(session, principal, "auth.signed_out", "staff_user", principal.subject)
    return Response(status_code=204)


@router.get("/v1/users", response_model=list[UserOut], summary="Staff accounts (admin)")
async def list_users(session: ReadSession, _: Admin) -> list[UserOut]:
    return [service.user_out(user) for user in await service.list_users(session)]


@router.post(
    "/v1/users",
    status_code=201,
    response_model=UserOut,
    summary="Add a staff account (admin)",
    responses=problem_responses(409, 422),
)
async def add_user(body: UserIn, session: DbSession, context: Context, admin: Admin) -> UserOut:
    return service.user_out(await service.add_user(session, context, admin, body))


@router.patch(
    "/v1/users/{username}",
    response_model=UserOut,
    summary="Change a staff account: password (unlocks), disabled, role, kecamatan, name (admin)",
    responses=problem_responses(404, 422),
)
async def change_user(
    username: Annotated[Username, Path()], body: UserChange, session: DbSession, context: Context, admin: Admin
) -> UserOut:
    return service.user_out(await service.change_user(session, context, admin, username, body))
