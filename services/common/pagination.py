"""Offset pagination shared by every list endpoint: ``?limit=&offset=`` in, ``{items, total, ...}`` out;
``paginate`` is the one query tail (count, order, slice) every repository's list uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

__all__ = ["Page", "PageParams", "paginate", "where_given"]

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


def where_given(
    query: Select[Any], filters: Sequence[tuple[ColumnElement[Any] | QueryableAttribute[Any], object]]
) -> Select[Any]:
    """``query`` narrowed to ``column == value`` for each filter whose value was given (not None)."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


async def paginate(
    session: AsyncSession, query: Select[Any], *order_by: Any, limit: int, offset: int
) -> tuple[Sequence[Any], int]:
    """One page of ``query``'s rows in ``order_by`` order, and how many rows match in all.

    (``Select[Any]``: SQLAlchemy 2.0 and 2.1 spell a one-entity select's type differently.)"""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.scalars(query.order_by(*order_by).limit(limit).offset(offset))
    return rows.all(), int(total or 0)
