"""The webhooks in the OpenAPI description (3.1 ``webhooks``): what a partner's receiver is sent, so that it can be
generated from the same document as the client."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, Field

__all__ = ["EVENT_TYPES", "install_webhook_docs"]

EVENT_TYPES = (
    "request.queued",
    "request.printing",
    "request.printed",
    "request.needs_review",
    "request.activated",
    "request.collected",
    "request.cancelled",
    "request.rejected",
    "request.overdue",  # still queued or printing past its reason's target (told once)
)


class EventData(BaseModel):
    request_id: str = Field(examples=["5f0c7a2e-9a51-4d8e-b7c4-2f1d3c9a8e10"])
    status: str = Field(examples=["printed"])
    previous_status: str | None = Field(default=None, examples=["printing"])
    occurred_at: dt.datetime
    nik: str | None = Field(
        default=None, description="masked: the first 4 and last 2 digits", examples=["1809**********01"]
    )
    reason: str | None = Field(default=None, examples=["health"])
    priority: str | None = Field(default=None, examples=["urgent"])
    card_serial: str | None = Field(default=None, description="once printed", examples=["KTP00012345"])


class RequestEvent(BaseModel):
    """One change of a partner's request. At least once, in order per request; drop duplicates by ``webhook-id``."""

    type: Literal[EVENT_TYPES] = Field(examples=["request.printed"])  # type: ignore[valid-type]
    timestamp: dt.datetime = Field(description="when the change happened (UTC)")
    data: EventData


def install_webhook_docs(app: FastAPI) -> None:
    @app.webhooks.post("request-status-changed", status_code=204, summary="A partner's request changed status")
    def request_status_changed(
        body: RequestEvent,
        webhook_id: Annotated[str, Header(alias="webhook-id", description="msg_<n>: the same on every resend")],
        webhook_timestamp: Annotated[str, Header(alias="webhook-timestamp", description="the send, Unix seconds")],
        webhook_signature: Annotated[
            str,
            Header(
                alias="webhook-signature",
                description="`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the partner's whsec_ secret; "
                "space-separated, one per secret in force (two during a rotation's overlap). Verify with any "
                "Standard Webhooks library; refuse a timestamp more than 5 minutes off.",
            ),
        ],
    ) -> None:
        """Answer 2xx within 10 s to acknowledge; anything else is retried with backoff for 3 days."""
