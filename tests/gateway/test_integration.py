"""The gateway with the request and inventory services as real processes on loopback ports, and emulated
printers on real TCP ports: every card printed exactly once, in priority order, with the blanks reconciled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.common.auth import KeyPair
from tests.gateway.office import office

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_200_requests_are_printed_once_each_in_priority_order_and_the_blanks_reconcile(
    tmp_path: Path, keys: KeyPair, _templates: Any
) -> None:
    async with office(tmp_path, keys, _templates) as it:
        await it.start_services()
        await it.receive_blanks("KTP00000001", "KTP00000600")
        await it.printer("p1", "KTP00000001-KTP00000300", time_scale=600)
        await it.printer("p2", "KTP00000301-KTP00000600", time_scale=600)
        gateway = it.client("gateway")
        # Requests first (printers paused after commissioning), so the claim order shows the queue's order.
        ids: list[str] = []
        for n in range(8):
            ids += await it.submit(19)
            ids += await it.submit(6, urgent=True)
        urgent = set()
        for request_id in ids:
            if (await it.request(request_id))["priority"] == "urgent":
                urgent.add(request_id)
        assert len(ids) == 200 and len(urgent) == 48
        for name in ("p1", "p2"):
            printer_id = await it.commission(name)
            assert (await gateway.post(f"/v1/printers/{printer_id}/pause")).status_code == 200
        for printer_id in it.printer_ids.values():
            assert (await gateway.post(f"/v1/printers/{printer_id}/resume")).status_code == 200

        await it.wait_count("printed", 200, timeout=90)

        await it.assert_exactly_once(ids)
        invariant = await it.assert_blanks_reconciled()
        assert invariant["consumed"] == 200 and invariant["reserved"] == 0
        # Claim order: every urgent request before every regular one, each class first come first served
        # (two printers claim concurrently: a neighbour may swap with the other printer's claim).
        jobs = sorted(await it.jobs(status="printed"), key=lambda job: job["created_at"])
        order = [job["request_id"] for job in jobs]
        assert len(order) == 200
        last_urgent = max(i for i, r in enumerate(order) if r in urgent)
        first_regular = min(i for i, r in enumerate(order) if r not in urgent)
        assert last_urgent < 48 + 2 and first_regular > 48 - 3, (last_urgent, first_regular)
        regular_order = [r for r in order if r not in urgent]
        expected = [r for r in ids if r not in urgent]
        displacement = max(abs(regular_order.index(r) - i) for i, r in enumerate(expected))
        assert displacement <= 2
        # Both printers worked, and their measured speed is published.
        printers = [await it.printer_view(p) for p in it.printer_ids.values()]
        assert all(p["cards_printed"] > 40 for p in printers), printers
        assert all(p["cards_per_hour"] for p in printers)
