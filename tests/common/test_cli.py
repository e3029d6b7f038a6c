"""The ``ektp`` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.common.auth import Role, TokenVerifier, ensure_key_pair


def ektp(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.ops.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
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
    from services.ops.stack import StackOptions, ephemeral_port_range

    assert StackOptions().ephemeral_ports() == []
    low, _high = ephemeral_port_range()
    inside = StackOptions(base_port=low, printer_port=low - 50, printers=2)
    assert inside.ephemeral_ports() == [low, low + 1, low + 2, low + 50, low + 51]


def test_ektp_up_starts_each_service_with_the_settings_its_own_config_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.common.settings import StackLayout
    from services.ops.stack import settings_class

    layout = StackLayout(
        urls={"request": "http://127.0.0.1:8001", "inventory": "http://127.0.0.1:8002", "gateway": "http://h:8003"},
        data_dir=tmp_path,
        key_dir=tmp_path / "keys",
        service_token="tok",
        console_origins=["http://127.0.0.1:8001", "http://localhost:8001"],
        printers=[("printer-1", "socket://127.0.0.1:9101"), ("printer-2", "socket://127.0.0.1:9102")],
    )
    gateway = settings_class("gateway").stack_env(layout)
    assert gateway["EKTP_GATEWAY_PRINTERS"] == "printer-1=socket://127.0.0.1:9101,printer-2=socket://127.0.0.1:9102"
    assert gateway["EKTP_GATEWAY_INVENTORY_URL"] == "http://127.0.0.1:8002"
    assert settings_class("request").stack_env(layout)["EKTP_REQUEST_CONSOLE_GATEWAY_URL"] == "http://h:8003"
    for service in ("request", "inventory", "gateway"):
        settings_cls = settings_class(service)
        env = settings_cls.stack_env(layout)
        assert env[settings_cls.env_name("log_level")] == "WARNING"
        # Read back from the environment, as the service started by ektp up reads it.
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        read = settings_cls()
        assert read.resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path / (service + '.db')}"
        assert read.cors_origins == list(layout.console_origins)
        assert read.jwt_public_key_file == tmp_path / "keys" / "jwt-public.pem"
