"""Local stand-ins for the three images docker-compose.yml takes from Docker Hub, which this machine cannot reach.

One Debian bookworm root file system (``debootstrap --variant=minbase``) holds the packages that do the three
official images' jobs; it is imported once (``docker import``), and each stand-in is a small ``docker build`` on
it that gives it the official image's configuration (entrypoint, command, environment, volumes, stop signal):

- python:3.11-slim → Debian's python3 (3.11), pip and ``python``, pip installing into /usr/local as in the
  official image; ``/etc/pip.conf`` points pip at a wheelhouse of the project's dependencies and its build
  backend, built on the host, and at no index: the Dockerfile's ``pip install`` runs as written, with no network.
- postgres:15 → Debian's postgresql-15 behind ``postgres/docker-entrypoint.sh`` (beside this file), which keeps
  the part of the official image's contract that compose relies on.
- caddy:2 → Debian's caddy (2.6), run as the official image runs it.

One root file system for the three, not one each: debootstrap is most of the cold cost (about two minutes on
a busy machine), and none of the three cares that the others' packages are there.

Cached: an image whose tag (a hash of its recipe: packages, Dockerfile, files) exists is not made again; the
.debs debootstrap fetched and the wheelhouse (keyed by the requirements in pyproject.toml) stay under
``~/.cache/ektp-compose`` (``EKTP_COMPOSE_CACHE`` moves it). Making the root file system takes root.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CACHE", "STANDINS", "StandIn", "StandInUnavailable", "build_all", "wheelhouse"]

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[2]
CACHE = Path(os.environ.get("EKTP_COMPOSE_CACHE", "~/.cache/ektp-compose")).expanduser()
SUITE = "bookworm"
MIRROR = os.environ.get("EKTP_COMPOSE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Part of every key: bump it when the way an image is made changes in a way its recipe does not show.
RECIPE_VERSION = 2
PACKAGES = ("python3", "python3-pip", "python-is-python3", "postgresql-15", "caddy", "ca-certificates")
# What the packages leave that no stand-in wants: the cluster postgresql-15 makes on install (the entrypoint
# makes its own in PGDATA), apt's lists and downloads.
REMOVE = ("etc/postgresql/15/main", "var/lib/postgresql/15/main", "var/lib/apt/lists", "var/cache/apt/archives")

Log = Callable[[str], None]


class StandInUnavailable(RuntimeError):
    """A stand-in cannot be made on this machine (not root, no debootstrap): the reason, as a skip gives it."""


def _print(message: str) -> None:
    print(f"[compose stand-ins] {message}", file=sys.stderr, flush=True)


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def rootfs_tag() -> str:
    recipe = {"version": RECIPE_VERSION, "suite": SUITE, "arch": platform.machine(), "packages": PACKAGES,
              "remove": REMOVE}  # fmt: skip
    return f"ektp-standin/bookworm:{_digest(recipe)}"


@dataclass(frozen=True)
class StandIn:
    name: str
    replaces: str
    variable: str  # the docker-compose.yml variable that names the image (PYTHON_IMAGE, …)
    dockerfile: str  # after FROM <the root file system>: the official image's configuration
    files: dict[str, Path] = field(default_factory=dict)  # name in the build context → file here

    def tag(self, base: str) -> str:
        files = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in sorted(self.files.items())}
        return f"ektp-standin/{self.name}:{_digest([base, self.dockerfile, files])}"


PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

STANDINS = {
    "python": StandIn(
        name="python",
        replaces="python:3.11-slim",
        variable="PYTHON_IMAGE",
        # Not refused as Debian's own Python (PEP 668): pip installs into /usr/local, as in the official image.
        dockerfile=f"""
ENV PATH={PATH} LANG=C.UTF-8
RUN rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
CMD ["python3"]
""",
    ),
    "postgres": StandIn(
        name="postgres",
        replaces="postgres:15",
        variable="POSTGRES_IMAGE",
        dockerfile=f"""
ENV PATH=/usr/lib/postgresql/15/bin:{PATH} LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh && mkdir -p /docker-entrypoint-initdb.d
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
""",
        files={"docker-entrypoint.sh": HERE / "postgres" / "docker-entrypoint.sh"},
    ),
    "caddy": StandIn(
        name="caddy",
        replaces="caddy:2",
        variable="CADDY_IMAGE",
        dockerfile=f"""
