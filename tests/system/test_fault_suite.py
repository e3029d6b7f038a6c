"""The fault suite: the system keeps every card accounted for while its parts are killed.

Each run starts the system with ``ektp up``, queues a few hundred cards (a kecamatan batch and urgent
walk-ins), then kills services with SIGKILL at moments drawn from the seed while the printers print: each kill
waits until a number of cards drawn from the seed has been printed (so it lands mid-run, spread over the run),
plus a random fraction of a second. ``ektp up`` starts each killed service again, as compose's restart policy
would. When the queue has drained:

- 0 lost requests: every request is printed, or waits for an operator in needs_review — and only a card that
  was in a printer when the gateway died can be in review (at most one per printer and gateway kill);
- 0 duplicate cards: no request has two cards in the emulators' output logs, and every card belongs to a job;
- the blank ledger balances, one blank consumed per printed card, one held per request in review.

A further run keeps the three databases on a private PostgreSQL server and restarts it mid-run.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from services.ops.demo import request_body
from tests.factories import to_csv
from tests.system.harness import Accounting, SystemUnderTest, people, wait_until
from tests.system.private_postgres import private_postgres

pytestmark = [
    pytest.mark.fault,
    pytest.mark.integration,
    # A socket left to the garbage collector by a client library while processes die and restart.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SEEDS = range(10)
BATCH_CARDS = 240
URGENT_CARDS = 10
SERVICES = ("request", "inventory", "gateway")
KECAMATAN = "18.09.04"


def _queue_work(sut: SystemUnderTest, seed: int) -> list[str]:
    rng = random.Random(seed)
    rows = [
        request_body(p, rng, channel="kecamatan_batch", reason="status_change")
        for p in people(BATCH_CARDS, seed=seed, kecamatan=KECAMATAN, first_serial=1000)
    ]
    for row in rows:
        row.pop("channel")
    with sut.client("request", "operator") as operator:
        response = operator.post(
            "/v1/batches",
            params={"filename": f"USULAN-FAULT-{seed}"},
            content=to_csv(rows),
            headers={"Content-Type": "text/csv"},
            timeout=120,
        )
        assert response.status_code in (200, 201, 202), response.text
        assert response.json()["accepted_rows"] == BATCH_CARDS
        batch_ids = [
            r["id"]
            for offset in range(0, BATCH_CARDS, 500)
            for r in operator.get(
                "/v1/requests", params={"channel": "kecamatan_batch", "limit": 500, "offset": offset}
            ).json()["items"]
        ]
    return batch_ids + sut.submit(people(URGENT_CARDS, seed=seed + 100, first_serial=5000), urgent_every=1, seed=seed)


def _wait_drained(sut: SystemUnderTest, *, timeout: float) -> None:
    def drained() -> bool:
        try:
            with sut.client("request") as operator:
                stats = operator.get("/v1/queue/stats", timeout=5).json()
        except Exception:
            return False
        return stats.get("queued") == 0 and stats.get("printing") == 0

    try:
        wait_until(drained, timeout=timeout, interval=0.5, what="the queue to drain")
    except TimeoutError:
        print(sut.log_tail(120))
        raise


def _printed_so_far(sut: SystemUnderTest) -> int:
    try:
        with sut.client("request") as operator:
            return int(operator.get("/v1/queue/stats", timeout=5).json()["printed_today"])
    except Exception:  # a service restarting after a kill
        return -1


def _kill_mid_run(sut: SystemUnderTest, victim: str, *, after_cards: int, jitter: float, total: int) -> None:
    """SIGKILL ``victim`` once ``after_cards`` cards are printed, and check the run was not over."""
    wait_until(lambda: _printed_so_far(sut) >= after_cards, timeout=120, what=f"{after_cards} cards printed")
    time.sleep(jitter)
    assert _printed_so_far(sut) < total, "the run ended before the fault: it would prove nothing"
    sut.kill(victim)


def _assert_everything_accounted_for(
    sut: SystemUnderTest, ids: list[str], accounting: Accounting, *, review_bound: int
) -> None:
    in_review = accounting.by_status["needs_review"]
    assert in_review <= review_bound, accounting.by_status
    printed = accounting.submitted - in_review
    assert accounting.lost == 0, accounting.by_status
    assert accounting.duplicate_requests == []
    assert accounting.unmatched_cards == []
    assert accounting.invariant["holds"] is True, accounting.invariant
    assert accounting.consumed == printed
    assert accounting.invariant["reserved"] == in_review  # held until an operator says what came out
    assert printed <= accounting.cards_out <= printed + in_review


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_of_each_service_at_random_moments_loses_and_duplicates_nothing(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    sut = SystemUnderTest(tmp_path, blanks=BATCH_CARDS + URGENT_CARDS + 50, time_scale=4000)
    sut.start()
    try:
        ids = _queue_work(sut, seed)
        victims = [*SERVICES, rng.choice(SERVICES)]
        rng.shuffle(victims)
        # The faults' moments, drawn from the seed: after how many cards, spread over the run's first 80 %.
        moments = sorted(rng.sample(range(5, len(ids) * 8 // 10), len(victims)))
        for victim, after_cards in zip(victims, moments, strict=True):
            _kill_mid_run(sut, victim, after_cards=after_cards, jitter=rng.uniform(0, 0.3), total=len(ids))
        for service in SERVICES:
            sut.wait_ready(service)
        _wait_drained(sut, timeout=240)
        review_bound = sut.printers * victims.count("gateway")
        _assert_everything_accounted_for(sut, ids, sut.account(ids), review_bound=review_bound)
    finally:
        sut.stop()


@pytest.mark.postgres
def test_postgresql_restarted_mid_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(42)
    with private_postgres() as postgres:
        env = {
            f"EKTP_{service.upper()}_DATABASE_URL": postgres.create_database(f"ektp_{service}") for service in SERVICES
        }
        sut = SystemUnderTest(tmp_path, env=env, blanks=BATCH_CARDS + URGENT_CARDS + 50, time_scale=4000)
        sut.start()
        try:
            ids = _queue_work(sut, 42)
            wait_until(lambda: _printed_so_far(sut) >= 20, timeout=120, what="20 cards printed")
            time.sleep(rng.uniform(0, 0.3))
            postgres.pg_ctl("restart")
            _kill_mid_run(sut, "gateway", after_cards=_printed_so_far(sut) + 10, jitter=0, total=len(ids))
            _wait_drained(sut, timeout=240)
            _assert_everything_accounted_for(sut, ids, sut.account(ids), review_bound=sut.printers)
        finally:
            sut.stop()
