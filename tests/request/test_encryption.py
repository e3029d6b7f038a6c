"""Photos and signatures sealed at rest, through HTTP: nothing of them in the database files, the exact images in
the gateway's claim, a changed ciphertext refused, and a key rotation while the service runs (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from services.common.auth import KeyPair
from services.common.models import utcnow
from services.ops.cli import main
from services.request.app import create_app
from services.request.config import Settings
from services.request.models import PrintRequest
from services.request.privacy.keys import KeysFileError, add_key, create_keys_file, is_sealed, read_keys_file
from tests.conftest import PG_HOST, PG_PORT, PG_USER
from tests.factories import batch_row, request_body
from tests.request.conftest import InProcessRequestService
from tests.support import wait_for


def noise_png(size: tuple[int, int] = (48, 48)) -> bytes:
    """A PNG of random pixels: no other file holds any 24 bytes of it."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def traces(image: bytes) -> list[bytes]:
    """What of ``image`` a database file or dump would show if it held it: raw bytes, hex (bytea), base64."""
    middle = len(image) // 2
    raw = image[middle : middle + 24]
    encoded = base64.b64encode(image)
    return [raw, raw.hex().encode(), encoded[len(encoded) // 2 : len(encoded) // 2 + 32]]


async def stored_bytes(office: InProcessRequestService) -> bytes:
    """Everything the database holds, as bytes: the SQLite file and its WAL, or a ``pg_dump``."""
    url = make_url(office.app.state.db.url)
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "")
        return b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    dump = await asyncio.to_thread(
        subprocess.run,
        ["pg_dump", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "--no-owner", url.database or ""],
        capture_output=True,
        check=True,
    )
    return dump.stdout


def holds(stored: bytes, image: bytes) -> bool:
    return any(trace in stored for trace in traces(image))


def with_images(body: dict[str, Any], photo: bytes, signature: bytes) -> dict[str, Any]:
    return body | {"photo": base64.b64encode(photo).decode(), "signature": base64.b64encode(signature).decode()}


async def submit(office: InProcessRequestService, serial: int, photo: bytes, signature: bytes) -> str:
    response = await office.as_("operator").post(
        "/v1/requests", json=with_images(request_body(serial), photo, signature)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def claim(office: InProcessRequestService, job: str) -> httpx.Response:
    return await office.as_("service", subject="gateway-1").post(
        "/v1/queue/claims", json={"job_id": job, "printer_id": "printer-1"}
    )


async def claimed_images(office: InProcessRequestService, job: str) -> tuple[str, bytes, bytes]:
    response = await claim(office, job)
    assert response.status_code == 201, response.text
    card = response.json()["card"]
    return response.json()["request_id"], base64.b64decode(card["photo"]), base64.b64decode(card["signature"])


async def row(office: InProcessRequestService, request_id: str) -> Any:
    async with office.app.state.db.read_sessions() as session:
        return (await session.execute(select(PrintRequest).where(PrintRequest.id == request_id))).scalar_one()


async def change(office: InProcessRequestService, request_id: str, **values: Any) -> None:
    """Write straight into the database, as someone with access to it (not the service) would."""
    async with office.app.state.db.sessions() as session:
        await session.execute(update(PrintRequest).where(PrintRequest.id == request_id).values(**values))
        await session.commit()


@pytest.fixture
async def sealed_office(open_office: Callable[..., Any], tmp_path: Path) -> AsyncIterator[InProcessRequestService]:
    """The service with a keys file of its own (rotation changes it)."""
    path = tmp_path / "data-keys.json"
    create_keys_file(path)
    async with open_office(data_keys_file=path) as office:
        yield office


# --- at rest ------------------------------------------------------------------------------------------------


async def test_neither_the_database_file_nor_a_dump_holds_any_of_a_photo_or_signature(
    office: InProcessRequestService,
) -> None:
    photo, signature = noise_png(), noise_png((40, 20))
    request_id = await submit(office, 1, photo, signature)
    rows = [with_images(batch_row(serial), noise_png(), noise_png((40, 20))) for serial in (2, 3)]
    batch = await office.as_("operator").post("/v1/batches", json={"rows": rows})
    assert batch.status_code == 201, batch.text
    assert batch.json()["accepted_rows"] == 2
    # A row written before encryption (plain, no key): the search below does find images that are there.
    legacy_photo = noise_png()
    legacy_id = await submit(office, 4, noise_png(), noise_png())
    await change(office, legacy_id, photo=legacy_photo, data_key_id=None)

    stored = await stored_bytes(office)

    assert holds(stored, legacy_photo)
    for image in [photo, signature, *(base64.b64decode(r[name]) for r in rows for name in ("photo", "signature"))]:
        assert not holds(stored, image)
    sealed = await row(office, request_id)
    assert (is_sealed(sealed.photo), is_sealed(sealed.signature)) == (True, True)
    assert sealed.data_key_id == read_keys_file(office.app.state.settings.data_keys_file)[0]


# --- read back ----------------------------------------------------------------------------------------------


async def test_the_gateways_claim_carries_the_exact_images_submitted_and_plain_old_rows_as_they_are(
    office: InProcessRequestService,
) -> None:
    photo, signature = noise_png(), noise_png((40, 20))
    sealed_id = await submit(office, 1, photo, signature)
    legacy_id = await submit(office, 2, noise_png(), noise_png())
    legacy_photo, legacy_signature = noise_png(), noise_png()
    await change(office, legacy_id, photo=legacy_photo, signature=legacy_signature, data_key_id=None)

    assert await claimed_images(office, "job_1") == (sealed_id, photo, signature)
    assert await claimed_images(office, "job_2") == (legacy_id, legacy_photo, legacy_signature)


@pytest.mark.parametrize("damage", ["flipped byte", "photo and signature swapped", "photo of another request"])
async def test_a_changed_sealed_image_is_refused_by_the_claim_and_held_for_review_while_the_next_one_prints(
    office: InProcessRequestService, damage: str
) -> None:
    request_id = await submit(office, 1, noise_png(), noise_png())
    other_photo, other_signature = noise_png(), noise_png()
    other_id = await submit(office, 2, other_photo, other_signature)
    stored, other = await row(office, request_id), await row(office, other_id)
    if damage == "flipped byte":
        changed = bytearray(stored.photo)
        changed[-20] ^= 0x01
        await change(office, request_id, photo=bytes(changed))
    elif damage == "photo and signature swapped":
        await change(office, request_id, photo=stored.signature, signature=stored.photo)
    else:
        await change(office, request_id, photo=other.photo)

    response = await claim(office, "job_1")

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/images-unreadable")
    assert problem["request_id"] == request_id
    assert [e["field"] for e in problem["errors"]] == ["photo"]
    assert "card" not in problem
    # Out of the queue for an operator to look at, so the printers go on with the next request.
    held = await row(office, request_id)
    assert held.status == "needs_review"
    assert held.status_note == "stored photo does not open: not printed"
    assert await claimed_images(office, "job_2") == (other_id, other_photo, other_signature)


async def test_the_service_does_not_start_without_its_data_keys_file_or_with_one_others_can_read(
    tmp_path: Path, keys: KeyPair
) -> None:
    settings: dict[str, Any] = {
        "jwt_public_key": keys.public_pem.decode(),
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/r.db",
    }
    with pytest.raises(KeysFileError, match="data_keys_file"):
        create_app(Settings(**settings, data_keys_file=tmp_path / "absent.json"))
    readable = tmp_path / "open.json"
    create_keys_file(readable)
    readable.chmod(0o644)
    with pytest.raises(KeysFileError, match="chmod 600"):
        create_app(Settings(**settings, data_keys_file=readable))


async def test_a_replacement_of_a_request_whose_images_were_purged_must_bring_new_ones(
    office: InProcessRequestService,
) -> None:
    old = await submit(office, 1, noise_png(), noise_png())
    gateway = office.as_("service", subject="gateway-1")
    assert (await claim(office, "job_1")).status_code == 201
    printed = await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000001"})
    assert printed.json()["status"] == "printed", printed.text
    await change(office, old, photo=b"", signature=b"", data_key_id=None, images_purged_at=utcnow())
    operator = office.as_("operator")

    refused = await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"})

    assert refused.status_code == 422, refused.text
    assert sorted(e["field"] for e in refused.json()["errors"]) == ["changes.photo", "changes.signature"]
    photo, signature = noise_png(), noise_png()
    replaced = await operator.post(
        f"/v1/requests/{old}/replacements",
        json={"reason": "damaged", "changes": with_images({}, photo, signature)},
    )
    assert replaced.status_code == 201, replaced.text
    assert await claimed_images(office, "job_2") == (replaced.json()["id"], photo, signature)


# --- rotation -----------------------------------------------------------------------------------------------


async def test_a_key_rotation_reseals_every_row_while_the_service_reads_both_keys_then_retires_the_old_one(
    sealed_office: InProcessRequestService, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = sealed_office
    path: Path = office.app.state.settings.data_keys_file
    monkeypatch.setenv("EKTP_REQUEST_DATABASE_URL", office.app.state.settings.database_url)
    first_key = read_keys_file(path)[0]
    images = {serial: (noise_png(), noise_png()) for serial in (1, 2, 3)}
    ids = {serial: await submit(office, serial, *images[serial]) for serial in (1, 2)}
    ids[3] = await submit(office, 3, noise_png(), noise_png())
    await change(office, ids[3], photo=images[3][0], signature=images[3][1], data_key_id=None)  # plain, legacy

    # Rotation begins: a new current key; the running service takes it within a second.
    second_key = add_key(path)

    async def took_it() -> bool:
        return bool(office.app.state.context.keyring.current_id == second_key)

    await wait_for(took_it, what="the service re-reads its keys file")
    images[4] = (noise_png(), noise_png())
    ids[4] = await submit(office, 4, *images[4])
    assert (await row(office, ids[4])).data_key_id == second_key
    assert (await row(office, ids[1])).data_key_id == first_key
    assert await claimed_images(office, "job_1") == (ids[1], *images[1])  # mid-rotation, under the old key

    assert await asyncio.to_thread(main, ["keys", "rotate-data", "--resume", "--file", str(path)]) == 0

    for serial in (2, 3, 4):
        stored = await row(office, ids[serial])
        assert stored.data_key_id == second_key, serial
        assert (is_sealed(stored.photo), is_sealed(stored.signature)) == (True, True), serial
    assert await asyncio.to_thread(main, ["keys", "retire-data", "--file", str(path)]) == 0
    assert set(read_keys_file(path)[1]) == {second_key}
    assert await claimed_images(office, "job_2") == (ids[2], *images[2])

    # A whole rotation in one command: a third key, every row under it, the second one retired.
    rotate = ["keys", "rotate-data", "--retire", "--settle-seconds", "1.5", "--page", "1", "--file", str(path)]
    assert await asyncio.to_thread(main, rotate) == 0
    third_key, keys = read_keys_file(path)
    assert set(keys) == {third_key} != {second_key}
    assert await claimed_images(office, "job_3") == (ids[3], *images[3])  # the plain row, sealed
    assert await claimed_images(office, "job_4") == (ids[4], *images[4])
    assert (await row(office, ids[1])).data_key_id == third_key  # printing, claimed: sealed again all the same


async def test_rotation_names_the_rows_that_do_not_open_and_leaves_them_as_they_are(
    sealed_office: InProcessRequestService, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = sealed_office
    path: Path = office.app.state.settings.data_keys_file
    monkeypatch.setenv("EKTP_REQUEST_DATABASE_URL", office.app.state.settings.database_url)
    good = await submit(office, 1, noise_png(), noise_png())
    bad = await submit(office, 2, noise_png(), noise_png())
    damaged = bytearray((await row(office, bad)).signature)
    damaged[-1] ^= 0x80
    await change(office, bad, signature=bytes(damaged))

    code = await asyncio.to_thread(main, ["keys", "rotate-data", "--settle-seconds", "0", "--file", str(path)])

    assert code == 1
    current = read_keys_file(path)[0]
    assert (await row(office, good)).data_key_id == current
    assert (await row(office, bad)).signature == bytes(damaged)
