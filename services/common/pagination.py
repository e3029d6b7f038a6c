"""Offset pagination shared by every list endpoint: ``?limit=&offset=`` in, ``{items, total, ...}`` out."""

from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

__all__ = ["Page", "PageParams"]

T = TypeVar("T")


class PageParams:
    """``limit`` (1–500, default 50) and ``offset``, as query parameters."""

    def __init__(
        self,
        limit: int = Query(50, ge=1, le=500, description="Items per page"),
        offset: int = Query(0, ge=0, le=1_000_000_000, description="Items to skip"),
    ) -> None:
        self.limit = limit
        self.offset = offset


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
