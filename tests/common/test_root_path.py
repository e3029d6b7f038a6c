"""Behind the compose proxy a service is reached under a prefix (/api/inventory/…) that the proxy strips: its API
page must still find its OpenAPI document there, and its routes must answer as before."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import KeyPair
from services.inventory.app import create_app as inventory_app
from services.inventory.config import Settings as InventorySettings
from services.request.app import create_app as request_app
from services.request.config import Settings as RequestSettings
from tests.processes import office_stack
from tests.support import running


async def test_the_api_page_behind_the_proxy_loads_its_document_under_the_prefix(tmp_path: Path, keys: KeyPair) -> None:
    settings = InventorySettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}",
        jwt_public_key=keys.public_pem.decode(),
        root_path="/api/inventory",
    )
    async with running(inventory_app(settings)) as app:
        # `ektp serve` hands the setting to uvicorn (services/common/server.py), which puts it in every scope.
        transport = httpx.ASGITransport(app=app, root_path=app.state.settings.root_path)
        # What Caddy forwards for https://kantor/api/inventory/docs: the prefix stripped.
        async with httpx.AsyncClient(transport=transport, base_url="http://inventory:8002") as client:
            page = await client.get("/docs")
            document = await client.get("/openapi.json")
            unauthorized = await client.get("/v1/stock")
            health = await client.get("/healthz")
    assert page.status_code == 200
    assert "'/api/inventory/openapi.json'" in page.text or '"/api/inventory/openapi.json"' in page.text
    assert document.json()["servers"] == [{"url": "/api/inventory"}]
    assert unauthorized.status_code == 401  # routes match as before; the token is still asked for
    assert health.status_code == 200


async def test_without_a_proxy_the_page_names_the_document_at_the_root(tmp_path: Path, keys: KeyPair) -> None:
    settings = RequestSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'request.db'}", jwt_public_key=keys.public_pem.decode()
    )
    transport = httpx.ASGITransport(app=request_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8001") as client:
        page = await client.get("/docs")
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text


@pytest.mark.parametrize("prefix", ["api/request", "/api/request/", "/api request"])
def test_a_prefix_that_is_not_a_clean_path_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="root_path"):
        RequestSettings(root_path=prefix)


@pytest.mark.integration
async def test_behind_the_proxy_each_path_keeps_its_own_body_limit_and_exemptions(
    tmp_path: Path,
    keys: KeyPair,
    _templates: Any,  # noqa: PT019 - the migrated template databases, used as a value
) -> None:
    """uvicorn puts the stripped prefix back in front of the path: the batch route must keep its larger limit, a
    request its smaller one, and the console its exemption from rate limits, as without a proxy."""
    async with office_stack(tmp_path, keys, _templates) as stack:
        stack.configure("request", root_path="/api/request", rate_limits='{"anonymous": "2/minute"}')
        await stack.start("request")
        three_mib = 3 * 1024 * 1024
        async with stack.client("request") as operator:
            batch = await operator.post("/v1/batches", content=b"x" * three_mib, headers={"Content-Type": "text/csv"})
            # Refused by its declared length before a byte is read: only the headers are sent (no race with a
            # client still writing while the server closes).
            port = stack.services["request"].port
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"POST /v1/requests HTTP/1.1\r\nHost: request\r\nAuthorization: Bearer {stack.token('operator')}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {three_mib}\r\n\r\n".encode()
            )
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), timeout=10)
            writer.close()
            anonymous = httpx.AsyncClient(base_url=stack.url("request"))
            async with anonymous:
                console = [(await anonymous.get("/console/")).status_code for _ in range(4)]
    assert batch.status_code == 422, batch.text  # read as a (bad) proposal file: within the batch limit
    assert status_line.split()[1] == b"413", status_line
    assert console == [200, 200, 200, 200]
