"""The gateway with the request and inventory services as real processes on loopback ports, and emulated
printers on real TCP ports: every card printed exactly once, in priority order, with the blanks reconciled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.common.auth import KeyPair
from tests.gateway.office import office
from tests.processes import EmulatorProcess
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_200_requests_are_printed_once_each_in_priority_order_and_the_blanks_reconcile(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        await it.start_services()
        await it.receive_blanks("KTP00000001", "KTP00000600")
        await it.printer("p1", "KTP00000001-KTP00000300", time_scale=600)
        await it.printer("p2", "KTP00000301-KTP00000600", time_scale=600)
        gateway = it.client("gateway")
        # Requests first (printers paused after commissioning), so the claim order shows the queue's order.
        ids: list[str] = []
        for _ in range(8):
            ids += await it.submit(19)
            ids += await it.submit(6, urgent=True)
        urgent = set()
        for request_id in ids:
            if (await it.request(request_id))["priority"] == "urgent":
                urgent.add(request_id)
        assert len(ids) == 200
        assert len(urgent) == 48
        for name in ("p1", "p2"):
            printer_id = await it.commission(name)
            assert (await gateway.post(f"/v1/printers/{printer_id}/pause")).status_code == 200
        for printer_id in it.printer_ids.values():
            assert (await gateway.post(f"/v1/printers/{printer_id}/resume")).status_code == 200

        await it.wait_count("printed", 200, timeout=90)

        await it.assert_exactly_once(ids)
        invariant = await it.assert_blanks_reconciled()
        assert invariant["consumed"] == 200
        assert invariant["reserved"] == 0
        # Claim order: every urgent request before every regular one, each class first come first served
        # (two printers claim concurrently: a neighbour may swap with the other printer's claim).
        jobs = sorted(await it.jobs(status="printed"), key=lambda job: job["created_at"])
        order = [job["request_id"] for job in jobs]
        assert len(order) == 200
        last_urgent = max(i for i, r in enumerate(order) if r in urgent)
        first_regular = min(i for i, r in enumerate(order) if r not in urgent)
        assert last_urgent < 48 + 2, (last_urgent, first_regular)
        assert first_regular > 48 - 3, (last_urgent, first_regular)
        regular_order = [r for r in order if r not in urgent]
        expected = [r for r in ids if r not in urgent]
        displacement = max(abs(regular_order.index(r) - i) for i, r in enumerate(expected))
        assert displacement <= 2
        # Previews: a job's card, and a request's (card data fetched from the request service).
        for path in (f"/v1/jobs/{jobs[0]['id']}/preview.png", f"/v1/requests/{ids[0]}/preview.png"):
            preview = await gateway.get(path)
            assert preview.status_code == 200, preview.text
            assert preview.headers["content-type"] == "image/png"
            assert preview.content.startswith(b"\x89PNG")
        assert (await gateway.get("/v1/requests/nope/preview.png")).status_code == 404
        # A job already printed cannot be cancelled, nor resolved.
        cancel = await gateway.post(f"/v1/jobs/{jobs[0]['id']}/cancel")
        assert cancel.status_code == 409
        assert cancel.json()["type"].endswith("job-already-sent")
        resolve = await gateway.post(f"/v1/jobs/{jobs[0]['id']}/resolve", json={"outcome": "not_printed"})
        assert resolve.status_code == 409
        # Both printers worked, and their measured speed is published.
        printers = [await it.printer_view(p) for p in it.printer_ids.values()]
        assert all(p["cards_printed"] > 40 for p in printers), printers
        assert all(p["cards_per_hour"] for p in printers)
        request_service = it.client("request")

        async def capacity_published() -> bool:
            stats = (await request_service.get("/v1/queue/stats")).json()
            return bool(stats["daily_capacity"] != 400)  # the request service's default: 2 printers × 200

        await wait_for(capacity_published, timeout=10, what="the fleet's measured capacity at the request service")


FAULTS = [
    # fault, the reason the gateway shows, the operator's action that clears it (besides the fault itself)
    ("card_jam", "media-jam-error", "clear_jam"),
    ("ribbon_out", "marker-supply-empty-error", None),
    ("cover_open", "cover-open-error", None),
    ("feeder_empty", "media-empty-error", None),
    ("output_full", "output-area-full-error", None),
]


async def test_each_printer_fault_shows_its_reason_pauses_the_printer_and_printing_resumes_when_cleared(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        it.stack.configure("request", max_attempts=10)
        await it.start_services()
        await it.receive_blanks("KTP00000001", "KTP00000200")
        # 0.25 s a card; it asks for cleaning every 8 cards (the gateway runs a cycle between cards).
        emulator = await it.printer("p1", "KTP00000001-KTP00000200", time_scale=120, clean_after=8)
        printer_id = await it.commission("p1")
        ids = await it.submit(30)
        for fault, reason, action in FAULTS:
            before = await it.count("printed")
            await it.wait_count("printed", before + 1, timeout=30)  # printing goes on
            await emulator.inject(fault, at_card=1)
            stopped = await it.wait_printer(printer_id, "stopped")
            assert reason in stopped["reasons"], (fault, stopped)
            # Stopped: no card comes out while the reason stands.
            cards = len(await it.printed_cards())
            assert (await it.printer_view(printer_id))["state"] == "stopped"
            assert len(await it.printed_cards()) == cards
            if action is not None:
                await emulator.act(action)
            await emulator.clear(fault)
            ready = await it.wait_printer(printer_id, "ready")
            assert reason not in ready["reasons"]
        await it.wait_count("printed", 30, timeout=60)
        await it.assert_exactly_once(ids)
        invariant = await it.assert_blanks_reconciled()
        assert invariant["reserved"] == 0
        failed = await it.jobs(status="failed")
        assert len(failed) >= len(FAULTS)
        state = await emulator.state()
        assert state["cards_printed"] >= 31  # 30 cards and the test card: cleaning cycles kept it going
        assert state["since_cleaning"] < 8


async def test_an_idle_printer_waits_for_work_takes_a_new_request_at_once_and_none_while_paused(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        # Only the notice of a queued request can end a claim's wait within this test's patience.
        it.stack.configure("request", claim_recheck_seconds=60)
        await it.start_services(claim_wait_seconds=30)
        await it.receive_blanks("KTP00000001", "KTP00000010")
        await it.printer("p1", "KTP00000001-KTP00000010")
        printer_id = await it.commission("p1")
        request, gateway = it.client("request"), it.client("gateway")

        async def claims_waiting() -> bool:
            return bool((await request.get("/v1/queue/stats")).json()["waiting_claims"] == 1)

        await wait_for(claims_waiting, what="the idle printer's claim waiting at the request service")
        first = await it.submit(1)
        await it.wait_count("printed", 1, timeout=10)
        # Paused while its claim waits: the request that ends the wait is handed back, not printed.
        await wait_for(claims_waiting, what="the claim waiting again")
        assert (await gateway.post(f"/v1/printers/{printer_id}/pause")).status_code == 200
        second = await it.submit(1)

        async def handed_back() -> bool:
            return bool(await it.jobs(request_id=second[0], status="handed_back"))

        await wait_for(handed_back, what="the card handed back")
        assert (await it.request(second[0]))["status"] == "queued"
        assert len(await it.printed_cards()) == 1
        assert (await gateway.post(f"/v1/printers/{printer_id}/resume")).status_code == 200
        await it.wait_count("printed", 2, timeout=10)
        await it.assert_exactly_once(first + second)
        assert (await it.assert_blanks_reconciled())["reserved"] == 0


async def test_while_the_inventory_is_down_nothing_is_consumed_and_printing_resumes_when_it_returns(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        await it.start_services()
        await it.receive_blanks("KTP00000001", "KTP00000100")
        await it.printer("p1", "KTP00000001-KTP00000100", time_scale=120)
        await it.commission("p1")
        ids = await it.submit(12)
        await it.wait_count("printed", 3, timeout=30)
        it.stack.kill("inventory")

        # The next card waits at its reservation, and the card that was printing has come out.
        waiting = await it.waiting_at("reserved", what="the printer waiting on the inventory")

        async def cards_and_printed() -> tuple[int, int]:
            return len(await it.printed_cards()), await it.count("printed")

        async def each_card_out_reported() -> bool:
            # The report of the last card out goes to the request service in the background, and can land late.
            cards, printed = await cards_and_printed()
            return cards == printed

        await wait_for(each_card_out_reported, what="the request service told of each card out")
        await it.assert_unchanged(cards_and_printed)  # with the inventory down the printer waits
        # The job waiting on the inventory can be cancelled; it is handed back once the inventory answers.
        cancel = await it.client("gateway").post(f"/v1/jobs/{waiting[0]['id']}/cancel")
        assert cancel.status_code == 202, cancel.text

        await it.stack.start("inventory")
        await it.wait_count("printed", 12, timeout=60)
        await it.assert_exactly_once(ids)
        invariant = await it.assert_blanks_reconciled()
        assert invariant["reserved"] == 0
        assert invariant["consumed"] == 12
        cancelled = await it.jobs(status="cancelled")
        assert [job["id"] for job in cancelled] == [waiting[0]["id"]]


async def test_while_the_request_service_is_down_printers_wait_and_a_card_out_but_unreported_survives_a_gateway_kill(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        await it.start_services()
        await it.receive_blanks("KTP00000001", "KTP00000100")
        await it.printer("p1", "KTP00000001-KTP00000100", time_scale=30)  # 0.8 s a card: time to see one in
        await it.commission("p1")
        ids = await it.submit(12)
        await it.wait_count("printed", 3, timeout=30)

        async def a_card_in_the_printer() -> bool:
            return any(job["step"] == "printing" for job in await it.jobs(status="active"))

        # Killed while a card prints (not between two cards, when nothing would be left to report).
        await wait_for(a_card_in_the_printer, timeout=30, what="a card in the printer")
        it.stack.kill("request")

        # The card in the printer comes out, but its "printed" report cannot reach the request service: the
        # job stays journaled at "printed" and no further card is claimed.
        unreported = await it.waiting_at("printed", what="a printed card waiting on the request service")

        async def cards_and_consumed() -> tuple[int, int]:
            return len(await it.printed_cards()), (await it.invariant())["consumed"]

        await it.assert_unchanged(cards_and_consumed)  # nothing more is printed or consumed

        # The gateway dies with the report still owed; it comes back first, then the request service.
        it.stack.kill("gateway")
        await it.stack.start("gateway")
        await it.stack.start("request")
        await it.wait_count("printed", 12, timeout=60)

        await it.assert_exactly_once(ids)
        invariant = await it.assert_blanks_reconciled()
        assert (invariant["consumed"], invariant["reserved"]) == (12, 0)
        assert await it.count("needs_review") == 0
        owed = (await it.client("gateway").get(f"/v1/jobs/{unreported[0]['id']}")).json()
        assert owed["status"] == "printed"
        assert (await it.request(owed["request_id"]))["card_serial"] == owed["card_serial"]


async def test_a_lease_shorter_than_a_card_is_renewed_while_the_card_prints(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        # A card takes 3 s; the lease is 1.5 s and the request service collects expired leases every 0.1 s:
        # without renewal every card sent would go to review.
        it.stack.configure("request", sweep_interval_seconds=0.1)
        await it.start_services(lease_seconds=1.5)
        await it.receive_blanks("KTP00000001", "KTP00000020")
        await it.printer("p1", "KTP00000001-KTP00000020", time_scale=10)
        await it.commission("p1")
        ids = await it.submit(3)
        await it.wait_count("printed", 3, timeout=60)
        await it.assert_exactly_once(ids)
        # No request passed through review on its way (an expired lease after "sent" sends it there, and the
        # late "printed" report would hide that at the end): its audit trail goes straight to printed.
        admin = it.client("request", "admin")
        for request_id in ids:
            trail = (await admin.get("/v1/audit", params={"object_id": request_id, "limit": 100})).json()["items"]
            statuses = [(row["after"] or {}).get("status") for row in reversed(trail)]
            assert "printed" in statuses
            assert "needs_review" not in statuses, statuses


async def test_sigkill_at_several_points_of_a_card_loses_and_duplicates_nothing_and_a_power_cut_goes_to_review(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        await it.start_services()
        await it.receive_blanks("KTP00000001", "KTP00000400")
        emulators = {
            "p1": await it.printer("p1", "KTP00000001-KTP00000200", time_scale=60),  # 0.5 s a card
            "p2": await it.printer("p2", "KTP00000201-KTP00000400", time_scale=60),
        }
        for name in emulators:
            await it.commission(name)
        ids = await it.submit(40)

        async def job_at(step: str) -> dict[str, Any] | None:
            found: list[dict[str, Any]] = []

            async def seen() -> bool:
                found[:] = await it.jobs(status="active", step=step)
                return bool(found)

            await wait_for(seen, timeout=30, interval=0.01, what=f"a job at {step}")
            return found[0]

        async def card_in_printer() -> tuple[dict[str, Any], EmulatorProcess]:
            """A job at "printing" whose card is inside its printer."""
            while True:
                job = await job_at("printing")
                assert job is not None
                name = next(n for n, pid in it.printer_ids.items() if pid == job["printer_id"])
                inside = (await emulators[name].state())["card_inside"]
                if inside is not None and inside["job"] == job["id"]:
                    return job, emulators[name]

        # 1-2: killed while a card is printing, twice: at restart the printer says what became of it.
        for _ in range(2):
            await card_in_printer()
            it.stack.kill("gateway")
            await it.stack.start("gateway")
        # 3: killed while a card is being prepared (claim/reserve/render), before it is sent.
        await job_at("reserved")
        it.stack.kill("gateway")
        await it.stack.start("gateway")
        # 4: killed mid-card, and the printer loses power while the gateway is down: nobody can say
        # whether that card came out, so its request goes to review and its blank stays held.
        job, emulator = await card_in_printer()
        it.stack.kill("gateway")
        await emulator.inject("power_loss")
        await emulator.act("power_on")
        await it.stack.start("gateway")

        reviewed: dict[str, Any] = {}

        async def in_review() -> bool:
            reviewed.update((await it.client("gateway").get(f"/v1/jobs/{job['id']}")).json())
            request = await it.request(job["request_id"])
            return reviewed["status"] == "needs_review" and request["status"] == "needs_review"

        await wait_for(in_review, timeout=30, what="the power-cut card's job and request in review")
        assert [e["step"] for e in reviewed["journal"]][-2:] == ["unknown", "review"]

        # Everything else ends printed or in review: a kill between the journal's "printing" and the card
        # being fed also leaves the printer unable to tell (Rjs UNKNOWN), and review is the safe answer.
        async def settled() -> bool:
            return await it.count("printed") + await it.count("needs_review") == 40

        await wait_for(settled, timeout=90, interval=0.2, what="every request printed or in review")
        in_review = await it.jobs(status="needs_review")
        assert job["id"] in [j["id"] for j in in_review]
        assert (await it.invariant())["reserved"] == len(in_review)  # their blanks are held

        # The operator looks in the output hopper and the reject box for each job in review.
        cards = await it.card_logs()
        lost = [c for c in cards if c["job"] == job["id"]]
        assert len(lost) == 1
        assert (lost[0]["outcome"], lost[0]["reason"]) == ("rejected", "POWER LOSS")
        for reviewed_job in in_review:
            found = [c for c in cards if c["job"] == reviewed_job["id"]]
            if found and found[0]["outcome"] == "printed":
                body = {"outcome": "printed", "card_serial": found[0]["serial"]}
            elif found:
                body = {"outcome": "not_printed", "card_serial": found[0]["serial"]}
            else:
                body = {"outcome": "not_printed"}
            resolved = await it.client("gateway").post(f"/v1/jobs/{reviewed_job['id']}/resolve", json=body)
            assert resolved.status_code == 200, resolved.text
            assert resolved.json()["status"] == ("printed" if body["outcome"] == "printed" else "failed")
        await it.wait_count("printed", 40, timeout=60)

        await it.assert_exactly_once(ids)
        invariant = await it.assert_blanks_reconciled()
        assert invariant["reserved"] == 0
        assert invariant["consumed"] == 40
        # The kills mid-card were settled by asking the printer (Rjs) at restart.
        gateway = it.client("gateway")
        recovered = 0
        for printed_job in await it.jobs(status="printed"):
            journal = (await gateway.get(f"/v1/jobs/{printed_job['id']}")).json()["journal"]
            recovered += any((entry["detail"] or {}).get("recovered") for entry in journal)
        assert recovered >= 1


async def test_a_power_cut_mid_card_sends_the_request_to_review_holds_its_blank_and_the_rest_goes_on(
    tmp_path: Path, keys: KeyPair, templates: Any
) -> None:
    async with office(tmp_path, keys, templates) as it:
        await it.start_services()
        await it.receive_blanks("KTP00000001", "KTP00000100")
        emulator = await it.printer("p1", "KTP00000001-KTP00000100", time_scale=120)  # 0.25 s a card
        printer_id = await it.commission("p1")
        ids = await it.submit(6)
        await it.wait_count("printed", 1, timeout=30)
        await emulator.inject("power_loss", at_card=1)  # halfway through the next card
        stopped = await it.wait_printer(printer_id, "stopped")
        assert "offline" in stopped["reasons"]

        in_review: list[dict[str, Any]] = []

        async def reviewed() -> bool:
            in_review[:] = await it.jobs(status="needs_review")
            return bool(in_review)

        await wait_for(reviewed, timeout=30, what="the power-cut card's job in review")
        [job] = in_review
        assert (await it.request(job["request_id"]))["status"] == "needs_review"
        assert (await it.invariant())["reserved"] == 1  # held: it waits for an operator

        await emulator.act("power_on")
        await it.wait_printer(printer_id, "ready", timeout=30)
        await it.wait_count("printed", 5, timeout=60)
        lost = [c for c in await it.card_logs() if c["job"] == job["id"]]
        assert [(c["outcome"], c["reason"]) for c in lost] == [("rejected", "POWER LOSS")]
        resolved = await it.client("gateway").post(
            f"/v1/jobs/{job['id']}/resolve", json={"outcome": "not_printed", "card_serial": lost[0]["serial"]}
        )
        assert resolved.status_code == 200, resolved.text
        await it.wait_count("printed", 6, timeout=60)
        await it.assert_exactly_once(ids)
        invariant = await it.assert_blanks_reconciled()
        assert invariant["reserved"] == 0
