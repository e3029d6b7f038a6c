"""Tokens that die and identities that are not shared (services/common/auth.py, revocation.py, the ``ektp token``
commands): a token lives at most its role's ``MAX_TTL`` and carries an id, a revoked id is refused by a running
service within seconds (even a token it had already accepted), and no two tokens share a subject by default."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI

from services.common.auth import MAX_TTL, KeyPair, Role, TokenVerifier, issue_token
from services.common.problems import Unauthorized
from services.common.revocation import RevocationList
from services.inventory.app import create_app
from services.inventory.config import Settings
from tests.support import running, wait_for

PROJECT = Path(__file__).resolve().parents[2]


def ektp(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.ops.cli", *args], cwd=cwd, capture_output=True, text=True, env=_env()
    )


def _env() -> dict[str, str]:
    import os

    return dict(os.environ) | {"PYTHONPATH": str(PROJECT)}


def forged(keys: KeyPair, **claims: object) -> str:
    """A token signed with the right key but claims of our choosing (as an old or foreign signer made them)."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    base: dict[str, object] = {
        "sub": "someone",
        "role": "service",
        "scope": [],
        "aud": "ektp-print",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode({k: v for k, v in (base | claims).items() if v is not None}, keys.private_pem, algorithm="EdDSA")


@pytest.mark.parametrize("role", list(Role))
def test_no_token_is_issued_for_longer_than_its_role_may_live(keys: KeyPair, role: Role) -> None:
    scope = ["18.09.01"] if role is Role.CLERK else []
    issue_token(keys.private_pem, role=role, subject="x", scope=scope, ttl=MAX_TTL[role])
    with pytest.raises(ValueError, match="lives at most"):
        issue_token(keys.private_pem, role=role, subject="x", scope=scope, ttl=MAX_TTL[role] + dt.timedelta(hours=1))


def test_a_ten_year_service_token_made_elsewhere_is_refused(keys: KeyPair) -> None:
    # What compose used to mint: a service token for 3650 days.
    now = int(dt.datetime.now(dt.UTC).timestamp())
    token = forged(keys, iat=now, exp=now + 3650 * 86400)
    with pytest.raises(Unauthorized) as refused:
        TokenVerifier(keys.public_pem).verify(token)
    assert refused.value.kind == "token-too-long"


@pytest.mark.parametrize("missing", ["jti", "iat"])
def test_a_token_without_an_id_or_issue_time_is_refused(keys: KeyPair, missing: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        TokenVerifier(keys.public_pem).verify(forged(keys, **{missing: None}))
    assert refused.value.kind == "token-invalid"


def test_each_token_has_its_own_id(keys: KeyPair) -> None:
    ids = {
        jwt.decode(issue_token(keys.private_pem, role="operator", subject="a"), options={"verify_signature": False})[
            "jti"
        ]
        for _ in range(5)
    }
    assert len(ids) == 5


@pytest.fixture
def inventory(keys: KeyPair, tmp_path: Path, _templates: object) -> tuple[FastAPI, Path]:
    import shutil

    database = tmp_path / "inventory.db"
    shutil.copyfile(_templates.sqlite_template("inventory"), database)  # type: ignore[attr-defined]
    revoked = tmp_path / "keys" / "revoked-tokens.jsonl"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        jwt_public_key=keys.public_pem.decode(),
        revoked_tokens_file=revoked,
    )
    return create_app(settings), revoked


async def test_a_revoked_token_is_refused_by_a_running_service_even_after_it_was_accepted(
    inventory: tuple[FastAPI, Path], keys: KeyPair, tmp_path: Path, client_for: Callable[..., httpx.AsyncClient]
) -> None:
    app, revoked = inventory
    token = issue_token(keys.private_pem, role="operator", subject="desk-1")
    other = issue_token(keys.private_pem, role="operator", subject="desk-2")
    async with running(app), client_for(app, token) as client, client_for(app, other) as colleague:
        assert (await client.get("/v1/stock")).status_code == 200  # accepted, and remembered by the verifier

        result = ektp("token", "revoke", token, "--file", str(revoked), "--reason", "laptop stolen", cwd=tmp_path)
        assert result.returncode == 0, result.stderr

        async def refused() -> bool:
            answer = await client.get("/v1/stock")
            return answer.status_code == 401 and answer.json()["type"].endswith("/token-revoked")

        await wait_for(refused, timeout=5, what="the revoked token refused")
        # A write too, before its body is read; and a colleague's token still works.
        assert (await client.post("/v1/tranches", json={})).status_code == 401
        assert (await colleague.get("/v1/stock")).status_code == 200
        assert "laptop stolen" in revoked.read_text()


def test_revoking_by_id_and_twice_is_harmless(keys: KeyPair, tmp_path: Path) -> None:
    token = issue_token(keys.private_pem, role="partner", subject="rsud")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    revoked = tmp_path / "revoked.jsonl"
    assert ektp("token", "revoke", jti, "--file", str(revoked), cwd=tmp_path).returncode == 0
    again = ektp("token", "revoke", token, "--file", str(revoked), cwd=tmp_path)
    assert again.returncode == 0
    assert "already revoked" in again.stderr
    assert jti in RevocationList(revoked)
    with pytest.raises(Unauthorized):
        TokenVerifier(keys.public_pem, revoked=RevocationList(revoked)).verify(token)


@pytest.mark.parametrize("role", ["partner", "clerk"])
def test_a_partner_or_clerk_token_needs_a_subject(tmp_path: Path, role: str) -> None:
    args = ["token", "create", "--role", role] + (["--kecamatan", "18.09.01"] if role == "clerk" else [])
    result = ektp(*args, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert "--subject" in result.stderr


def test_tokens_made_without_a_subject_do_not_share_one(tmp_path: Path) -> None:
    subjects = set()
    for _ in range(2):
        result = ektp("token", "create", "--role", "operator", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        subjects.add(jwt.decode(result.stdout.strip(), options={"verify_signature": False})["sub"])
    assert len(subjects) == 2


def test_the_cli_refuses_a_ttl_over_the_role_maximum(tmp_path: Path) -> None:
    result = ektp("token", "create", "--role", "service", "--subject", "gateway", "--ttl", "3650d", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert "lives at most 365d" in result.stderr
