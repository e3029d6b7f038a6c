"""The three services' OpenAPI documents are fit for generated clients (partner systems generate theirs from
them): readable, unique operation ids; only the problem+json errors each operation can answer; a JWT bearer
scheme that says where a token comes from; described tags and Idempotency-Key; an example for every request
body that its own schema accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from services.common.app import build_app
from services.common.auth import KeyPair
from services.common.idempotency import IDEMPOTENCY_HEADER, MAX_KEY_LENGTH, IdempotencyKeys
from services.common.openapi import TAG_DESCRIPTIONS, DuplicateOperationId, operation_id
from services.common.problems import PROBLEM_JSON, Unprocessable
from services.gateway.app import create_app as gateway_app
from services.gateway.config import Settings as GatewaySettings
from services.inventory.app import create_app as inventory_app
from services.inventory.config import Settings as InventorySettings
from services.request.app import create_app as request_app
from services.request.config import Settings as RequestSettings

SERVICES: dict[str, tuple[Callable[..., FastAPI], type[Any]]] = {
    "request": (request_app, RequestSettings),
    "inventory": (inventory_app, InventorySettings),
    "gateway": (gateway_app, GatewaySettings),
}
PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# Every status the problem handlers and middleware answer with (services.common.problems, bodies, ratelimit).
PROBLEM_STATUSES = {"400", "401", "403", "404", "409", "413", "422", "429", "503"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, keys: KeyPair) -> dict[str, dict[str, Any]]:
    """Each service's document, as ``GET /openapi.json`` serves it (without a proxy in front)."""
    tmp_path = tmp_path_factory.mktemp("openapi")
    found = {}
    for service, (create_app, settings) in SERVICES.items():
        app = create_app(
            settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / f'{service}.db'}",
                jwt_public_key=keys.public_pem.decode(),
            )
        )
        found[service] = json.loads(json.dumps(app.openapi()))  # a copy: the tests never change the app's
    return found


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def every_operation(documents: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for service, document in documents.items():
        for method, path, operation in operations(document):
            yield service, method, path, operation


# ---------------------------------------------------------------------------------------------- operation ids
def test_operation_ids_are_the_route_functions_names_in_camel_case(documents: dict[str, dict[str, Any]]) -> None:
    ids = {(service, method, path): op["operationId"] for service, method, path, op in every_operation(documents)}
    assert ids["request", "POST", "/v1/requests"] == "createRequest"
    assert ids["request", "POST", "/v1/auth/token"] == "signIn"
    assert ids["inventory", "GET", "/v1/audit"] == "listAuditEvents"
    assert ids["gateway", "GET", "/healthz"] == "healthz"
    assert [i for i in ids.values() if not re.fullmatch(r"[a-z][A-Za-z0-9]*", i)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_each_apps_operation_ids_are_unique(documents: dict[str, dict[str, Any]], service: str) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(documents[service])]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [("create_request", "createRequest"), ("healthz", "healthz"), ("get_v2__thing", "getV2Thing"), ("x", "x")],
)
def test_an_operation_id_is_the_camel_case_of_the_functions_name(name: str, expected: str) -> None:
    route = type("Route", (), {"name": name})()
    assert operation_id(route) == expected


def test_two_routes_of_one_app_with_the_same_function_name_fail_the_document(tmp_path: Path, keys: KeyPair) -> None:
    def router(prefix: str) -> APIRouter:
        made = APIRouter(prefix=prefix, tags=["health"])

        @made.get("/thing")
        async def read_thing() -> dict[str, str]:
            return {}

        return made

    settings = InventorySettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", jwt_public_key=keys.public_pem.decode()
    )
    app = build_app(
        settings, service="x", title="x", description="x", database_url=settings.database_url,
        routers=[router("/v1/a"), router("/v1/b")],
    )  # fmt: skip
    with pytest.raises(DuplicateOperationId, match=r"readThing: GET /v1/a/thing, GET /v1/b/thing"):
        app.openapi()


class CardPrinted(BaseModel):
    request_id: str
    card_serial: str


