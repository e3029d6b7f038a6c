"""The inventory service as the gateway sees it: one blank reserved per job, then consumed, spoiled,
released or held. Calls carry ``Idempotency-Key: <job id>:<step>``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from services.gateway.clients.base import PeerAnswer, PeerClient

__all__ = ["InventoryClient", "NoBlanks", "Reservation", "SpoilReason"]

SpoilReason = Literal["failed_print", "failed_encode", "damaged", "data_change"]


class Reservation(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str


class NoBlanks(Exception):
    """409 no-blanks: no blank card available to this class of job."""


class InventoryClient(PeerClient):
    """``/v1/reservations/...`` of the inventory service (role service)."""

    async def reserve(self, job_id: str, *, urgent: bool, ttl_seconds: float) -> Reservation:
        try:
            response = await self.call(
                "POST",
                "/v1/reservations",
                body={"job_id": job_id, "urgent": urgent, "ttl_seconds": ttl_seconds},
                key=f"{job_id}:reserve",
            )
        except PeerAnswer as exc:
            if exc.status == 409 and exc.kind == "no-blanks":
                raise NoBlanks(str(exc)) from exc
            raise
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
        try:
            answer: dict[str, Any] = response.json() if response.content else {}
        except ValueError:
            answer = {}
        return answer
