"""The ``ektp`` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services.common.auth import Role, TokenVerifier, ensure_key_pair


def ektp(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_token_create_prints_the_token_alone_on_stdout(tmp_path: Path) -> None:
    private, public = ensure_key_pair(tmp_path / "keys")
    result = ektp(
        "token",
        "create",
        "--role",
        "clerk",
        "--kecamatan",
        "18.09.01",
        "--subject",
        "clerk-gt",
        "--ttl",
        "15m",
        "--private-key",
        str(private),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    principal = TokenVerifier(public.read_bytes()).verify(lines[0])
    assert (principal.subject, principal.role, principal.scope) == (
        "clerk-gt",
        Role.CLERK,
        frozenset({"18.09.01"}),
    )


def test_token_create_makes_the_development_key_pair_on_first_use(tmp_path: Path) -> None:
    result = ektp("token", "create", "--role", "operator", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "keys" / "jwt-public.pem").exists()


def test_a_clerk_token_without_a_kecamatan_is_refused(tmp_path: Path) -> None:
    result = ektp("token", "create", "--role", "clerk", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "kecamatan" in result.stderr


def test_migrate_creates_each_service_database(tmp_path: Path) -> None:
    result = ektp("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "data").glob("*.db")} == {"request.db", "inventory.db", "gateway.db"}


def test_the_default_ports_lie_below_the_ephemeral_range_and_others_are_named() -> None:
    # A child that ektp up restarts binds its port again: a port the kernel may hand out as a source port
    # could be taken by then, so the defaults stay below that range and ports inside it are reported.
    from services.stack import StackOptions, ephemeral_port_range

    assert StackOptions().ephemeral_ports() == []
    low, _high = ephemeral_port_range()
    inside = StackOptions(base_port=low, printer_port=low - 50, printers=2)
    assert inside.ephemeral_ports() == [low, low + 1, low + 2, low + 50, low + 51]
