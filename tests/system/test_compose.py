"""docker-compose.yml, checked without Docker: valid against the Compose Specification's JSON schema, and
every command, port, URL and variable in it matches the code it runs; deploy/caddy/Caddyfile routes to them.

The deployment's security rests on a few properties checked here: only the TLS proxy publishes a port, the rest
sits on an internal network, no password is in the environment, and each calling service mounts only its own
service token.

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
from services.common.auth import MAX_TTL, Role, parse_duration
from services.common.migrate import PROJECT_ROOT, SERVICES
from services.gateway.config import Settings as GatewaySettings
from services.ops.cli import DEFAULT_PORTS, _parser, service_settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
CADDYFILE = PROJECT_ROOT / "deploy/caddy/Caddyfile"
SCHEMA = Path(__file__).with_name("compose-spec.schema.json")
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
PROXY = "proxy"


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


def _interpolate(text: str) -> str:
    """``text`` as compose reads it with an empty .env: every ``${VAR:-default}`` becomes its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The service's volumes in short syntax, as (source, target, read-only)."""
    mounts = []
    for entry in service.get("volumes", []):
        source, target, *options = entry.split(":")
        mounts.append((source, target, "ro" in options))
    return mounts


def _caddy_routes() -> dict[str, str]:
    """The Caddyfile's proxied path prefixes (``/api/request/*``) → their upstream (``request:8001``)."""
    text = CADDYFILE.read_text()
    return dict(re.findall(r"^\s*handle(?:_path)? (/\S+) \{\s*reverse_proxy (\S+)\s*$", text, re.MULTILINE))


