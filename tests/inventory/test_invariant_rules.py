"""The invariant's rules that the corruption table of test_invariant.py leaves out: a receipt missing from the
ledger, read as the office reads ``GET /v1/stock/invariant``."""

from __future__ import annotations

from tests.inventory.conftest import Inventory
from tests.inventory.test_invariant import every_kind_of_record, run_sql


async def test_a_tranche_whose_receipt_is_missing_from_the_ledger_is_named_with_what_the_ledger_replays(
    inv: Inventory,
) -> None:
    await every_kind_of_record(inv)  # 5 received: 1 consumed, 1 spoiled, 1 written off, 2 unused (1 reserved)
    await inv.invariant()

    await run_sql(inv, ("UPDATE movements SET tranche_id = NULL WHERE kind = 'received'",))
    body = (await inv.operator.get("/v1/stock/invariant")).json()

    assert body["holds"] is False
    assert set(body["problems"]) == {
        "tranche TR-1: received is 5 by state, 0 by ledger",
        "tranche TR-1: unused is 2 by state, -3 by ledger",
        "stock counter: 2 unused, -3 by ledger",
    }
    assert [(t["reference"], t["holds"]) for t in body["tranches"]] == [("TR-1", False)]

    await run_sql(inv, ("UPDATE movements SET tranche_id = (SELECT id FROM tranches) WHERE kind = 'received'",))