def test_a_webhook_the_app_documents_gets_the_same_treatment(tmp_path: Path, keys: KeyPair) -> None:
    """A call the service makes (``app.webhooks``): a camelCase id, an example body, no FastAPI 422 schema."""
    settings = InventorySettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", jwt_public_key=keys.public_pem.decode()
    )
    app = build_app(settings, service="x", title="x", description="x", database_url=settings.database_url, routers=[])

    @app.webhooks.post("card-printed", tags=["requests"])
    async def card_printed(body: CardPrinted) -> None: ...

    document = app.openapi()
    operation = document["webhooks"]["card-printed"]["post"]
    assert operation["operationId"] == "cardPrinted"
    assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in json.dumps(document)
    example = operation["requestBody"]["content"]["application/json"]["example"]
    assert example == {"request_id": "3f0c9b2e-8d41-4c7a-9a55-1e2b7c6d4f80", "card_serial": "KTP00000001"}


# ----------------------------------------------------------------------------------------------------- errors
def test_every_error_is_a_problem_and_fastapis_validation_schemas_are_gone(
    documents: dict[str, dict[str, Any]],
) -> None:
    for service, method, path, operation in every_operation(documents):
        errors = {status: r for status, r in operation["responses"].items() if status[:1] in "45"}
        assert set(errors) <= PROBLEM_STATUSES, (service, method, path)
        for status, response in errors.items():
            assert response["content"] == PROBLEM, (service, method, path, status)
            assert response["description"], (service, method, path, status)
    for service, document in documents.items():
        schemas = document["components"]["schemas"]
        assert {"type", "title", "status", "detail", "errors"} <= schemas["Problem"]["properties"].keys(), service
        assert "FieldError" in schemas, service
        text = json.dumps(document)
        for gone in ("HTTPValidationError", "#/components/schemas/ValidationError", "ProblemBody"):
            assert gone not in text, (service, gone)


def test_422_only_where_there_are_parameters_or_a_body(documents: dict[str, dict[str, Any]]) -> None:
    for service, method, path, operation in every_operation(documents):
        takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
        assert ("422" in operation["responses"]) == takes_input, (service, method, path)


def test_every_protected_operation_lists_401_and_403_and_no_open_one_does(
    documents: dict[str, dict[str, Any]],
) -> None:
    protected = 0
    for service, method, path, operation in every_operation(documents):
        responses = operation["responses"]
        if any("HTTPBearer" in requirement for requirement in operation.get("security", ())):
            protected += 1
            assert {"401", "403"} <= responses.keys(), (service, method, path)
        elif method == "GET":
            assert not {"401", "403"} & responses.keys(), (service, method, path)
    assert protected > 80
    sign_in = documents["request"]["paths"]["/v1/auth/token"]["post"]
    # The form that gives a token asks for none (a partner may send its client credentials as HTTP Basic), and
    # refuses wrong credentials with 400 (RFC 6749 §5.2), never 401.
    assert all("HTTPBearer" not in requirement for requirement in sign_in.get("security", ()))
    assert {"400", "422", "429"} <= sign_in["responses"].keys()
    assert not {"401", "403", "409"} & sign_in["responses"].keys()
    for service, document in documents.items():
        assert [s for s in document["paths"]["/healthz"]["get"]["responses"] if s[:1] in "45"] == [], service
        assert "503" in document["paths"]["/readyz"]["get"]["responses"], service


def test_object_paths_answer_404_and_changes_409_and_413(documents: dict[str, dict[str, Any]]) -> None:
    for service, method, path, operation in every_operation(documents):
        responses = operation["responses"]
        if "{" in path:
            assert "404" in responses, (service, method, path)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            assert "413" in responses, (service, method, path)
            if path != "/v1/auth/token" and ("{" in path or operation.get("requestBody")):
                assert "409" in responses, (service, method, path)
        else:
            assert "413" not in responses, (service, method, path)


