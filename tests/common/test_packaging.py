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


def _dockerfile_layout(app: Path) -> str:
    """Copy what the Dockerfile COPYs into ``app``; return its WORKDIR (the image's working directory)."""
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    workdir = next(line.split()[1] for line in dockerfile if line.startswith("WORKDIR"))
    for line in dockerfile:
        if not line.startswith("COPY"):
            continue
        *sources, target = line.split()[1:]
        for source in sources:
            destination = app / (source if target in ("./", ".") else target.removeprefix("./"))
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(ROOT / source, destination)
    return workdir


def _dockerfile_env() -> dict[str, str]:
    """The variables the Dockerfile's ``ENV`` lines set (``KEY=value`` pairs, continued with backslashes)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    pairs = [word for line in text.splitlines() if line.startswith("ENV ") for word in line.split()[1:]]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.mark.slow
def test_a_regular_install_as_in_the_image_migrates_from_the_image_workdir(tmp_path: Path) -> None:
    # The image runs `pip install .` (not editable), so `services` lives in site-packages, away from
    # alembic.ini and migrations/: `ektp migrate` must still find them in the image's WORKDIR.
    app, site = tmp_path / "app", tmp_path / "site"
    app.mkdir()
    workdir = _dockerfile_layout(app)
    pip = [str(ROOT / ".venv/bin/python"), "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site)]
    subprocess.run([*pip, str(app)], check=True, capture_output=True)
    shutil.rmtree(app / "services"), shutil.rmtree(app / "drivers")  # only the installed copy can be imported
    script = (
        "import sys; from services.common.migrate import upgrade, migrations_root; "
        "from services.request.regions.service import load_catalog; "
        "assert 'site' in __import__('services').__file__; "
        "upgrade(sys.argv[1], 'sqlite+aiosqlite:///' + sys.argv[2]); "
        "print(migrations_root(), len(load_catalog('18.09').kecamatan))"
    )
    # The image's EKTP_MIGRATIONS_ROOT (/app) points at our copy of /app.
    image_root = _dockerfile_env()["EKTP_MIGRATIONS_ROOT"]
    assert image_root == workdir
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "EKTP_MIGRATIONS_ROOT": str(app)}
    python = str(ROOT / ".venv/bin/python")
    for service in ("request", "inventory", "gateway"):
        done = subprocess.run([python, "-c", script, service, str(tmp_path / f"{service}.db")],
                              cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [str(app), "11"]

    # Without it, the working directory is not searched, even when it holds migrations.
    without = {key: value for key, value in env.items() if key != "EKTP_MIGRATIONS_ROOT"}
    elsewhere = subprocess.run([python, "-c", script, "request", str(tmp_path / "x.db")],
                               cwd=app, env=without, capture_output=True, text=True)  # fmt: skip
    assert elsewhere.returncode != 0
    assert "EKTP_MIGRATIONS_ROOT" in elsewhere.stderr
