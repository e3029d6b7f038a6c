"""``Idempotency-Key`` with Stripe's semantics, stored in the service's own database.

A retried call with the same key and the same body gets the first answer again (same status, same body).
The same key with a different body is refused with 422. Two calls racing with one key: the loser gets 409
and may retry. Keys are scoped by caller (``Principal.owner``: subject, role and scope), so two callers never see each
other's answers, even with tokens that share a subject.

Usage in an endpoint (the session is the endpoint's write session, so the stored answer commits with the
change or not at all)::

    replay = await idem.replay(session, principal, key, fingerprint)
    if replay: return replay
    ... make the change ...
    return await idem.remember(session, principal, key, fingerprint, 201, body)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import IdempotencyKeyMixin
from services.common.problems import Conflict, FieldError, Unprocessable

__all__ = [
    "IDEMPOTENCY_DESCRIPTION",
    "IDEMPOTENCY_HEADER",
    "MAX_KEY_LENGTH",
    "REPLAY_HEADER",
    "IdempotencyKeys",
    "fingerprint",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255  # the column's width (services.common.models.IdempotencyKeyMixin); ``check_key`` enforces it
# The header as the OpenAPI document describes it wherever an operation accepts it (services.common.openapi).
IDEMPOTENCY_DESCRIPTION = (
    "Optional: makes a retry of this call safe. The first successful answer (status and body) is stored under "
    "the key for this caller only (the token's subject, role and scope), in the same transaction as the change. "
    f"A retry with the same key and the same body gets that answer again, with `{REPLAY_HEADER}: true`, and "
    "changes nothing. The same key with a different body (or on another path) is refused with 422 "
    "`idempotency-key-reused`; a retry that overlaps the first call may get 409 `idempotency-in-progress`: retry "
    "it. An error is not stored, so a call that failed may be retried with its key. "
    f"1 to {MAX_KEY_LENGTH} characters (422 otherwise); a UUID per logical call makes a good key. Stored answers "
    "are kept with no expiry: never reuse a key for another call."
)


def fingerprint(method: str, path: str, body: Any) -> str:
    """A stable hash of what was asked: method, path and the canonical JSON of the body (or raw bytes)."""
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    if isinstance(body, bytes):
        digest.update(body)
    else:
        digest.update(json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


class IdempotencyKeys:
    """Looks up and stores first answers in one service's ``idempotency_keys`` table."""

    def __init__(self, model: type[IdempotencyKeyMixin]) -> None:
        self.model = model
        # Mixins declare columns, not the constructor: the concrete model takes them as keywords.
        self._new: Callable[..., IdempotencyKeyMixin] = model

    @staticmethod
    def check_key(key: str) -> None:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise Unprocessable.field(IDEMPOTENCY_HEADER, f"must be 1 to {MAX_KEY_LENGTH} characters")

    async def replay(
        self, session: AsyncSession, principal: Principal, key: str | None, fp: str
    ) -> JSONResponse | None:
        """The first answer for this key, or None when the key is new (or absent)."""
        if key is None:
            return None
        self.check_key(key)
        row = await session.scalar(select(self.model).where(self.model.owner == principal.owner, self.model.key == key))
        if row is None:
            return None
        if row.fingerprint != fp:
            raise Unprocessable(
                "this Idempotency-Key was used with a different request",
                kind="idempotency-key-reused",
                errors=[FieldError(field=IDEMPOTENCY_HEADER, reason="already used with a different body")],
            )
        return JSONResponse(row.body, status_code=row.status_code, headers={REPLAY_HEADER: "true"})

    async def remember(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str | None,
        fp: str,
        status_code: int,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        """Store the answer under the key (in the caller's transaction) and return it."""
        content = jsonable_encoder(body)
        if key is not None:
            session.add(
                self._new(owner=principal.owner, key=key, fingerprint=fp, status_code=status_code, body=content)
            )
            try:
                await session.flush()
            except IntegrityError:
                raise Conflict(
                    "another call with this Idempotency-Key is in progress; retry",
                    kind="idempotency-in-progress",
                ) from None
        return JSONResponse(content, status_code=status_code, headers=headers)
