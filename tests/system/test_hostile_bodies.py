"""A flood of big anonymous bodies against the real request-service process: it answers each with 401 or 413
without reading them, its memory stays small, and it keeps serving. Before the body guard, one 52 MB JSON body
without a token grew the process from 121 MB to 1.5 GB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import KeyPair
from tests.processes import office_stack

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::ResourceWarning")]

CLIENTS = 20
BODY_MB = 50
RSS_CEILING_MB = 300


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


async def megabytes(count: int) -> AsyncIterator[bytes]:
    chunk = b"[" + b"1," * (512 * 1024 - 1) + b"1"  # 1 MB of a JSON array that never ends
    for _ in range(count):
        yield chunk


async def send_one(url: str, *, declared: bool) -> int | str:
    """POST a 50 MB body without a token; the status, or how the server cut the upload short."""
    async with httpx.AsyncClient(timeout=60.0) as client:
        try:
            if declared:
                body = b" " * (BODY_MB * 1024 * 1024)
                answer = await client.post(url, content=body, headers={"content-type": "application/json"})
            else:
                stream = megabytes(BODY_MB)
                answer = await client.post(url, content=stream, headers={"content-type": "application/json"})
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            return type(exc).__name__  # answered and closed while we were still sending
        return answer.status_code


async def test_twenty_clients_sending_fifty_megabytes_without_a_token_leave_the_service_small_and_serving(
    tmp_path: Path,
    keys: KeyPair,
    _templates: Any,  # noqa: PT019 - its value is the templates
) -> None:
    async with office_stack(tmp_path, keys, _templates) as stack:
        service = await stack.start("request")
        assert service.process is not None
        before = peak_rss_mb(service.process.pid)
        url = f"{service.url}/v1/requests"
        outcomes = await asyncio.gather(*(send_one(url, declared=i % 2 == 0) for i in range(CLIENTS)))
        peak = peak_rss_mb(service.process.pid)
        assert peak < RSS_CEILING_MB, f"peak RSS {peak:.0f} MB (at start {before:.0f} MB)"
        # Each upload was refused: by an answer (401 without a token) or by the server closing the connection
        # after answering; none was accepted or crashed the service.
        assert all(outcome in (401, 413) or isinstance(outcome, str) for outcome in outcomes), outcomes
        assert any(outcome == 401 for outcome in outcomes), outcomes
        async with stack.client("request") as client:
            assert (await client.get("/v1/requests")).status_code == 200
        assert service.process.poll() is None
