"""Settings every service shares; each service subclasses them with its own env prefix.

Settings are built by the caller (CLI, tests) and passed into ``create_app(settings)``; nothing here is read
at import time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

__all__ = ["DATA_DIR", "ServiceSettings", "StackLayout", "default_sqlite_url"]

DATA_DIR = Path("data")
# Passwords that only ever stand in for a real one (.env.example, tutorials): a service refuses to start on them.
PLACEHOLDER_PASSWORDS = frozenset({"change-me", "changeme", "password", "postgres"})


def default_sqlite_url(service: str, data_dir: Path = DATA_DIR) -> str:
    """The embedded default: one SQLite file per service under ./data."""
    return f"sqlite+aiosqlite:///{data_dir / (service + '.db')}"


@dataclass(frozen=True)
class StackLayout:
    """Where each part of a local stack (``ektp up``) lives; each service derives its settings from it."""

    urls: Mapping[str, str]  # service name → its base URL
    data_dir: Path  # SQLite files, emulator state
    key_dir: Path  # the development key pair
    service_token: str  # role service, for the calls between services
    console_origins: Sequence[str]  # the office console's origins (it is served by the request service)
    printers: Sequence[tuple[str, str]] = ()  # (name, pyserial URL) of each emulated printer
    log_level: str = "WARNING"


def _env_value(value: Any) -> str:
    """A setting's value as pydantic-settings reads it back from an environment variable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


class ServiceSettings(BaseSettings):
    """Fields shared by the request, inventory and gateway services."""

    model_config = SettingsConfigDict(env_prefix="EKTP_", extra="ignore", env_file=None)

    database_url: str = Field(default="", description="SQLAlchemy async URL; empty means ./data/<service>.db (SQLite).")
    database_password_file: Path | None = Field(
        default=None,
        description="A file holding the database password (a Docker secret); it replaces any password in the URL.",
    )
    jwt_public_key_file: Path = Field(default=DATA_DIR / "keys" / "jwt-public.pem")
    jwt_public_key: str = Field(default="", description="PEM text; wins over jwt_public_key_file.")
    staff_public_key_file: Path = Field(
        default=DATA_DIR / "keys" / "staff-public.pem",
        description="The key that verifies staff sign-in tokens (admin, operator, clerk only), signed by the request "
        "service; without it staff tokens are refused here.",
    )
    jwt_audience: str = "ektp-print"
    revoked_tokens_file: Path | None = Field(
        default=DATA_DIR / "keys" / "revoked-tokens.jsonl",
        description="The revoked tokens' ids (`ektp token revoke`), re-read when it changes; none if absent.",
    )
    log_level: str = "INFO"
    log_json: bool = True
    db_pool_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description="PostgreSQL connections kept open. Size it for the calls served at once: a connection beyond "
        "it is opened for one call and closed after it (a TCP, TLS and auth handshake each time).",
    )
    db_max_overflow: int = Field(
        default=5,
        ge=0,
        le=200,
        description="Extra PostgreSQL connections beyond db_pool_size in a burst; a call waits for a free one "
        "after that. Three services at the defaults hold at most 75, under PostgreSQL's default 100.",
    )
    cors_origins: list[str] = Field(
        default=["http://127.0.0.1:8001", "http://localhost:8001"],
        description="Origins whose pages may call this API from a browser: the office console's.",
    )

    root_path: str = Field(
        default="",
        pattern=r"^(/[A-Za-z0-9._~-]+)*$",
        description="The path prefix a reverse proxy strips before it forwards (compose: /api/request), so that "
        "/docs and the OpenAPI document name the URLs a browser reaches; empty when the service is reached directly.",
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="The largest request body a route reads (a request with its photo and signature is about "
        "1 MB in base64); a larger one is refused with 413 before it is read. Upload routes have their own limit.",
    )

    rate_limits: dict[str, str] = Field(
        default={
            "anonymous": "300/minute",
            "partner": "120/minute",
            "clerk": "600/minute",
            "operator": "6000/minute",
            "admin": "6000/minute",
        },
        description="Calls per caller (token subject; client address without a token) and role, e.g. "
        '{"partner": "120/minute"}; a role left out (service) is not limited. 429 with Retry-After beyond.',
    )

    service_token: str = Field(default="", description="A JWT with role service, for calls to peer services.")
    service_token_file: Path | None = Field(default=None, description="A file holding that token (compose).")

    @classmethod
    def for_stack(cls, layout: StackLayout) -> dict[str, Any]:
        """The settings this service takes from a local stack (``ektp up``); each service adds its own."""
        return {
            "jwt_public_key_file": layout.key_dir / "jwt-public.pem",
            "staff_public_key_file": layout.key_dir / "staff-public.pem",
            "revoked_tokens_file": layout.key_dir / "revoked-tokens.jsonl",
            # The console and `ektp status` show what happens; the terminal shows only what needs attention.
            "log_level": layout.log_level,
            "cors_origins": list(layout.console_origins),
        }

    @classmethod
    def env_name(cls, setting: str) -> str:
        """The environment variable that sets ``setting`` (``EKTP_<SERVICE>_<SETTING>``)."""
        if setting not in cls.model_fields:
            raise KeyError(f"{cls.__module__}.{cls.__qualname__} has no setting {setting!r}")
        return f"{cls.model_config.get('env_prefix') or ''}{setting.upper()}"

    @classmethod
    def stack_env(cls, layout: StackLayout) -> dict[str, str]:
        """``for_stack`` as the environment variables ``ektp up`` starts this service with."""
        return {cls.env_name(setting): _env_value(value) for setting, value in cls.for_stack(layout).items()}

    def database_url_for(self, service: str) -> str:
        """The URL to connect with: ``database_url`` with the password from ``database_password_file`` if set, or
        the service's SQLite file. A placeholder password (``change-me`` of .env.example) is refused."""
        if not self.database_url:
            return default_sqlite_url(service)
        url = make_url(self.database_url)
        if self.database_password_file is not None:
            url = url.set(password=self.database_password_file.read_text().strip())
        if url.password is not None and str(url.password).lower() in PLACEHOLDER_PASSWORDS:
            raise ValueError(
                f"the {service} database password is the placeholder {url.password!r}: set a real one "
                "(README, 'Deploy with compose (PostgreSQL)')"
            )
        return url.render_as_string(hide_password=False)

    def peer_token(self) -> str | None:
        """The token this service sends to its peers: inline text first, then the file; None if neither."""
        if self.service_token:
            return self.service_token
        if self.service_token_file is not None:
            return self.service_token_file.read_text().strip() or None
        return None

    def staff_public_key_pem(self) -> str | None:
        """The PEM of the staff key, or None where staff sign-in is not set up."""
        try:
            return self.staff_public_key_file.read_text()
        except FileNotFoundError:
            return None

    def public_key_pem(self) -> str:
        """The PEM of the key that verifies tokens: inline text first, then the file."""
        if self.jwt_public_key:
            return self.jwt_public_key
        return self.jwt_public_key_file.read_text()
