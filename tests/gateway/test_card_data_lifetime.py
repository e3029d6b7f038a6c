"""The gateway holds a resident's photo and signature only while their job may need them.

They come with the claim (base64, in the card data) and stay in the job's row until the request service is told
how the job ended — printed, failed, sent to review, or handed back — also when that telling happens in the
recovery after a crash. Then the job keeps its printed fields and nothing else: its table, its journal and the
SQLite file (searched for a slice of the photo's base64) hold no image. A job stopped before its card went out
is handed back, and the request prints from the next claim, which brings the images again.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from sqlalchemy.engine import make_url

from drivers.emulator import Emulator, EmulatorConfig
from services.gateway.config import Settings
from services.gateway.journal.service import new_job_id
from services.gateway.journal.steps import Step
from services.gateway.models import CARD_IMAGES, Job, JournalEntry
from tests.gateway.conftest import SAMPLE_CARD
from tests.gateway.peers import Peers, dispatcher, gateway_between, job_settled, peers_running, printer_ready
from tests.support import wait_for

REQUEST_ID = "req_01"
SERIAL = "KTP00000001"  # the first blank in the emulator's hopper


def _noise(kind: str, size: tuple[int, int]) -> str:
    """A picture of random pixels, base64: no slice of it turns up anywhere by chance."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format=kind)
    return base64.b64encode(buffer.getvalue()).decode()


PHOTO = _noise("JPEG", (60, 80))
SIGNATURE = _noise("PNG", (40, 12))
CARD = SAMPLE_CARD | {"photo": PHOTO, "signature": SIGNATURE}


@pytest.fixture
def backend() -> str:
    """SQLite: the database file itself is searched for the photo."""
    return "sqlite"


