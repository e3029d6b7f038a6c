"""``/healthz`` (the process is up), ``/readyz`` (its database answers) and Prometheus ``/metrics``.

These three need no token. Each app gets its own metrics registry, so several apps in one test process do
not share counters. ``/readyz`` is open to anyone who can reach the port: it says in our own words which
dependency does not answer, and leaves the driver's error (its class, host and message) to the log.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import ServiceUnavailable

__all__ = ["Metrics", "install_observability"]

log = logging.getLogger(__name__)


class Metrics:
    """The HTTP metrics of one app, in a registry of its own that services may add to."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
        )
        self.service = service


def _route_template(request: Request) -> str:
    # The router leaves the matched route in the scope: label by its template, never by the raw path
    # (which may carry a NIK and would make one time series per request).
    return str(getattr(request.scope.get("route"), "path", "unmatched"))


class _MeasureMiddleware:
    """Counts and times every HTTP request by method, route template and status.

    A plain ASGI middleware (not ``@app.middleware("http")``, whose ``BaseHTTPMiddleware`` runs every request
    in an extra task with memory streams between them): it only watches ``http.response.start`` go by. The
    router leaves the matched route in the scope it was given, so the template is known once the app returns.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            metrics, service = self.metrics, self.metrics.service
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            method = scope.get("method", "")
            metrics.requests.labels(service, method, route, str(status)).inc()
            metrics.latency.labels(service, method, route).observe(time.perf_counter() - started)


def install_observability(app: FastAPI, service: str) -> Metrics:
    metrics = Metrics(service)
    app.state.metrics = metrics
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="The service and its database answer")
    async def readyz(request: Request) -> dict[str, str]:
        try:
            await request.app.state.db.ping()
        except Exception as exc:
            log.warning("not ready: the database does not answer: %s: %s", type(exc).__name__, exc)
            raise ServiceUnavailable(
                "the database does not answer", kind="not-ready", checks={"database": "does not answer"}
            ) from None
        return {"status": "ready", "service": service}

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)

    app.add_middleware(_MeasureMiddleware, metrics=metrics)

    return metrics
