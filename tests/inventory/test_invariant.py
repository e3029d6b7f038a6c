"""The invariant (``GET /v1/stock/invariant``, services/inventory/ledger/service.py) catches each way the records
of the blanks can disagree: the database is corrupted behind the service's back, one way at a time, the invariant
must name the disagreement, and once the records are put back it holds again."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from tests.inventory.conftest import Inventory


@dataclass(frozen=True)
class Corruption:
    """``damage`` (SQL statements) breaks the records; ``repair`` puts them back; ``problems`` are what the
    invariant must report while they are broken, word for word."""

    what: str
    damage: tuple[str, ...]
    repair: tuple[str, ...]
    problems: frozenset[str]
    tranche_holds: bool = True


CORRUPTIONS = [
    Corruption(
        "a consumed card whose reservation is not consumed",
        ("UPDATE reservations SET status = 'released' WHERE job_id = 'job_consumed'",),
        ("UPDATE reservations SET status = 'consumed' WHERE job_id = 'job_consumed'",),
        frozenset({"1 blanks consumed but 0 reservations consumed"}),
    ),
    Corruption(
        "a consumed reservation whose card is still a blank",
        ("UPDATE reservations SET status = 'consumed', serial = 'KTP00000003' WHERE job_id = 'job_released_1'",),
        ("UPDATE reservations SET status = 'released', serial = NULL WHERE job_id = 'job_released_1'",),
        frozenset({"1 blanks consumed but 2 reservations consumed"}),
    ),
    Corruption(
        "a consumed card relabelled spoiled without a movement",
        ("UPDATE blanks SET state = 'spoiled' WHERE serial = 'KTP00000001'",),
        ("UPDATE blanks SET state = 'consumed' WHERE serial = 'KTP00000001'",),
        frozenset(
            {
                "tranche TR-1: consumed is 0 by state, 1 by ledger",
                "tranche TR-1: spoiled is 2 by state, 1 by ledger",
                "0 blanks consumed but 1 reservations consumed",
            }
        ),
        tranche_holds=False,
    ),
    Corruption(
        "a spoilage missing from the ledger",
        ("UPDATE movements SET quantity = 0 WHERE kind = 'spoiled'",),
        ("UPDATE movements SET quantity = 1 WHERE kind = 'spoiled'",),
        frozenset(
            {
                "tranche TR-1: spoiled is 1 by state, 0 by ledger",
                "tranche TR-1: unused is 2 by state, 3 by ledger",
                "stock counter: 2 unused, 3 by ledger",
                "usage by day: 2 blanks used, 1 by ledger",
            }
        ),
        tranche_holds=False,
    ),
    Corruption(
        "a tranche declaring more blanks than were recorded",
        ("UPDATE tranches SET count = count + 1",),
        ("UPDATE tranches SET count = count - 1",),
        frozenset({"tranche TR-1: 5 blanks on record, 6 declared"}),
        tranche_holds=False,
    ),
    Corruption(
        "more open reservations than unused blanks",
        (
            "UPDATE reservations SET status = 'reserved' WHERE job_id IN ('job_released_1', 'job_released_2')",
            "UPDATE stock_lock SET reserved = reserved + 2",
        ),
        (
            "UPDATE reservations SET status = 'released' WHERE job_id IN ('job_released_1', 'job_released_2')",
            "UPDATE stock_lock SET reserved = reserved - 2",
        ),
        frozenset({"3 open reservations but only 2 unused blanks (oversold)"}),
    ),
    Corruption(
        "a written-off blank back on the shelf, counter and all, with no restore in the ledger",
        ("UPDATE blanks SET state = 'available' WHERE serial = 'KTP00000005'", "UPDATE stock_lock SET unused = 3"),
        ("UPDATE blanks SET state = 'written_off' WHERE serial = 'KTP00000005'", "UPDATE stock_lock SET unused = 2"),
        frozenset(
            {
                "tranche TR-1: written_off is 0 by state, 1 by ledger",
                "tranche TR-1: unused is 3 by state, 2 by ledger",
                "stock counter: 3 unused, 2 by ledger",
            }
        ),
        tranche_holds=False,
    ),
]


async def every_kind_of_record(inv: Inventory) -> None:
    """Five blanks: one consumed, one spoiled in printing, one written off, two unused of which one is reserved;
    two reservations released."""
    await inv.receive("TR-1", "KTP00000001", "KTP00000005")
    assert (await inv.reserve("job_consumed")).status_code == 201
    assert (await inv.consume("job_consumed", "KTP00000001")).status_code == 200
    assert (await inv.reserve("job_spoiled")).status_code == 201
    assert (await inv.spoil("job_spoiled", "KTP00000002")).status_code == 200
    for job in ("job_released_1", "job_released_2"):
        assert (await inv.reserve(job)).status_code == 201
        assert (await inv.service.post(f"/v1/reservations/{job}/release", json={})).status_code == 200
    assert (await inv.reserve("job_open")).status_code == 201
    write_off = {"serial": "KTP00000005", "action": "write_off", "reason": "missing at stock take"}
    assert (await inv.admin.post("/v1/adjustments", json=write_off)).status_code == 201


async def run_sql(inv: Inventory, statements: tuple[str, ...]) -> None:
    async with inv.app.state.db.sessions() as session, session.begin():
        for statement in statements:
            await session.execute(text(statement))


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=[c.what.replace(" ", "_") for c in CORRUPTIONS])
async def test_the_invariant_names_each_way_the_records_can_disagree(inv: Inventory, corruption: Corruption) -> None:
    await every_kind_of_record(inv)
    sound = await inv.invariant()
    assert (sound["received"], sound["available"], sound["reserved"]) == (5, 1, 1)
    assert (sound["consumed"], sound["spoiled"], sound["written_off"]) == (1, 1, 1)

    await run_sql(inv, corruption.damage)
    for role in ("operator", "admin", "service"):
        response = await inv.by_role[role].get("/v1/stock/invariant")
        assert response.status_code == 200, (role, response.text)
        body = response.json()
        assert body["holds"] is False, (corruption.what, body)
        assert set(body["problems"]) == corruption.problems, (corruption.what, body["problems"])
        assert [t["holds"] for t in body["tranches"]] == [corruption.tranche_holds], (corruption.what, body)

    await run_sql(inv, corruption.repair)
    assert (await inv.invariant())["problems"] == []  # and the fixture checks it once more on the way out
