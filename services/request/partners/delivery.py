"""The webhook delivery worker: the outbox's events to the partners' receivers, at least once, in order per
request, signed per the Standard Webhooks spec.

Each round takes the events that are due: pending, ``next_attempt_at`` reached, not leased by another worker, and
the oldest pending event of their request (a later change waits until the earlier one is delivered or has failed,
so a receiver sees ``queued → printing → printed`` in that order). It leases them (``webhook_lease_seconds``: a
worker killed mid-send leaves them to the next round after that), sends them concurrently, and writes each
attempt (status, latency, the answer's first 500 characters, or the error) with the event's new state in one
transaction. A 2xx delivers; anything else (an error status, a refused connection, a timeout) retries after
``webhook_backoff_seconds`` × 2^(attempts−1), with ±50 % jitter and at most an hour, until ``webhook_retry_days``
after the change, when the event is marked failed. A resend carries the same ``webhook-id`` (``msg_<event id>``):
a receiver drops duplicates by it.

Headers: ``webhook-id``, ``webhook-timestamp`` (the send, in seconds) and ``webhook-signature`` (``v1,<base64
HMAC-SHA256 of id.timestamp.body>``, one per webhook secret in force: during a rotation's overlap both verify).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from services.common.db import Database
from services.common.logging import mask_niks
from services.common.tasks import periodic
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.partners import secrets
from services.request.partners.models import Partner, WebhookAttempt, WebhookEvent
from services.request.partners.overdue import OVERDUE_EVERY, notice_overdue
from services.request.partners.service import valid_secrets
from services.request.partners.webhooks_doc import EventData, RequestEvent

__all__ = ["deliver_once", "delivery_worker", "message_id", "payload"]

log = logging.getLogger(__name__)

BATCH = 200
SNIPPET = 500


def message_id(event_id: int) -> str:
    return f"msg_{event_id}"


def payload(event: WebhookEvent, request: PrintRequest | None) -> bytes:
    """The event as the partner reads it (``RequestEvent``, documented in the OpenAPI ``webhooks``): ids,
    statuses and times, and no more of the resident than it sent (the NIK masked, no name, no photo)."""
    overdue = event.status == "overdue"  # not a status: the request is still where previous_status says
    data = EventData(
        request_id=event.request_id,
        status=event.previous_status if overdue else event.status,
        previous_status=None if overdue else event.previous_status,
        occurred_at=event.occurred_at,
    )
    if request is not None:
        data.nik, data.reason, data.priority = mask_niks(request.nik), request.reason, request.priority
        if event.status in ("printed", "activated", "collected"):
            data.card_serial = request.card_serial
    body = RequestEvent(type=f"request.{event.status}", timestamp=event.occurred_at, data=data)
    return body.model_dump_json().encode()


@dataclass(slots=True)
class Outcome:
    event_id: int
    status_code: int | None
    latency_ms: int
    snippet: str | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _due(database: Database, context: ServiceContext, now: dt.datetime) -> list[int]:
    """Lease the events due now (the head of each request's pending events)."""
    earlier = aliased(WebhookEvent)
    head = ~exists().where(
        earlier.request_id == WebhookEvent.request_id, earlier.state == "pending", earlier.id < WebhookEvent.id
    )
    free = or_(WebhookEvent.leased_until.is_(None), WebhookEvent.leased_until < now)
    query = (
        select(WebhookEvent.id)
        .where(WebhookEvent.state == "pending", WebhookEvent.next_attempt_at <= now, free, head)
        .order_by(WebhookEvent.id)
        .limit(BATCH)
    )
    async with database.transaction() as session:
        ids = list((await session.scalars(query)).all())
        if not ids:
            return []
        until = now + dt.timedelta(seconds=context.settings.webhook_lease_seconds)
        leased = await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(ids), WebhookEvent.state == "pending", free)
            .values(leased_until=until)
            .returning(WebhookEvent.id)
        )
        return sorted(leased.scalars().all())