# --------------------------------------------------------------------------------------------- security, tags
def test_the_bearer_scheme_is_a_jwt_and_says_where_to_get_one(documents: dict[str, dict[str, Any]]) -> None:
    for service, document in documents.items():
        scheme = document["components"]["securitySchemes"]["HTTPBearer"]
        assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT"), service
        assert "Ed25519" in scheme["description"], service
        for said in ("POST /v1/auth/token", "grant_type=password", "grant_type=client_credentials", "expires_in"):
            assert said in scheme["description"], (service, said)


@pytest.mark.parametrize("service", SERVICES)
def test_every_tag_an_operation_uses_has_a_one_sentence_description(
    documents: dict[str, dict[str, Any]], service: str
) -> None:
    document = documents[service]
    used = {tag for _, _, operation in operations(document) for tag in operation.get("tags", ())}
    described = {tag["name"]: tag.get("description") for tag in document.get("tags", [])}
    missing = sorted(tag for tag in used if not described.get(tag))
    assert missing == [], f"add a sentence for each to TAG_DESCRIPTIONS in services/common/openapi.py: {missing}"
    for tag in used:
        assert described[tag] == TAG_DESCRIPTIONS[tag]
        assert described[tag].endswith("."), tag
        assert described[tag].count(". ") == 0, tag  # one sentence


# ----------------------------------------------------------------------------------------------- idempotency
def test_the_idempotency_key_is_described_with_its_semantics_and_limit(documents: dict[str, dict[str, Any]]) -> None:
    accepting = []
    for service, method, path, operation in every_operation(documents):
        for parameter in operation.get("parameters", ()):
            if parameter["name"].lower() != IDEMPOTENCY_HEADER.lower():
                continue
            accepting.append((service, method, path))
            assert parameter["in"] == "header"
            assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}
            for said in ("same key", "422", "409", "Idempotent-Replayed", str(MAX_KEY_LENGTH), "no expiry"):
                assert said in parameter["description"], (path, said)
            created = operation["responses"]["201"]
            assert "Idempotent-Replayed" in created["headers"], path
    assert ("request", "POST", "/v1/requests") in accepting
    assert ("request", "POST", "/v1/requests/{request_id}/replacements") in accepting


def test_the_documented_key_length_is_the_one_enforced() -> None:
    IdempotencyKeys.check_key("k" * MAX_KEY_LENGTH)
    for key in ("", "k" * (MAX_KEY_LENGTH + 1)):
        with pytest.raises(Unprocessable):
            IdempotencyKeys.check_key(key)


# -------------------------------------------------------------------------------------------------- examples
def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """Checks against ``schema``, its ``#/components/...`` references resolved in ``document``."""
    root = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_every_json_request_body_has_an_example_its_schema_accepts(documents: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for service, method, path, operation in every_operation(documents):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if media_type != "application/json" and "example" not in media:
                continue
            where = (service, method, path, media_type)
            examples = [media["example"]] if "example" in media else []
            examples += [e["value"] for e in media.get("examples", {}).values() if "value" in e]
            assert examples, f"no example: {where}"
            for example in examples:
                errors = [e.message for e in validator(documents[service], media["schema"]).iter_errors(example)]
                assert errors == [], (where, example)
            checked += 1
    assert checked > 30
    # The check is not vacuous: references resolve, and a body its schema refuses is refused.
    request_in = {"$ref": "#/components/schemas/RequestIn"}
    assert list(validator(documents["request"], request_in).iter_errors({"nik": "18090157"}))


def test_a_body_example_comes_from_the_fields_examples_where_they_fit(documents: dict[str, dict[str, Any]]) -> None:
    request_in = documents["request"]["paths"]["/v1/requests"]["post"]["requestBody"]["content"]["application/json"]
    schema = documents["request"]["components"]["schemas"]["RequestIn"]
    example = request_in["example"]
    assert set(schema["required"]) <= example.keys()
    for name, value in example.items():
        if "examples" in schema["properties"][name]:
            assert value == schema["properties"][name]["examples"][0], name
    # ClaimIn's job_id example ("job_3f2a…") does not match its own pattern: never used.
    claim = documents["request"]["paths"]["/v1/queue/claims"]["post"]["requestBody"]["content"]["application/json"]
    assert re.fullmatch(r"[A-Za-z0-9_.:\-]+", claim["example"]["job_id"])
