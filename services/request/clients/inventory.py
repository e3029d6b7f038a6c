"""The one call the request service makes to the inventory: a surrendered card handed to its custody
(``POST /v1/returned-cards``, idempotent by serial: ``Idempotency-Key: returned-card:<serial>``)."""

from __future__ import annotations

import datetime as dt

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from services.common.peers import PeerClient, PeerReplyInvalid
from services.request.config import Settings

__all__ = ["InventoryClient", "ReturnedCard"]


class ReturnedCard(BaseModel):
    """The part of the inventory's answer the request service reads."""

    model_config = ConfigDict(extra="allow")

    serial: str
    state: str


class InventoryClient(PeerClient):
    """Typed client of the inventory service, made in the app's lifespan and closed with it."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # An officer waits at the desk: a few tries within the time-out, then 503 and the surrender is not kept.
        http, policy = self.for_a_person(
            settings.inventory_url,
            token=settings.peer_token(),
            timeout=settings.inventory_timeout_seconds,
            attempts=3,
            transport=transport,
        )
        super().__init__(http, policy=policy)

    async def return_card(
        self, *, serial: str, request_id: str, received_by: str, received_at: dt.datetime, note: str | None
    ) -> ReturnedCard:
        """Put the card in the inventory's custody (the same serial again → the same record).

        ``PeerUnavailable`` when the inventory does not answer, ``PeerAnswer`` on a refusal (4xx),
        ``PeerReplyInvalid`` for a body that is not the contract's."""
        body = {
            "serial": serial,
            "request_id": request_id,
            "received_by": received_by,
            "received_at": received_at.isoformat(),
            "note": note,
        }
        response = await self.call("POST", "/v1/returned-cards", body=body, key=f"returned-card:{serial}")
        try:
            return ReturnedCard.model_validate(response.json())
        except (ValidationError, ValueError) as exc:
            raise PeerReplyInvalid(f"the inventory's returned card is not readable: {exc}") from None
