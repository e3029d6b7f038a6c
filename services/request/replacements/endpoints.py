"""``POST /v1/requests/{id}/replacements``: replace a damaged, lost or wrong card with a new request."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession
from services.common.idempotency import fingerprint
from services.common.problems import problem_responses
from services.request.context import Context
from services.request.print_requests import service as requests
from services.request.print_requests import views
from services.request.print_requests.schemas import RequestOut
from services.request.replacements import service
from services.request.replacements.schemas import ReplacementIn

__all__ = ["router"]

router = APIRouter(prefix="/v1/requests", tags=["requests"])

desk = Authorize(Role.ADMIN, Role.OPERATOR)


@router.post(
    "/{request_id}/replacements",
    status_code=201,
    response_model=RequestOut,
    summary="Replace a printed card (damaged, lost, data change): the old request ends, a new one is queued",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_replacement(
    request_id: str,
    body: ReplacementIn,
    request: Request,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(desk)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """201 the new request (``replaces`` names the old one, ``Location`` its URL); the old card's serial is
    invalid at once (``GET /v1/cards/{serial}``). A replay with the same ``Idempotency-Key`` gets the first answer."""
    fp = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    # Before a replay: a stored answer is only for whoever may still read the request it replaced.
    await requests.load(session, principal, request_id, for_update=False)
    if replay := await context.idempotency.replay(session, principal, idempotency_key, fp):
        return replay
    created = await service.replace(session, context, principal, request_id, body)
    content = views.to_out(created, context).model_dump(mode="json")
    headers = {"Location": f"/v1/requests/{created['id']}"}
    return await context.idempotency.remember(session, principal, idempotency_key, fp, 201, content, headers=headers)
