"""The access log and a resident's own data (admin)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["personal data"])
