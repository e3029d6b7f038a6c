"""The inventory service as the gateway sees it: one blank reserved per job, then consumed, spoiled,
released or held. Calls carry ``Idempotency-Key: <job id>:<step>``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from services.common.peers import PeerAnswer, PeerClient
from services.gateway.errors import NoBlanks

__all__ = ["InventoryClient", "Reservation", "SpoilReason"]

SpoilReason = Literal["failed_print", "failed_encode", "damaged", "data_change"]


class Reservation(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str


class InventoryClient(PeerClient):
    """``/v1/reservations/...`` of the inventory service (role service)."""

    answers: dict[tuple[int, str], type[PeerAnswer]] = {(409, "no-blanks"): NoBlanks}  # noqa: RUF012

    async def reserve(self, job_id: str, *, urgent: bool, ttl_seconds: float) -> Reservation:
        response = await self.call(
            "POST",
            "/v1/reservations",
            body={"job_id": job_id, "urgent": urgent, "ttl_seconds": ttl_seconds},
            key=f"{job_id}:reserve",
        )
        return Reservation.model_validate(response.json())

    async def consume(self, job_id: str, serial: str, request_id: str, printer_id: str) -> dict[str, Any]:
        body = {"serial": serial, "request_id": request_id, "printer_id": printer_id}
        return await self._step(job_id, "consume", body)

    async def spoil(
        self, job_id: str, serial: str, *, reason: SpoilReason, witness: str, printer_id: str
    ) -> dict[str, Any]:
        body = {"serial": serial, "reason": reason, "witness": witness, "printer_id": printer_id}
        return await self._step(job_id, "spoil", body)

    async def release(self, job_id: str) -> dict[str, Any]:
        return await self._step(job_id, "release", {})

    async def hold(self, job_id: str, reason: str) -> dict[str, Any]:
        return await self._step(job_id, "hold", {"reason": (reason or "outcome unknown")[:200]})

    async def _step(self, job_id: str, what: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.call("POST", f"/v1/reservations/{job_id}/{what}", body=body, key=f"{job_id}:{what}")
        return self.json_of(response)
