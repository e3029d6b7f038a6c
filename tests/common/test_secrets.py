"""Database passwords come from a secret file, never have to sit in an environment URL, and the placeholder
of .env.example stops a service from starting (services/common/settings.py ``database_url_for``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.request.app import create_app
from services.request.config import Settings

URL = "postgresql+asyncpg://ektp@postgres:5432/ektp_request"


def test_the_password_comes_from_the_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("s3cr3t-from-a-docker-secret\n")
    settings = Settings(database_url=URL, database_password_file=secret)
    assert (
        settings.resolved_database_url()
        == "postgresql+asyncpg://ektp:s3cr3t-from-a-docker-secret@postgres:5432/ektp_request"
    )


@pytest.mark.parametrize("where", ["url", "file"])
def test_the_placeholder_password_is_refused_before_the_service_starts(tmp_path: Path, where: str) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("change-me\n")
    settings = (
        Settings(database_url="postgresql+asyncpg://ektp:change-me@postgres:5432/ektp_request")
        if where == "url"
        else Settings(database_url=URL, database_password_file=secret)
    )
    with pytest.raises(ValueError, match="placeholder"):
        create_app(settings)


def test_without_a_database_url_the_embedded_sqlite_file_is_used() -> None:
    assert Settings().resolved_database_url().endswith("data/request.db")