ENV PATH={PATH} XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
RUN mkdir -p /config/caddy /data/caddy /srv
VOLUME /config
VOLUME /data
WORKDIR /srv
EXPOSE 80 443 2019
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
""",
    ),
}


# --------------------------------------------------------------------------------------------- the docker side
def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def _run(argv: list[str], *, log: Log, **kwargs: object) -> None:
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} … exited with {result.returncode}:\n{result.stdout}\n{result.stderr}")
    log(f"{' '.join(argv[:3])} … {time.monotonic() - started:.0f} s")


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    return sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True)


def _remove_tree(root: Path) -> None:
    """Unmount what debootstrap may have left mounted (proc, sys, a bound /dev), then delete without crossing."""
    for mount in _mounts_under(root):
        subprocess.run(["umount", "-l", mount], check=False)
    if root.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=True)


def build_rootfs(*, log: Log = _print) -> str:
    """The root file system every stand-in is made from (debootstrap, ``docker import``) unless its tag exists."""
    tag = rootfs_tag()
    if image_exists(tag):
        return tag
    if os.geteuid() != 0:
        raise StandInUnavailable(f"making {tag} takes root (debootstrap)")
    if shutil.which("debootstrap") is None:
        raise StandInUnavailable(f"making {tag} takes debootstrap: apt-get install debootstrap")
    (CACHE / "debs").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
    root = work / "root"
    try:
        log(f"{tag}: debootstrap {SUITE} minbase + {', '.join(PACKAGES)}")
        _run(
            [
                "debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                f"--cache-dir={CACHE / 'debs'}", SUITE, str(root), MIRROR,
            ],
            log=log,
        )  # fmt: skip
        for path in REMOVE:
            _remove_tree(root / path)
        tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        try:
            _run(["docker", "import", "-", tag], log=log, stdin=tar.stdout)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait()
        if tar.returncode != 0:
            raise RuntimeError(f"tar of {root} exited with {tar.returncode}")
    finally:
        _remove_tree(work)
    return tag


def _build(tag: str, dockerfile: str, files: dict[str, Path], *, log: Log) -> str:
    """``docker build`` of ``dockerfile`` with ``files`` (name → file or folder) as its context, unless it exists."""
    if image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(dir=CACHE) as context:
        context_dir = Path(context)
        (context_dir / "Dockerfile").write_text(dockerfile)
        for name, source in files.items():
            if source.is_dir():
                shutil.copytree(source, context_dir / name)
            else:
                shutil.copyfile(source, context_dir / name)
        log(f"{tag}: docker build")
        _run(["docker", "build", "--quiet", "--tag", tag, str(context_dir)], log=log)
    return tag


def build_standin(standin: StandIn, *, log: Log = _print) -> str:
    base = build_rootfs(log=log)
    return _build(standin.tag(base), f"FROM {base}\n{standin.dockerfile}", standin.files, log=log)


# ------------------------------------------------------------------------------------------------ the wheelhouse
def _requirements() -> list[str]:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    return [*pyproject["build-system"]["requires"], *pyproject["project"]["dependencies"]]


def wheelhouse(*, log: Log = _print) -> Path:
    """Wheels of every dependency and of the build backend, built on the host (it reaches PyPI), cached by the
    requirements, this Python's version and the machine."""
    requirements = _requirements()
    key = _digest({"requirements": requirements, "python": sys.version_info[:2], "arch": platform.machine()})
    directory = CACHE / f"wheelhouse-{key}"
    if (directory / ".complete").exists():
        return directory
    partial = directory.with_name(directory.name + ".partial")
    _remove_tree(partial)
    log(f"{directory.name}: pip wheel {len(requirements)} requirements")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(partial), *requirements], log=log)
    (partial / ".complete").touch()
    _remove_tree(directory)
    partial.rename(directory)
    return directory


def build_python_with_wheels(*, log: Log = _print) -> str:
    """The python stand-in with the wheelhouse at /wheelhouse and pip told to install from it alone."""
    base = build_standin(STANDINS["python"], log=log)
    wheels = wheelhouse(log=log)
    pip_conf = CACHE / "pip.conf"
    pip_conf.write_text("[global]\nno-index = true\nfind-links = /wheelhouse\n")
    dockerfile = f"FROM {base}\nCOPY wheelhouse /wheelhouse\nCOPY pip.conf /etc/pip.conf\n"
    tag = f"ektp-standin/python-wheels:{_digest([base, wheels.name, dockerfile])}"
    return _build(tag, dockerfile, {"wheelhouse": wheels, "pip.conf": pip_conf}, log=log)


def build_all(*, log: Log = _print) -> dict[str, str]:
    """Every stand-in, made unless cached; returns compose's image variables → the stand-ins' tags."""
    CACHE.mkdir(parents=True, exist_ok=True)
    return {
        "PYTHON_IMAGE": build_python_with_wheels(log=log),
        "POSTGRES_IMAGE": build_standin(STANDINS["postgres"], log=log),
        "CADDY_IMAGE": build_standin(STANDINS["caddy"], log=log),
    }


if __name__ == "__main__":
    for variable, image in build_all().items():
        print(f"{variable}={image}")
