"""Each service's OpenAPI document, fit for generated clients (partner systems generate theirs from it).

``build_app`` makes ``operation_id`` the app's ``generate_unique_id_function`` and calls ``install_openapi``,
which reworks FastAPI's document once, the first time it is asked for:

- ``operationId``: the route function's name in camelCase (``createRequest``). Two operations of one app with
  the same id fail the document (``DuplicateOperationId``), where FastAPI would only warn.
- Errors: every 4xx/5xx is ``application/problem+json`` with the ``Problem`` schema (no ``HTTPValidationError``),
  and each operation lists only what it can answer: what it declares (``problem_responses``), the problems its
  endpoint function raises itself (read from its source), and what the shared machinery gives it — 400 a body
  (one that does not parse); 401 an ``Authorize`` dependency, or a body (POST, PUT, PATCH, DELETE) outside the
  public paths (``GuardBodies`` checks the token first); 403 an ``Authorize`` (its role check, or the scope
  checks behind it); 404 a path parameter; 409 a change with a body or a path parameter, outside the public
  paths; 413 a body method (over the route's limit); 422 parameters or a body, never without; 429 any path the
  rate limits cover (``services.common.ratelimit``); 503 the operation reaches the service's state through the
  request (a database session, the service's context, its peers), beyond the token check.
- ``Idempotency-Key`` is described where it is accepted (``services.common.idempotency``), and ``tags`` each have
  a sentence (``TAG_DESCRIPTIONS``).
- A JSON or form request body without an example gets one, made from its schema: a property's own ``examples``,
  else a sample for its name (``SAMPLES``), its default, its ``const`` or first ``enum`` value, or a value
  within its bounds; with the required properties and those with ``examples`` or a sample (else the first one).
  A value that does not fit its schema is never used: a string with a ``pattern`` and neither leaves its body
  without an example.
"""

from __future__ import annotations

import ast
import datetime as dt
import http
import inspect
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant

from services.common.auth import Authorize
from services.common.idempotency import IDEMPOTENCY_DESCRIPTION, IDEMPOTENCY_HEADER, MAX_KEY_LENGTH, REPLAY_HEADER
from services.common.problems import PROBLEM_DESCRIPTIONS, PROBLEM_JSON, PROBLEM_SCHEMA_REF, Problem, problem_schemas
from services.common.ratelimit import EXEMPT_PREFIXES

__all__ = ["SAMPLES", "TAG_DESCRIPTIONS", "DuplicateOperationId", "install_openapi", "operation_id"]

