"""The suite itself: a test that cannot run for want of PostgreSQL or a browser is announced at the end of the
run (skipped) or fails it (``EKTP_REQUIRE_POSTGRES`` / ``EKTP_REQUIRE_BROWSER``, set by CI) — never silently.

Each case runs a tiny pytest in a child process with PostgreSQL pointed at a closed port.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
# One small test, its PostgreSQL variant only: a skip (or a failure) without starting anything.
ONE_POSTGRES_TEST = ["tests/common/test_foundation.py", "-k", "test_health_and_metrics_need_no_token and postgres"]


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "EKTP_REQUIRE_POSTGRES", "EKTP_REQUIRE_BROWSER")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *ONE_POSTGRES_TEST, *args],
        cwd=ROOT,
        env=clean | {"EKTP_TEST_PG_PORT": str(free_port()), "COLUMNS": "200", "NO_COLOR": "1"} | env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_without_postgres_the_run_passes_and_its_last_lines_name_what_was_skipped() -> None:
    run = _pytest("-n", "1")  # under xdist, as `make test` runs: the skips arrive from a worker
    assert run.returncode == 0, run.stdout + run.stderr
    tail = run.stdout.splitlines()[-4:]
    assert any("SKIPPED: 1 PostgreSQL test — PostgreSQL does not answer on 127.0.0.1:" in line for line in tail), (
        run.stdout
    )
    assert "1 skipped" in tail[-1]


@pytest.mark.slow
def test_when_postgres_is_required_its_absence_fails_the_run() -> None:
    run = _pytest("-p", "no:xdist", EKTP_REQUIRE_POSTGRES="1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "PostgreSQL does not answer on 127.0.0.1:" in run.stdout
    assert "EKTP_REQUIRE_POSTGRES (or CI) is set" in run.stdout
    assert "SKIPPED:" not in run.stdout


@pytest.mark.parametrize("required", [False, True], ids=["skips", "required-fails"])
def test_without_chromium_the_browser_tests_skip_or_fail_when_required(
    monkeypatch: pytest.MonkeyPatch, required: bool
) -> None:
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    monkeypatch.setattr(conftest, "REQUIRE_BROWSER", required)
    outcome = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(outcome, match="chromium and chromedriver are not installed"):
        conftest.chromium_or_skip()


@pytest.mark.parametrize(
    ("env", "required"),
    [
        ({}, False),
        ({"EKTP_REQUIRE_POSTGRES": "1"}, True),
        ({"CI": "true"}, True),  # CI requires everything unless told otherwise
        ({"CI": "1", "EKTP_REQUIRE_POSTGRES": "0"}, False),
        ({"EKTP_REQUIRE_BROWSER": "1"}, False),
    ],
)
def test_ci_or_the_require_variable_makes_a_missing_postgres_a_failure(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], required: bool
) -> None:
    for variable in ("CI", "EKTP_REQUIRE_POSTGRES", "EKTP_REQUIRE_BROWSER"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    assert conftest._required("EKTP_REQUIRE_POSTGRES") is required