async def _send(client: httpx.AsyncClient, context: ServiceContext, database: Database, event_id: int) -> Outcome:
    async with database.read_sessions() as session:
        event = await session.get(WebhookEvent, event_id)
        assert event is not None
        partner = await session.get(Partner, event.partner_id)
        request = await session.get(PrintRequest, event.request_id)
        now = context.clock()
        keys = await valid_secrets(session, event.partner_id, "webhook", now)
    if partner is None or not partner.callback_url:
        return Outcome(event_id, None, 0, None, "the partner has no callback URL")
    body = payload(event, request)
    msg_id, sent_at = message_id(event_id), dt.datetime.now(dt.UTC)
    signatures = [
        Webhook(secrets.open_(context.keyring, partner.id, row.sealed or b"", row.key_id)).sign(msg_id, sent_at, body)
        for row in keys
    ]
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "user-agent": "ektp-print-webhooks/1",
    }
    started = time.perf_counter()
    try:
        answer = await client.post(partner.callback_url, content=body, headers=headers)
    except httpx.HTTPError as error:
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(event_id, None, latency, None, f"{type(error).__name__}: {error}"[:300])
    latency = int((time.perf_counter() - started) * 1000)
    return Outcome(event_id, answer.status_code, latency, answer.text[:SNIPPET], None)


def _next_try(context: ServiceContext, attempts: int, now: dt.datetime) -> dt.datetime:
    delay = min(3600.0, context.settings.webhook_backoff_seconds * 2 ** max(0, attempts - 1))
    return now + dt.timedelta(seconds=delay * random.uniform(0.5, 1.5))


async def _record(database: Database, context: ServiceContext, outcomes: Sequence[Outcome]) -> None:
    now = context.clock()
    give_up = dt.timedelta(days=context.settings.webhook_retry_days)
    async with database.transaction() as session:
        for outcome in outcomes:
            event = await session.get(WebhookEvent, outcome.event_id)
            if event is None or event.state != "pending":
                continue
            session.add(
                WebhookAttempt(event_id=event.id, at=now, status_code=outcome.status_code,
                               latency_ms=outcome.latency_ms, response_snippet=outcome.snippet, error=outcome.error)
            )  # fmt: skip
            event.attempts += 1
            event.last_status_code = outcome.status_code
            event.leased_until = None
            if outcome.delivered:
                event.state, event.delivered_at = "delivered", now
            elif now - event.occurred_at >= give_up:
                event.state = "failed"
                log.warning("webhook event failed for good", extra={"event": event.id, "partner": event.partner_id})
            else:
                event.next_attempt_at = _next_try(context, event.attempts, now)


async def deliver_once(database: Database, context: ServiceContext, client: httpx.AsyncClient) -> int:
    """One round: lease, send, record. Returns the events tried."""
    ids = await _due(database, context, context.clock())
    if not ids:
        return 0
    limit = asyncio.Semaphore(context.settings.webhook_concurrency)

    async def send(event_id: int) -> Outcome:
        async with limit:
            return await _send(client, context, database, event_id)

    outcomes = await asyncio.gather(*(send(event_id) for event_id in ids))
    await _record(database, context, outcomes)
    return len(ids)


@contextlib.asynccontextmanager
async def delivery_worker(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: deliver the outbox while the service runs (``webhook_delivery``)."""
    context: ServiceContext = app.state.context
    settings = context.settings
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        last_overdue_check = float("-inf")

        async def step() -> None:
            nonlocal last_overdue_check
            if time.monotonic() - last_overdue_check >= OVERDUE_EVERY:
                last_overdue_check = time.monotonic()
                await notice_overdue(app.state.db, context)
            while await deliver_once(app.state.db, context, client) == BATCH:
                pass  # a full batch: more may be due at once

        async with periodic(step, every=settings.webhook_poll_seconds, name="webhook-delivery",
                            enabled=settings.webhook_delivery):  # fmt: skip
            yield
