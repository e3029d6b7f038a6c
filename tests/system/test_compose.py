"""docker-compose.yml, checked without Docker: valid against the Compose Specification's JSON schema, and
every command, port, URL and variable in it matches the code it runs.

The schema is the Compose Specification's ``compose_spec.json`` as shipped in docker-compose 1.29.2
(Apache-2.0), vendored beside this test because the machine has no internet.
"""

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from drivers.emulator.cli import _parser as emulator_parser
from services.common.migrate import PROJECT_ROOT, SERVICES
from services.ops.cli import DEFAULT_PORTS, _parser, service_settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).with_name("compose-spec.schema.json")
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def _ektp_invocations(command: list[str] | str) -> list[list[str]]:
    """Every ``ektp …`` command line in a service's command, including those inside ``sh -c``."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:2] == ["sh", "-c"]:
        script = " ".join(argv[2:])
        return [shlex.split(part)[1:] for part in re.findall(r"\bektp\b[^&|;>()]*", script)]
    return [argv[1:]] if argv[:1] == ["ektp"] else []


def _parse(argv: list[str]) -> Any:
    if argv[:1] == ["emulator"]:
        return emulator_parser().parse_args(argv[1:])
    return _parser().parse_args(argv)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    return dict(env) if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_a_broken_compose_file_is_caught_by_the_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = {"services": {"request": {"image": "x", "ports": "8001:8001", "restart": 3}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_every_ektp_command_in_the_compose_file_parses_with_the_real_cli(compose: dict[str, Any]) -> None:
    seen = []
    for name, service in compose["services"].items():
        for argv in _ektp_invocations(service.get("command", [])):
            try:
                _parse(argv)
            except SystemExit as exc:  # argparse rejects unknown commands and options this way
                pytest.fail(f"{name}: `ektp {' '.join(argv)}` does not parse ({exc})")
            seen.append(argv[0])
    assert {"migrate", "serve", "emulator", "keys", "token"} <= set(seen)


def test_each_service_runs_its_migrations_then_serves_on_its_default_port(compose: dict[str, Any]) -> None:
    for service_name in SERVICES:
        service = compose["services"][service_name]
        commands = [_parse(argv) for argv in _ektp_invocations(service["command"])]
        assert [c.command for c in commands] == ["migrate", "serve"], service_name
        migrate, serve = commands
        assert migrate.service == serve.service == service_name
        assert serve.port == DEFAULT_PORTS[service_name]
        published = [str(p).rsplit(":", 1)[-1] for p in service["ports"]]
        assert published == [str(DEFAULT_PORTS[service_name])]
        health_url = service["healthcheck"]["test"][-1]
        assert urlsplit(health_url).port == DEFAULT_PORTS[service_name]
        assert urlsplit(health_url).path == "/readyz"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_ektp_variable_names_a_setting_of_that_service(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for variable in _environment(service):
            if not variable.startswith("EKTP_"):
                continue
            match = re.fullmatch(r"EKTP_([A-Z]+)_([A-Z0-9_]+)", variable)
            assert match, f"{name}: {variable} is not an ektp setting"
            owner, field = match.group(1).lower(), match.group(2).lower()
            assert owner == name, f"{name} sets {variable}, a setting of {owner}"
            fields = type(service_settings(owner)).model_fields
            assert field in fields, f"{name}: {variable} matches no field of services.{owner}.config.Settings"


def test_each_service_has_its_own_database_created_by_the_init_script(compose: dict[str, Any]) -> None:
    init_sql = (PROJECT_ROOT / "deploy/postgres/10-databases.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", init_sql))
    databases = {}
    for service_name in SERVICES:
        url = _environment(compose["services"][service_name])[f"EKTP_{service_name.upper()}_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://")
        databases[service_name] = urlsplit(url.replace("${POSTGRES_PASSWORD}", "pw")).path.lstrip("/")
    assert len(set(databases.values())) == 3
    assert set(databases.values()) == created


def test_peer_urls_and_printer_ports_point_at_services_that_listen_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway_env = _environment(services["gateway"])
    for variable, peer in (("EKTP_GATEWAY_REQUEST_URL", "request"), ("EKTP_GATEWAY_INVENTORY_URL", "inventory")):
        url = urlsplit(gateway_env[variable])
        assert (url.hostname, url.port) == (peer, DEFAULT_PORTS[peer])
    inventory_request = urlsplit(_environment(services["inventory"])["EKTP_INVENTORY_REQUEST_URL"])
    assert (inventory_request.hostname, inventory_request.port) == ("request", DEFAULT_PORTS["request"])
    printers = dict(item.split("=", 1) for item in gateway_env["EKTP_GATEWAY_PRINTERS"].split(","))
    assert len(printers) == 2
    for url in printers.values():
        parts = urlsplit(url)
        assert parts.scheme == "socket"
        emulator = _parse(_ektp_invocations(services[parts.hostname]["command"])[0])
        assert emulator.port == parts.port
        assert parts.hostname in services["gateway"]["depends_on"]


def test_the_two_emulators_together_hold_the_reference_office_stock_without_overlap(compose: dict[str, Any]) -> None:
    ranges = []
    for name in ("emulator-1", "emulator-2"):
        args = _parse(_ektp_invocations(compose["services"][name]["command"])[0])
        first, last = args.serials.split("-") if isinstance(args.serials, str) else args.serials
        ranges.append((int(first[3:]), int(last[3:])))
    ranges.sort()
    assert ranges[0][1] < ranges[1][0]
    assert sum(last - first + 1 for first, last in ranges) == 8016


def test_env_example_sets_every_variable_the_compose_file_requires(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    used = set(re.findall(r"\$\{(\w+)", text))
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line}
    assert required <= example
    assert example <= used, f"set in .env.example but unused: {example - used}"


def test_the_dockerfile_copies_what_the_image_needs() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    copied = {part for line in dockerfile.splitlines() if line.startswith("COPY") for part in line.split()[1:-1]}
    for path in copied:
        assert (PROJECT_ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
    assert {"services", "drivers", "migrations", "alembic.ini", "pyproject.toml"} <= copied