# One sentence per tag, in the office's terms; a tag an app uses without one here is listed bare (and fails
# tests/common/test_openapi_contract.py).
TAG_DESCRIPTIONS: dict[str, str] = {
    "health": "Whether the service is up and its database answers, for the proxy and monitoring (no token).",
    "requests": "Residents' e-KTP print requests: submit one (desk, kecamatan clerk or partner system), find and "
    "read them with their queue position and estimated print date, cancel or resolve them, activate a printed "
    "card, record its handover, or replace a card.",
    "cards": "The register of printed cards by serial: whether a card is still valid, and an old card "
    "surrendered at the office passed on for destruction.",
    "queue": "The print queue the printer gateway works through: claims with leases, its reports on each card "
    "(sent, printed, failed, needs review), the backlog and the fleet's throughput behind estimated dates.",
    "batches": "Proposals (usulan) uploaded by kecamatan as a file: every row checked, refused rows reported, "
    "and the office's decision to approve or reject them row by row.",
    "coverage": "e-KTP coverage per kecamatan and for the regency: residents obliged, recorded and holding a "
    "card, with the figures the office enters.",
    "regions": "The regency's kecamatan and desa with their codes, as requests and accounts name them.",
    "personal data": "Residents' personal data protection: who looked at whose record and why, and everything "
    "held about one NIK for the resident's right of access (admin).",
    "staff": "Office staff: sign in with a password for a day's token, sign out, and the admin's staff accounts "
    "with their roles and kecamatan.",
    "audit": "The service's tamper-evident audit trail of every change (a hash chain): read it, or export it to "
    "verify offline (admin).",
    "tranches": "Deliveries of blank cards (tranches) from the centre, by serial range: receive one and read "
    "them back.",
    "ledger": "The blank-card ledger by serial: stock on hand and its balance check, each blank's chain of "
    "custody and movements, blanks spoiled outside a print job, and the admin's write-offs and restores.",
    "reservations": "Blanks the printer gateway sets aside for its print jobs: reserve one, then consume, spoil, "
    "release or hold it (idempotent by job id).",
    "reorder": "Reordering blanks before they run out: the stock forecast and the reorder proposals, drafted, "
    "submitted, approved, shipped, closed or cancelled.",
    "reports": "The monthly spoilage report and the destruction minutes (berita acara pemusnahan) to print and sign.",
    "returned cards": "Old cards surrendered by residents, in the office's custody until destroyed before a witness.",
    "printers": "The office's card printers: register or remove one (admin), commission, pause or resume it, and "
    "read its state and supplies.",
    "partners": "Partner systems that submit requests by API and hear back by webhook: the admin registers them "
    "with their limits and callback, suspends or reactivates them and rotates their secrets, and a partner reads "
    "its own deliveries and asks for one again.",
    "sukets": "The Suket (surat keterangan pengganti KTP-el) a resident waiting for the card carries instead: "
    "issued and printed at the desk, withdrawn at the card's handover, kept in a register, and verified by anyone "
    "through its QR code.",
    "jobs": "Print jobs as the gateway runs them: read them with their journal, preview a card, cancel a job "
    "not yet sent, or say what came out of one whose outcome was unknown.",
    "mobile visits": "The mobile recording unit (e-Mobile KTP): residents obliged and recorded per desa, a plan of "
    "visits to the desa with the largest gaps, the visits the office confirms, their outcome and the print "
    "requests they bring back.",
}

