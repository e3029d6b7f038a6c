"""The request service as the gateway sees it: claims with leases, and reports by job id.

Every state-changing call carries ``Idempotency-Key: <job id>:<step>``; reports by job id are idempotent at
the request service too, so a retry after a lost answer is harmless.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict

from services.common.peers import PeerAnswer, PeerClient, PeerPolicy
from services.gateway.errors import LeaseLost, StaleJob

__all__ = ["ACCESS_PURPOSE_HEADER", "CardData", "Claim", "RequestClient"]

MAX_REASON = 300
# Why the gateway reads a resident's record: the request service writes it into its access log.
ACCESS_PURPOSE_HEADER = "X-Access-Purpose"
MAX_PURPOSE = 300
MAX_CARDS_PER_HOUR = 10_000
# A waiting claim's read time-out: its wait plus this, so the request service always answers first.
CLAIM_WAIT_MARGIN_SECONDS = 10.0


class CardData(BaseModel):
    """The printed fields of an e-KTP, plus photo and signature (base64 JPEG/PNG)."""

    model_config = ConfigDict(extra="allow")

    nik: str
    name: str
    birth_place: str = ""
    birth_date: dt.date | str | None = None
    sex: str = ""
    blood_type: str | None = None
    address: str = ""
    rt: str = ""
    rw: str = ""
    village: str = ""
    village_code: str | None = None
    kecamatan: str = ""
    kecamatan_code: str | None = None
    regency: str = ""
    province: str = ""
    religion: str = ""
    marital_status: str = ""
    occupation: str = ""
    citizenship: str = "WNI"
    valid_until: str | None = "SEUMUR HIDUP"
    photo: str | None = None
    signature: str | None = None
    issued_at: str | None = None
    issued_place: str | None = None


class Claim(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str
    request_id: str
    printer_id: str | None = None
    priority: Literal["urgent", "regular"] = "regular"
    reason: str | None = None
    attempts: int = 0
    lease_expires_at: dt.datetime | None = None
    card: CardData


def _reason(text: str) -> str:
    return (text or "unspecified")[:MAX_REASON]


class RequestClient(PeerClient):
    """``/v1/queue/...`` and ``/v1/requests/{id}`` of the request service (role service)."""

    answers: dict[tuple[int, str], type[PeerAnswer]] = {  # noqa: RUF012
        (409, "lease-lost"): LeaseLost,
        (409, "stale-job"): StaleJob,
    }

    async def claim(
        self, job_id: str, printer_id: str, lease_seconds: float, *, wait_seconds: float = 0.0
    ) -> Claim | None:
        """The next request for this printer under ``job_id``, or None when nothing is ready (204).

        ``wait_seconds``: with nothing ready the request service holds the call that long for a request to be
        queued (long polling); the read time-out is stretched to match.
        """
        body: dict[str, Any] = {"job_id": job_id, "printer_id": printer_id, "lease_seconds": lease_seconds}
        read_timeout = None
        if wait_seconds > 0:
            body["wait_seconds"] = wait_seconds
            read_timeout = httpx.Timeout(wait_seconds + CLAIM_WAIT_MARGIN_SECONDS, connect=2.0)
        response = await self.call(
            "POST", "/v1/queue/claims", body=body, key=f"{job_id}:claim", read_timeout=read_timeout
        )
        if response.status_code == 204 or not response.content:
            return None
        return Claim.model_validate(response.json())

    async def renew(self, job_id: str, lease_seconds: float) -> None:
        await self.call(
            "POST",
            f"/v1/queue/claims/{job_id}/renew",
            body={"lease_seconds": lease_seconds},
            policy=PeerPolicy(attempts=3, max_seconds=10.0),
        )

    async def release(self, job_id: str) -> None:
        await self._report(job_id, "release", {})

    async def sent(self, job_id: str, printer_id: str) -> None:
        await self._report(job_id, "sent", {"printer_id": printer_id})

    async def printed(self, job_id: str, card_serial: str, printer_id: str) -> dict[str, Any]:
        return await self._report(job_id, "printed", {"card_serial": card_serial, "printer_id": printer_id})

    async def failed(self, job_id: str, reason: str, *, card_used: bool) -> dict[str, Any]:
        return await self._report(job_id, "failed", {"reason": _reason(reason), "card_used": card_used})

    async def needs_review(self, job_id: str, reason: str) -> dict[str, Any]:
        return await self._report(job_id, "needs-review", {"reason": _reason(reason)})

    async def put_capacity(self, cards_per_hour: float, printers: int) -> None:
        """Publish the fleet's throughput: ``cards_per_hour`` is the total of all ready printers (the request
        service does not multiply it by ``printers``, which it only shows)."""
        if cards_per_hour <= 0 or printers < 1:
            return  # nothing measured or rated yet: the request service keeps its figure
        await self.call(
            "PUT",
            "/v1/queue/capacity",
            body={"cards_per_hour": round(min(cards_per_hour, MAX_CARDS_PER_HOUR), 1), "printers": printers},
            policy=PeerPolicy(attempts=3, max_seconds=10.0),
        )

    async def get_request(self, request_id: str, *, purpose: str) -> dict[str, Any]:
        """A request as the request service shows it; ``purpose`` goes with the call (``X-Access-Purpose``), for
        the access log it keeps of every look at a resident's record."""
        response = await self.call(
            "GET",
            f"/v1/requests/{request_id}",
            policy=PeerPolicy(attempts=3, max_seconds=10),
            headers={ACCESS_PURPOSE_HEADER: purpose[:MAX_PURPOSE]},
        )
        body: dict[str, Any] = response.json()
        return body

    async def _report(self, job_id: str, what: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.call("POST", f"/v1/queue/claims/{job_id}/{what}", body=body, key=f"{job_id}:{what}")
        return self.json_of(response)
