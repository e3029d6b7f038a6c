"""The architecture's import rules, read from the code itself (docs/architecture.md, "What may import what")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("request", "inventory", "gateway")


def imports_of(package: str) -> dict[str, set[str]]:
    """Every module a file of ``package`` imports (absolute names), by file."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{file} imports {name}"
        for file, names in imports_of(package).items()
        for name in sorted(names)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another_service_or_the_operators_tools(service: str) -> None:
    others = (*(f"services.{s}" for s in SERVICES if s != service), "services.ops")
    assert offenders(f"services.{service}", others) == []


def test_common_holds_no_service_code_and_knows_no_printer() -> None:
    assert offenders("services.common", (*(f"services.{s}" for s in SERVICES), "services.ops", "drivers")) == []


def test_the_drivers_know_no_service() -> None:
    assert offenders("drivers", ("services",)) == []


@pytest.mark.parametrize("service", ["request", "inventory"])
def test_only_the_gateway_among_the_services_drives_printers(service: str) -> None:
    assert offenders(f"services.{service}", ("drivers",)) == []


def test_the_walk_sees_the_imports_it_checks() -> None:
    """A walk that found nothing would pass every rule above: the gateway does import the drivers and common."""
    gateway = set().union(*imports_of("services.gateway").values())
    assert "drivers" in gateway
    assert any(name.startswith("services.common") for name in gateway)