_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
# Example values by property name, used where they fit the property's schema (and it has no ``examples``).
SAMPLES: dict[str, Any] = (
    # a resident: the NIK holds her birth date (digits 7-12, a woman's day + 40), kecamatan and desa codes
    {"nik": "1809015708050001", "sex": "F", "birth_date": "2005-08-17", "photo": _PNG, "signature": _PNG}
    | {"kecamatan_code": "18.09.01", "kecamatan": ["18.09.01"], "village_code": "18.09.01.2001"}
    # cards, blanks and the records that name them
    | {"serial": "KTP00000001", "card_serial": "KTP00000001", "first": "KTP00000001", "last": "KTP00008016"}
    | {"request_id": "3f0c9b2e-8d41-4c7a-9a55-1e2b7c6d4f80", "job_id": "job_5b1f0e7c9a2d4e3f8b6a1c0d9e8f7a6b"}
    | {"printer_id": "prn_5b1f0e7c9a2d4e3f", "name": "Loket 1", "lease_seconds": 120}
    # a printer the gateway refuses unless configured: a client trying the example never reaches a real device
    | {"url": "socket://10.0.0.21:9100"}
    | {"reference": "DUKCAPIL/BLANKO/2024/117", "received_on": "2024-05-17", "quantity": 5000}
    | {"received_at": "2024-05-17T09:30:00+07:00", "police_report": "LP/B/117/V/2024/SPKT"}
    | {"cards_per_hour": 40, "printers": 2, "obliged": 310000, "recorded": 295000}
    # people and what they write
    | {"received_by": "AGUS SETIAWAN", "witness": "DEWI LESTARI", "note": "noted by the officer on duty"}
    | {"reason": "the printer stopped with the card inside"}
    | {"grant_type": "password", "username": "siti.rahmawati", "password": "ganti-sandi-ini"}
    | {"full_name": "Siti Rahmawati", "role": "clerk"}  # a clerk, with the kecamatan above
)
_FORMATS = {"date": "2024-05-17", "date-time": "2024-05-17T09:30:00+07:00", "uri": "https://partner.example/ektp"}
_BODY_METHODS = frozenset({"post", "put", "patch", "delete"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_JSON = re.compile(r"^application/(.+\+)?json$")
# Descriptions that say nothing of the operation (FastAPI's, and reason phrases): replaced by PROBLEM_DESCRIPTIONS.
_GENERIC = {"", "Problem", "Validation Error", *(status.phrase for status in http.HTTPStatus)}
_MISSING: Any = object()


class DuplicateOperationId(RuntimeError):
    """Two operations of one app share an ``operationId`` (their functions share a name)."""


def operation_id(route: Any) -> str:
    """``create_request`` → ``createRequest``: the app's ``generate_unique_id_function``."""
    first, *rest = [part for part in re.split(r"[^0-9A-Za-z]+", route.name) if part] or ["operation"]
    return first[:1].lower() + first[1:] + "".join(part[:1].upper() + part[1:] for part in rest)


def install_openapi(app: FastAPI, *, public_paths: Iterable[str] = (), rate_limited: bool = True) -> None:
    """Make ``app.openapi()`` return the reworked document (module docstring); call it after the routers."""
    build = app.openapi
    public = frozenset(public_paths)
    app.webhooks.generate_unique_id_function = operation_id  # its own router, made with FastAPI's default

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        with warnings.catch_warnings():  # FastAPI's warning for a duplicate: ours is an error, naming both
            warnings.filterwarnings("ignore", message="Duplicate Operation ID")
            schema = build()
        _check_unique_ids(schema)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError", "ProblemBody"):
            schemas.pop(name, None)
        schemas.update(problem_schemas())
        routes = _routes(app)
        for section, path, method, operation in _operations(schema):
            if section == "paths":
                answers = _answers(method, path, operation, routes.get((method, path)), public, rate_limited)
                _document_errors(operation, answers)
                _document_idempotency(operation)
            else:  # a call this service makes (``app.webhooks``): what the receiver answers is its own affair
                operation.get("responses", {}).pop("422", None)
            _add_examples(operation, schemas)
        _describe_tags(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(``paths`` or ``webhooks``, path or name, method, operation) for each operation of the document."""
    for section in ("paths", "webhooks"):
        for path, item in schema.get(section, {}).items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    yield section, path, method, operation


def _describe_tags(schema: dict[str, Any]) -> None:
    """``tags``: each tag the operations use, in order of first use, with its sentence (``TAG_DESCRIPTIONS``)."""
    used = dict.fromkeys(tag for *_, operation in _operations(schema) for tag in operation.get("tags", ()))
    named = {tag["name"] for tag in schema.get("tags", [])}
    schema.setdefault("tags", []).extend(
        {"name": tag, **({"description": TAG_DESCRIPTIONS[tag]} if tag in TAG_DESCRIPTIONS else {})}
        for tag in used
        if tag not in named
    )


def _check_unique_ids(schema: dict[str, Any]) -> None:
    seen: dict[str, list[str]] = {}
    for _, path, method, operation in _operations(schema):
        seen.setdefault(operation.get("operationId", ""), []).append(f"{method.upper()} {path}")
    twice = "; ".join(f"{op_id}: {', '.join(where)}" for op_id, where in seen.items() if len(where) > 1)
    if twice:
        raise DuplicateOperationId(f"operationIds used twice (rename a route function): {twice}")


def _routes(app: FastAPI) -> dict[tuple[str, str], Any]:
    """Each documented (method, path) → its ``APIRoute`` (FastAPI ≥ 0.160 keeps included routers as contexts)."""
    iterate: Callable[[Any], Iterable[Any]] | None = getattr(routing, "iter_route_contexts", None)
    found: dict[tuple[str, str], Any] = {}
    for item in iterate(app.routes) if iterate else app.routes:
        route = getattr(item, "original_route", item)
        if isinstance(route, routing.APIRoute):
            path = getattr(item, "path_format", None) or route.path_format
            for method in getattr(item, "methods", None) or route.methods or ():
                found[(method.lower(), path)] = route
    return found


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The dependant and its dependencies, not looking inside ``Authorize`` (the token check)."""
    yield dependant
    for sub in dependant.dependencies:
        if isinstance(sub.call, Authorize):
            yield sub
        else:
            yield from _dependants(sub)


def _answers(
    method: str, path: str, operation: dict[str, Any], route: Any, public: frozenset[str], rate_limited: bool
) -> set[int]:
    """The problem statuses ``operation`` can answer (module docstring)."""
    declared = {int(status) for status in operation.get("responses", {}) if status[:1] in "45" and status.isdigit()}
    dependants = list(_dependants(route.dependant)) if route is not None else []
    authorizers = [d.call for d in dependants if isinstance(d.call, Authorize)]
    content = operation.get("requestBody", {}).get("content", {})
    parameters = [p for p in operation.get("parameters", ()) if p.get("in") == "path"]
    changes = method in _BODY_METHODS
    rules = {
        400: bool(content),
        401: bool(authorizers) or (changes and path not in public),
        403: bool(authorizers),
        404: bool(parameters),
        409: changes and path not in public and bool(content or parameters),
        413: changes,
        422: bool(operation.get("parameters") or content),
        429: rate_limited and not path.startswith(EXEMPT_PREFIXES),
        503: any(d.request_param_name for d in dependants),
    }
    raised = _raised(route.endpoint) if route is not None else set()
    answers = declared | raised | {status for status, applies in rules.items() if applies}
    return answers if rules[422] else answers - {422}  # invalid input needs input: never without


def _raised(endpoint: Any) -> set[int]:
    """The statuses of the problems ``endpoint`` raises in its own body (``raise Conflict(...)``)."""
    endpoint = inspect.unwrap(endpoint)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
    except (OSError, TypeError, SyntaxError):
        return set()  # no source to read (a compiled install): the rules alone
    calls = [node.exc.func for node in ast.walk(tree) if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)]
    names = [call.value if isinstance(call, ast.Attribute) else call for call in calls]  # Unprocessable.field(…)
    found = [getattr(endpoint, "__globals__", {}).get(name.id) for name in names if isinstance(name, ast.Name)]
    return {cls.status for cls in found if isinstance(cls, type) and issubclass(cls, Problem)}


def _document_errors(operation: dict[str, Any], answers: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    kept = {status: response for status, response in responses.items() if status[:1] not in "45"}
    content = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
    for status in sorted(answers):
        described = responses.get(str(status), {}).get("description", "")
        text = PROBLEM_DESCRIPTIONS.get(status, described or "Problem") if described in _GENERIC else described
        kept[str(status)] = {"description": text, "content": content}
    operation["responses"] = kept


def _document_idempotency(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", ()):
        if parameter.get("in") == "header" and parameter.get("name", "").lower() == IDEMPOTENCY_HEADER.lower():
            parameter["description"] = IDEMPOTENCY_DESCRIPTION
            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}
            parameter["example"] = "5f0c2a8e-4b1d-4c39-9e7a-2d61b0f3a9c4"
            replayed = {"description": "`true` on an answer replayed for a retry", "schema": {"type": "string"}}
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    response.setdefault("headers", {})[REPLAY_HEADER] = replayed


# ------------------------------------------------------------------------------------------ request examples
def _add_examples(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """An ``example`` for each JSON or form body that has none, when one that fits its schema can be made."""
    for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
        if "example" in media or "examples" in media or "schema" not in media:
            continue
        if media_type == _FORMS[0] or _JSON.search(media_type):
            value = _value(media["schema"], components, "", 0)
            if value is not _MISSING and _fits(value, media["schema"], components):
                media["example"] = value


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = {**components[schema["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _value(schema: dict[str, Any], components: dict[str, Any], name: str, depth: int) -> Any:
    schema = _resolve(schema, components)
    candidates = [*schema.get("examples", ())[:1], *([schema["example"]] if "example" in schema else [])]
    candidates += [SAMPLES[name]] if name in SAMPLES else []
    candidates += [schema["default"]] if schema.get("default") is not None else []
    for candidate in candidates:
        if _fits(candidate, schema, components):
            return candidate
    return _made(schema, components, depth) if depth < 10 else _MISSING


def _made(schema: dict[str, Any], components: dict[str, Any], depth: int) -> Any:
    if "const" in schema or schema.get("enum"):
        return schema["const"] if "const" in schema else schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            if _resolve(option, components).get("type") != "null":
                value = _value(option, components, "", depth + 1)
                if value is not _MISSING:
                    return value
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _made_object(schema, components, depth)
    if kind == "array":
        item = _value(schema["items"], components, "", depth + 1) if "items" in schema else _MISSING
        return [] if item is _MISSING else [item] * max(1, schema.get("minItems", 1))
    if kind == "string":
        if "pattern" in schema or schema.get("format") == "binary":
            return _MISSING  # no guess at a pattern: give the field ``examples``
        text = _FORMATS.get(schema.get("format", ""), "example").ljust(schema.get("minLength", 0), "x")
        return text[: schema["maxLength"]] if "maxLength" in schema else text
    if kind in ("integer", "number"):
        low = schema["minimum"] if "minimum" in schema else schema.get("exclusiveMinimum", 0) + 1
        number = min(low, schema.get("maximum", low))
        return int(number) if kind == "integer" else number
    return {"boolean": True, "null": None}.get(kind or "", _MISSING)


def _made_object(schema: dict[str, Any], components: dict[str, Any], depth: int) -> Any:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    chosen = [n for n, p in properties.items() if n in required or n in SAMPLES or "examples" in p or "example" in p]
    body: dict[str, Any] = {}
    for name in chosen or list(properties)[:1]:
        value = _value(properties[name], components, name, depth + 1)
        if value is _MISSING and name in required:
            return _MISSING
        if value is not _MISSING:
            body[name] = value
    return body


_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": int | float, "boolean": bool, "array": list}
_TYPES |= {"object": dict, "null": type(None)}


def _fits(value: Any, schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether ``value`` meets ``schema``'s keywords that request bodies use (tests check with jsonschema)."""
    schema = _resolve(schema, components)
    options = schema.get("anyOf", schema.get("oneOf"))
    if options is not None and not any(_fits(value, option, components) for option in options):
        return False
    if not all(_fits(value, s, components) for s in schema.get("allOf", ())):
        return False
    if ("const" in schema and value != schema["const"]) or ("enum" in schema and value not in schema["enum"]):
        return False
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if kinds and not any(isinstance(value, _TYPES[k]) and (k == "boolean") == isinstance(value, bool) for k in kinds):
        return False
    if isinstance(value, str):
        return _fits_string(value, schema)
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = schema.get("exclusiveMinimum", value - 1), schema.get("exclusiveMaximum", value + 1)
        return bool(schema.get("minimum", value) <= value <= schema.get("maximum", value) and low < value < high)
    if isinstance(value, list):
        within = schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value))
        return within and all(_fits(item, schema.get("items", {}), components) for item in value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        closed = schema.get("additionalProperties") is False and not value.keys() <= properties.keys()
        if closed or not set(schema.get("required", ())) <= value.keys():
            return False
        return all(_fits(v, properties[k], components) for k, v in value.items() if k in properties)
    return True


def _fits_string(value: str, schema: dict[str, Any]) -> bool:
    if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
        return False
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return False
    parse = {"date": dt.date.fromisoformat, "date-time": dt.datetime.fromisoformat}.get(schema.get("format", ""))
    try:
        return parse is None or bool(parse(value))
    except ValueError:
        return False
