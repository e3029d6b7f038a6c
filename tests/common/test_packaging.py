"""What a clean clone holds: every file the packages read at run time is in version control."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DEBRIS = ("__pycache__", ".egg-info", ".pyc")


def test_no_file_under_the_packages_or_migrations_is_ignored_by_git() -> None:
    # A broad .gitignore pattern once hid services/request/regions/data/: every test passed here and a clean
    # clone could not start the request service.
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "services", "drivers", "migrations"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    hidden = [path for path in listed if not any(part in path for part in BUILD_DEBRIS)]
    assert hidden == []