@dataclass
class Office:
    peers: Peers
    emulator: Emulator
    settings: Settings

    @contextlib.asynccontextmanager
    async def gateway(self, *, loops: bool) -> AsyncIterator[FastAPI]:
        """A gateway on the office's database (``loops``: its printers take new work); it stops at the end."""
        async with gateway_between(self.settings.model_copy(update={"start_loops": loops}), self.peers) as app:
            yield app

    async def crashed_at(self, *steps: Step, **fields: Any) -> str:
        """A gateway that journalled a job carrying ``CARD`` through ``steps`` and stopped there (the crash)."""
        async with self.gateway(loops=False) as app:
            assert self.emulator.url is not None
            printer_id = await printer_ready(app, "p1", self.emulator.url, worker=False)
            journal = dispatcher(app).gw.journal
            job_id = new_job_id()
            await journal.begin(job_id, printer_id)
            for step in steps:
                values: dict[str, Any] = fields if step in (Step.PRINTED, Step.FAILED, Step.UNKNOWN) else {}
                if step is Step.RESERVED:
                    values = {"request_id": REQUEST_ID, "priority": "regular", "card": CARD}
                await journal.advance(job_id, step, **values)
        return job_id

    def file_holds_the_photo(self, *, checkpointed: bool = False) -> bool:
        """Whether the database's files (the main file, and its WAL if one is left) hold a slice of the photo.

        ``checkpointed``: after a checkpoint, as SQLite makes when its last connection closes. A connection the
        driver closed late (aiosqlite, on a loaded machine) can leave the WAL behind with the page as it was
        before the images were dropped; docs/privacy.md says the WAL keeps older pages until a checkpoint."""
        path = Path(make_url(self.settings.database_url).database or "")
        if checkpointed:
            with contextlib.closing(sqlite3.connect(path)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        found = [p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        # Slices all along it: a page boundary may cut one of them, never all.
        slices = [PHOTO[at : at + 32].encode() for at in range(0, len(PHOTO) - 32, 1000)]
        return any(wanted in data for data in found for wanted in slices)


@pytest.fixture
async def office(
    gateway_settings: Callable[..., Settings], make_token: Callable[..., str], tmp_path: Path
) -> AsyncIterator[Office]:
    settings = gateway_settings(
        service_token=make_token("service"),
        claim_wait_seconds=0,
        poll_interval=0.05,
        idle_claim_interval=0.05,
        peer_retry_max_wait=0.05,
        card_margin=0.5,
    )
    config = EmulatorConfig(time_scale=math.inf, state_dir=tmp_path / "emu", clean_after=100)
    async with Emulator(config) as emulator, peers_running() as peers:
        yield Office(peers, emulator, settings)


async def _stored(app: FastAPI, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job's card and its journal's details as the database holds them."""
    async with dispatcher(app).gw.db.read_sessions() as session:
        card = await session.scalar(select(Job.card).where(Job.id == job_id))
        details = await session.scalars(select(JournalEntry.detail).where(JournalEntry.job_id == job_id))
        return card or {}, [detail or {} for detail in details]


def _without_images(card: dict[str, Any], details: list[dict[str, Any]]) -> None:
    assert not set(CARD_IMAGES) & set(card)
    assert (card["nik"], card["name"]) == (CARD["nik"], CARD["name"])  # the printed fields stay
    assert not any(PHOTO[:40] in str(detail) or SIGNATURE[:40] in str(detail) for detail in details)


async def test_a_printed_and_reported_card_leaves_no_photo_nor_signature_in_the_gateway(office: Office) -> None:
    async with office.gateway(loops=True) as app:
        assert office.emulator.url is not None
        await printer_ready(app, "p1", office.emulator.url)
        office.peers.requests.queue(REQUEST_ID, card=CARD)
        job = await job_settled(app, lambda: next(iter(office.peers.requests.claims), None))
        assert (job.status, job.card_serial) == ("printed", SERIAL)
        assert office.peers.requests.about(job.id) == ["claims", "sent", "printed"]
        _without_images(*await _stored(app, job.id))
    assert not office.file_holds_the_photo(checkpointed=True)  # the gateway stopped: its WAL is back in the file


async def test_a_finished_jobs_preview_is_drawn_without_images_and_says_so(
    office: Office, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    reported = await office.crashed_at(
        Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.PRINTED, card_serial=SERIAL
    )
    async with office.gateway(loops=False) as app, client_for(app, make_token("operator")) as operator:
        await job_settled(app, lambda: reported)
        finished = await operator.get(f"/v1/jobs/{reported}/preview.png")
        assert finished.status_code == 200, finished.text
        assert finished.content.startswith(b"\x89PNG")
        assert finished.headers["x-card-images"] == "removed"


async def test_a_job_reported_only_in_the_recovery_after_a_crash_drops_its_images_then(office: Office) -> None:
    job_id = await office.crashed_at(
        Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.PRINTED, card_serial=SERIAL
    )
    assert office.file_holds_the_photo()  # the search finds them while the job still holds them

    async with office.gateway(loops=False) as app:
        job = await job_settled(app, lambda: job_id)
        assert job.status == "printed"
        _without_images(*await _stored(app, job_id))
    assert not office.file_holds_the_photo(checkpointed=True)


async def test_a_job_stopped_before_printing_is_handed_back_and_its_request_prints_from_the_next_claim(
    office: Office,
) -> None:
    stopped = await office.crashed_at(Step.RESERVED, Step.RENDERED)
    assert office.file_holds_the_photo()

    async with office.gateway(loops=True) as app:
        assert (await job_settled(app, lambda: stopped)).status == "handed_back"
        assert office.peers.requests.about(stopped) == ["release"]
        # The request service queues a released request again: its next claim brings the images anew.
        office.peers.requests.queue(REQUEST_ID, card=CARD)

        def next_job() -> str | None:
            return next((job for job in office.peers.requests.claims if job != stopped), None)

        async def claimed() -> bool:
            return next_job() is not None

        await wait_for(claimed, what="the request claimed again")
        job = await job_settled(app, next_job)
        assert (job.status, job.card_serial) == ("printed", SERIAL)
        [card] = [c for c in office.emulator.card_log() if c["job"] == job.id]
        assert card["outcome"] == "printed"
        for job_id in (stopped, job.id):
            _without_images(*await _stored(app, job_id))
    assert not office.file_holds_the_photo(checkpointed=True)


async def test_a_request_preview_tells_the_request_service_who_looks(
    office: Office, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    async with (
        office.gateway(loops=False) as app,
        client_for(app, make_token("operator", subject="operator-7")) as operator,
    ):
        preview = await operator.get(f"/v1/requests/{REQUEST_ID}/preview.png")
        assert preview.status_code == 200, preview.text
    [call] = office.peers.requests.made(REQUEST_ID)
    assert call.purpose == "card preview by operator-7"
