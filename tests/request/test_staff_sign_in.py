"""Office staff sign in with a username and password (OAuth2 password grant) and get a working day's token."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from services.common.auth import STAFF_KEY_ID, Role, TokenVerifier, generate_key_pair, issue_token
from services.common.problems import Unauthorized
from services.request.models import AuditEvent, StaffUser
from tests.request.conftest import InProcessRequestService

PASSWORD = "kopi-tubruk-2026"
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def staff_office(open_office: Callable[..., Any], tmp_path: Path) -> AsyncIterator[InProcessRequestService]:
    pair = generate_key_pair()
    private, public = tmp_path / "staff-private.pem", tmp_path / "staff-public.pem"
    private.write_bytes(pair.private_pem)
    public.write_bytes(pair.public_pem)
    async with open_office(staff_private_key_file=private, staff_public_key_file=public) as office:
        admin = office.as_("admin", subject="kepala-dinas")
        for username, role, kecamatan in (("rina", "operator", []), ("budi", "clerk", ["18.09.01"])):
            body = {"username": username, "password": PASSWORD, "role": role, "kecamatan": kecamatan}
            assert (await admin.post("/v1/users", json=body)).status_code == 201
        yield office


async def sign_in(office: InProcessRequestService, username: str, password: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "password", "username": username, "password": password, **extra}
    return await office.anonymous().post("/v1/auth/token", data=form)


async def audit_actions(office: InProcessRequestService, username: str) -> list[str]:
    async with office.app.state.db.read_sessions() as session:
        query = select(AuditEvent.action).where(AuditEvent.object_id == username).order_by(AuditEvent.id)
        return list((await session.scalars(query)).all())


async def test_a_right_password_gives_a_working_days_token_that_the_services_accept(
    staff_office: InProcessRequestService,
) -> None:
    answer = await sign_in(staff_office, "budi", PASSWORD)

    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 8 * 3600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["scope"]) == ("budi", "clerk", ["18.09.01"])
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    mine = await staff_office.anonymous().get("/v1/requests", params={"kecamatan": "18.09.01"}, headers=headers)
    assert mine.status_code == 200
    theirs = await staff_office.anonymous().get("/v1/requests", params={"kecamatan": "18.09.02"}, headers=headers)
    assert theirs.status_code == 403  # a clerk's kecamatan, as with any clerk token
    signed_out = await staff_office.anonymous().post("/v1/auth/sign-out", headers=headers)
    assert signed_out.status_code == 204
    assert await audit_actions(staff_office, "budi") == ["staff.user_added", "auth.signed_in", "auth.signed_out"]


@pytest.mark.parametrize("username", ["rina", "nobody"])
async def test_a_wrong_password_or_unknown_user_gets_the_same_oauth2_error(
    staff_office: InProcessRequestService, username: str
) -> None:
    answer = await sign_in(staff_office, username, "not-the-password")

    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["error"] == "invalid_grant"
    assert answer.json()["detail"] == "the username or password is wrong"
    assert "access_token" not in answer.text


async def test_five_wrong_passwords_lock_the_account_even_against_the_right_one_until_an_admin_resets_it(
    staff_office: InProcessRequestService,
) -> None:
    answers = [(await sign_in(staff_office, "rina", f"wrong-{n}")).status_code for n in range(5)]
    locked = await sign_in(staff_office, "rina", PASSWORD)

    assert answers == [400, 400, 400, 400, 429]
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 900
    assert locked.json()["type"].endswith("/account-locked")
    assert (await audit_actions(staff_office, "rina")).count("auth.sign_in_failed") == 4
    assert "auth.locked" in await audit_actions(staff_office, "rina")

    admin = staff_office.as_("admin", subject="kepala-dinas")
    reset = await admin.patch("/v1/users/rina", json={"password": "teh-manis-2026"})
    assert reset.status_code == 200
    assert reset.json()["locked_until"] is None
    assert (await sign_in(staff_office, "rina", "teh-manis-2026")).status_code == 200


async def test_a_disabled_account_cannot_sign_in(staff_office: InProcessRequestService) -> None:
    admin = staff_office.as_("admin", subject="kepala-dinas")
    assert (await admin.patch("/v1/users/rina", json={"disabled": True})).status_code == 200

    assert (await sign_in(staff_office, "rina", PASSWORD)).status_code == 400


async def test_the_password_is_kept_only_as_an_argon2_hash_and_never_shown(
    staff_office: InProcessRequestService,
) -> None:
    async with staff_office.app.state.db.read_sessions() as session:
        stored = (await session.scalars(select(StaffUser.password_hash))).all()
    listed = await staff_office.as_("admin", subject="kepala-dinas").get("/v1/users")

    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in stored)
    assert [u["username"] for u in listed.json()] == ["budi", "rina"]
    assert PASSWORD not in listed.text
    assert "argon2" not in listed.text


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"grant_type": "implicit"}, "grant_type"),
        ({"username": ""}, "username"),
        ({"password": PASSWORD + "x" * 200}, "password"),  # never cut to the stored length and compared
    ],
)
async def test_a_malformed_sign_in_is_refused_naming_the_field(
    staff_office: InProcessRequestService, form: dict[str, str], field: str
) -> None:
    base = {"grant_type": "password", "username": "rina", "password": PASSWORD}
    answer = await staff_office.anonymous().post("/v1/auth/token", data={**base, **form})

    assert answer.status_code == 422
    assert field in [e["field"] for e in answer.json()["errors"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ani", "password": "short", "role": "operator"}, "password"),
        ({"username": "ani", "password": PASSWORD, "role": "clerk"}, "kecamatan"),
        ({"username": "ani", "password": PASSWORD, "role": "clerk", "kecamatan": ["18.01.01"]}, "kecamatan"),
        ({"username": "ani", "password": PASSWORD, "role": "service"}, "role"),
        ({"username": "Ani Smith", "password": PASSWORD, "role": "operator"}, "username"),
    ],
)
async def test_an_account_that_breaks_a_rule_is_refused_naming_the_field(
    staff_office: InProcessRequestService, body: dict[str, Any], field: str
) -> None:
    answer = await staff_office.as_("admin", subject="kepala-dinas").post("/v1/users", json=body)

    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]


@pytest.mark.parametrize("role", ["operator", "clerk", "partner", "service"])
async def test_only_an_admin_manages_accounts(staff_office: InProcessRequestService, role: str) -> None:
    assert (await staff_office.as_(role, subject=f"{role}-1").get("/v1/users")).status_code == 403


async def test_sign_in_without_the_staff_key_says_it_is_not_set_up(
    open_office: Callable[..., Any], tmp_path: Path
) -> None:
    async with open_office(staff_private_key_file=tmp_path / "absent.pem") as office:
        answer = await sign_in(office, "rina", PASSWORD)
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("/sign-in-unavailable")


def test_the_staff_key_signs_only_staff_roles_and_the_services_hold_it_to_that() -> None:
    main, staff = generate_key_pair(), generate_key_pair()
    verifier = TokenVerifier(main.public_pem, staff_public_pem=staff.public_pem)
    with pytest.raises(ValueError, match="does not sign service"):
        issue_token(staff.private_pem, role=Role.SERVICE, subject="x", key_id=STAFF_KEY_ID)
    # Made by hand, as a thief of the staff key would: refused all the same.
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": "x",
        "role": "service",
        "aud": "ektp-print",
        "jti": "j",
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
    }
    forged = jwt.encode(claims, staff.private_pem, algorithm="EdDSA", headers={"kid": STAFF_KEY_ID})
    with pytest.raises(Unauthorized):
        verifier.verify(forged)
    # A staff token is checked with the staff key only, and the main key's tokens with the main key only.
    operator = issue_token(staff.private_pem, role=Role.OPERATOR, subject="rina", key_id=STAFF_KEY_ID)
    assert verifier.verify(operator).subject == "rina"
    with pytest.raises(Unauthorized):
        TokenVerifier(main.public_pem).verify(operator)
    with pytest.raises(Unauthorized):
        verifier.verify(issue_token(staff.private_pem, role=Role.OPERATOR, subject="rina"))


def test_ektp_user_adds_an_account_with_the_password_from_stdin_and_refuses_a_bad_one(
    tmp_path: Path, request_settings: Callable[..., Any]
) -> None:
    settings = request_settings()
    env = {
        "EKTP_REQUEST_DATABASE_URL": settings.resolved_database_url(),
        "EKTP_REQUEST_DATA_KEYS_FILE": str(settings.data_keys_file),
        "PATH": "/usr/bin:/bin",
    }

    def ektp(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "services.ops.cli", "user", *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, cwd=PROJECT, check=False)

    subprocess.run([sys.executable, "-m", "services.ops.cli", "migrate", "request"], env=env, cwd=PROJECT, check=True)
    added = ektp("add", "sari", "--role", "clerk", "--kecamatan", "18.09.02", stdin=PASSWORD + "\n")
    short = ektp("add", "joko", "--role", "operator", stdin="short\n")
    listed = ektp("list", stdin="")

    assert added.returncode == 0, added.stderr
    assert "user sari added: clerk for 18.09.02" in added.stdout
    assert short.returncode != 0
    assert "password" in short.stderr
    assert "sari" in listed.stdout
    assert "joko" not in listed.stdout
    assert PASSWORD not in added.stdout + added.stderr