def _published_https_port(compose: dict[str, Any]) -> int:
    (published,) = compose["services"][PROXY]["ports"]
    host_port, container_port = _interpolate(str(published)).rsplit(":", 1)
    assert container_port == "443"
    return int(host_port)


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
        assert "ports" not in service, f"{service_name} publishes a port: only the proxy may"
        assert _caddy_routes()[f"/api/{service_name}/*"] == f"{service_name}:{DEFAULT_PORTS[service_name]}"
        health_url = service["healthcheck"]["test"][-1]
        assert urlsplit(health_url).port == DEFAULT_PORTS[service_name]
        assert urlsplit(health_url).path == "/readyz"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_ektp_variable_names_a_setting_of_that_service(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == PROXY:  # its variables are the Caddyfile's placeholders (below)
            continue
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
        databases[service_name] = urlsplit(_interpolate(url)).path.lstrip("/")
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


def test_the_gateway_opens_only_the_emulators_it_is_given(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["gateway"])
    settings = GatewaySettings(printers=env["EKTP_GATEWAY_PRINTERS"], printer_hosts=env["EKTP_GATEWAY_PRINTER_HOSTS"])
    printers = {url.removeprefix("socket://") for _, url in settings.printer_list()}
    assert set(settings.printer_hosts) == printers


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
    lines = [line for line in ENV_EXAMPLE.read_text().splitlines() if not line.startswith("#")]
    example = {line.split("=", 1)[0] for line in lines if "=" in line}
    assert required <= example
    assert example <= used, f"set in .env.example but unused: {example - used}"


def test_the_dockerfile_copies_what_the_image_needs() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    copied = {part for line in dockerfile.splitlines() if line.startswith("COPY") for part in line.split()[1:-1]}
    for path in copied:
        assert (PROJECT_ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
    assert {"services", "drivers", "migrations", "alembic.ini", "pyproject.toml"} <= copied


def test_the_images_can_be_taken_from_a_mirror(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services[PROXY]["image"] == "${CADDY_IMAGE:-caddy:2}"
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:15}"
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim\nFROM ${PYTHON_IMAGE}\n" in dockerfile
    for name in SERVICES:
        assert services[name]["build"]["args"]["PYTHON_IMAGE"] == "${PYTHON_IMAGE:-python:3.11-slim}"


def test_only_the_proxy_publishes_a_port_and_everything_else_is_on_the_internal_network(
    compose: dict[str, Any],
) -> None:
    assert compose["networks"]["internal"]["internal"] is True
    assert not compose["networks"]["edge"]
    assert _published_https_port(compose) == 8443
    assert sorted(compose["services"][PROXY]["networks"]) == ["edge", "internal"]
    for name, service in compose["services"].items():
        if name == PROXY:
            continue
        assert "ports" not in service, f"{name} publishes a port: only the proxy may"
        if name == "keys":  # it holds the private key and talks to nobody
            assert service["network_mode"] == "none"
        else:
            assert service["networks"] == ["internal"], name


def test_no_password_is_in_any_environment_and_every_service_reads_it_from_the_secret(
    compose: dict[str, Any],
) -> None:
    assert compose["secrets"]["db_password"] == {"file": "./secrets/db_password"}
    assert "POSTGRES_PASSWORD}" not in COMPOSE_FILE.read_text()
    for name, service in compose["services"].items():
        for variable, value in _environment(service).items():
            value = str(value)
            assert ":${POSTGRES_PASSWORD" not in value, f"{name}: {variable}"
            assert ":password@" not in value, f"{name}: {variable}"
            if "://" in value:
                assert urlsplit(_interpolate(value)).password is None, f"{name}: {variable} holds a password"
    postgres = compose["services"]["postgres"]
    assert _environment(postgres)["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "POSTGRES_PASSWORD" not in _environment(postgres)
    assert postgres["secrets"] == ["db_password"]
    for name in SERVICES:
        service = compose["services"][name]
        password_file = _environment(service)[f"EKTP_{name.upper()}_DATABASE_PASSWORD_FILE"]
        assert password_file.removeprefix("/run/secrets/") in service["secrets"], name
        assert password_file.removeprefix("/run/secrets/") in compose["secrets"]


def test_each_calling_service_mounts_only_its_own_service_token(compose: dict[str, Any]) -> None:
    services = compose["services"]
    token_volumes = {volume for volume in compose["volumes"] if volume.startswith("token-")}
    assert token_volumes == {f"token-{name}" for name in SERVICES}
    mounted_by: dict[str, list[str]] = {volume: [] for volume in token_volumes}
    for name, service in services.items():
        if name == "keys":  # it mints them
            continue
        for source, target, read_only in _mounts(service):
            if source in token_volumes:
                mounted_by[source].append(name)
                assert read_only, f"{name} mounts {source} writable"
                token_file = _environment(service)[f"EKTP_{name.upper()}_SERVICE_TOKEN_FILE"]
                assert token_file.startswith(target + "/"), f"{name}: its token file is not in {source}"
    assert mounted_by == {f"token-{name}": [name] for name in SERVICES}


def test_the_keys_job_mints_each_token_for_its_caller_into_that_callers_volume(compose: dict[str, Any]) -> None:
    keys = compose["services"]["keys"]
    script = " ".join(keys["command"][2:])
    mounts = {source: target for source, target, _ in _mounts(keys)}
    tokens = [args for args in map(_parse, _ektp_invocations(keys["command"])) if args.command == "token"]
    assert sorted(args.subject for args in tokens) == sorted(SERVICES)
    for args in tokens:
        assert args.role == Role.SERVICE.value
        assert parse_duration(args.ttl) <= MAX_TTL[Role.SERVICE]
        # Written beside the token file, then renamed over it: a running service never reads half a token.
        written = re.findall(rf"--subject {args.subject} [^>]*> (\S+);", script)
        assert written == [f"{mounts[f'token-{args.subject}']}/new"], f"the {args.subject} token lands in {written}"
        token_file = _environment(compose["services"][args.subject])[f"EKTP_{args.subject.upper()}_SERVICE_TOKEN_FILE"]
        assert token_file == f"/tokens/{args.subject}/{args.subject}.token"
    assert "mv /tokens/$$caller/new /tokens/$$caller/$$caller.token" in script
    assert "chown 0:10001 /tokens/$$caller/new; chmod 0640 /tokens/$$caller/new;" in script


def test_the_public_key_and_the_revocation_list_reach_every_service_read_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert ("keys-public", "/shared", False) in _mounts(services["keys"])
    for name in SERVICES:
        assert ("keys-public", "/shared", True) in _mounts(services[name]), name
        env = _environment(services[name])
        assert env[f"EKTP_{name.upper()}_JWT_PUBLIC_KEY_FILE"] == "/shared/jwt-public.pem"
        assert env[f"EKTP_{name.upper()}_REVOKED_TOKENS_FILE"] == "/shared/revoked-tokens.jsonl"


def test_the_documented_revoke_command_writes_the_list_the_services_read(compose: dict[str, Any]) -> None:
    documented = re.findall(r"docker compose run --rm keys (ektp token revoke .*)", COMPOSE_FILE.read_text())
    assert documented
    for line in documented:
        args = _parse(shlex.split(line)[1:])
        assert str(args.file) == "/shared/revoked-tokens.jsonl"


def test_the_proxy_routes_each_prefix_to_its_service_and_refuses_metrics() -> None:
    routes = _caddy_routes()
    assert routes == {
        "/api/request/*": "request:8001",
        "/api/inventory/*": "inventory:8002",
        "/api/gateway/*": "gateway:8003",
        "/console*": "request:8001",
    }
    text = CADDYFILE.read_text()
    for prefix in ("/api/request/*", "/api/inventory/*", "/api/gateway/*"):
        assert f"handle_path {prefix} {{" in text, f"{prefix} is not stripped before the service sees it"
    assert re.search(r"^\s*redir / /console/", text, re.MULTILINE)
    # /metrics under any prefix, refused before any route is tried (a `route` block keeps the written order).
    assert re.search(r"^\s*@metrics path \*/metrics \*/metrics/\*$", text, re.MULTILINE)
    route = text[text.index("route {") :]
    assert route.index("respond @metrics 404") < route.index("handle_path")
    assert "tls {$EKTP_TLS:internal}" in text
    assert re.search(r"Strict-Transport-Security \"max-age=\d+", text)
    assert "X-Content-Type-Options nosniff" in text


def test_each_service_knows_the_prefix_the_proxy_strips_so_its_api_page_works_there(compose: dict[str, Any]) -> None:
    routes = _caddy_routes()
    for service in ("request", "inventory", "gateway"):
        prefix = f"/api/{service}"
        assert routes[f"{prefix}/*"].startswith(f"{service}:")
        assert compose["services"][service]["environment"][f"EKTP_{service.upper()}_ROOT_PATH"] == prefix


def test_the_proxy_is_given_the_caddyfile_and_every_variable_it_reads(compose: dict[str, Any]) -> None:
    proxy = compose["services"][PROXY]
    assert ("./deploy/caddy/Caddyfile", "/etc/caddy/Caddyfile", True) in _mounts(proxy)
    assert "/data" in {target for _, target, _ in _mounts(proxy)}  # its internal CA survives a restart
    placeholders = set(re.findall(r"\{\$(\w+)", CADDYFILE.read_text()))
    assert placeholders == set(_environment(proxy))


def test_the_console_reaches_every_api_through_the_proxy(compose: dict[str, Any]) -> None:
    origin = f"https://localhost:{_published_https_port(compose)}"
    request_env = _environment(compose["services"]["request"])
    routes = _caddy_routes()
    for service_name in SERVICES:
        url = _interpolate(request_env[f"EKTP_REQUEST_CONSOLE_{service_name.upper()}_URL"])
        assert url == f"{origin}/api/{service_name}"
        assert routes[urlsplit(url).path + "/*"] == f"{service_name}:{DEFAULT_PORTS[service_name]}"
        cors = _environment(compose["services"][service_name])[f"EKTP_{service_name.upper()}_CORS_ORIGINS"]
        assert json.loads(_interpolate(cors)) == [origin]


def test_the_services_take_the_client_address_from_the_proxy_and_only_the_internal_network_reaches_them(
    compose: dict[str, Any],
) -> None:
    # Rate limits key anonymous callers by address: without this every caller would be the proxy's one address.
    for name in ("request", "inventory", "gateway"):
        service = compose["services"][name]
        assert _environment(service).get("FORWARDED_ALLOW_IPS") == "*", name
        assert set(service["networks"]) == {"internal"}, name
        assert "ports" not in service, name
    assert compose["networks"]["internal"]["internal"] is True


def test_the_readme_compose_steps_are_a_script_the_compose_test_can_run(compose: dict[str, Any]) -> None:
    """tests/system/test_compose_up.py runs the README's compose block as written; what it relies on, checked
    here without Docker: the `up` it splits at, a `$TOKEN`, no terminal needed, commands compose v1 has, every
    `ektp` command valid, and a first tranche of exactly the serials the emulators hold."""
    from tests.system.test_compose_up import readme_compose_steps

    before_up, after_up = readme_compose_steps()
    assert before_up[-1].startswith("docker compose up -d --build")
    script = "\n".join([*before_up, *after_up])
    assert re.search(r"^TOKEN=\$\(docker compose run ", script, re.MULTILINE)
    assert "docker compose cp " not in script, "compose v1 (Debian bookworm's) has no cp: use docker cp"
    for run in re.findall(r"docker compose run [^|;)]*", script):
        assert " -T " in run, f"a script has no terminal: {run}"
        assert " --rm " in run, f"leaves a container behind: {run}"
    commands = [re.sub(r"\s+# .*$", "", line) for line in script.splitlines()]  # trailing comments
    invocations = [part for line in commands for part in re.findall(r"\bektp [^|;)&]*", line)]
    assert len(invocations) >= 2
    for argv in (shlex.split(part)[1:] for part in invocations):
        try:
            _parse(argv)
        except SystemExit as exc:
            pytest.fail(f"`ektp {' '.join(argv)}` in the README does not parse ({exc})")
    ranges = re.findall(r'\{"first": "(KTP\d{8})", "last": "(KTP\d{8})"\}', script)
    serials = [
        tuple(_parse(_ektp_invocations(compose["services"][name]["command"])[0]).serials.split("-"))
        for name in ("emulator-1", "emulator-2")
    ]
    assert ranges == [(min(s[0] for s in serials), max(s[1] for s in serials))]
