"""The path a service routes on: behind a proxy that strips a prefix (compose: ``/api/request``), uvicorn puts
that prefix (``root_path``) back in front of ``scope["path"]``, so a middleware that matched ``scope["path"]`` against
``/v1/batches`` or ``/healthz`` would miss. Starlette strips it the same way before routing."""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["route_path"]


def route_path(scope: Scope) -> str:
    """``scope``'s path without its ``root_path`` (as the router sees it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path
