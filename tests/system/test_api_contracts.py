"""schemathesis against the three services' OpenAPI documents, on the running system (``ektp up``): no server
errors, and every answer — status, content type, body — as the document says.

Generated calls use an admin token, so they reach the handlers rather than stop at 401/403.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.harness import SystemUnderTest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("contracts"),
    # A socket left to the garbage collector by a client library while processes die and restart.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemUnderTest]:
    # Generated claims may ask to wait up to 600 s for work: cap it well under the calls' time-out.
    env = {"EKTP_REQUEST_MAX_CLAIM_WAIT_SECONDS": "1"}
    sut = SystemUnderTest(tmp_path_factory.mktemp("contracts"), env=env, blanks=50, time_scale=3000)
    sut.start()
    try:
        yield sut
    finally:
        sut.stop()


def _schemathesis() -> list[str]:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


@pytest.mark.parametrize("service", ["request", "inventory", "gateway"])
def test_the_api_answers_as_its_openapi_document_says(system: SystemUnderTest, service: str) -> None:
    url = system.info["urls"][service]
    result = subprocess.run(
        [
            *_schemathesis(), "run", f"{url}/openapi.json",
            "--checks", CHECKS,
            "--header", f"Authorization: Bearer {system.token('admin')}",
            "--max-examples", "12",
            "--phases", "examples,fuzzing",  # the coverage phase crashes inside schemathesis itself
            "--seed", "2015",
            # One worker: CPython 3.11's compiler is not thread-safe under schemathesis's workers
            # ("SystemError: AST constructor recursion depth mismatch", a flaky failure seen here).
            "--workers", "1",
            "--request-timeout", "20",
            "--suppress-health-check", "all",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
