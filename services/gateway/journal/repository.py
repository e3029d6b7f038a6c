"""Queries on jobs and their journal."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.common.pagination import paginate
from services.gateway.journal.steps import JobState
from services.gateway.models import CARD_IMAGES, Job, JournalEntry

__all__ = ["delete_job", "drop_card_images", "get_job", "list_jobs", "unfinished_jobs"]


async def get_job(session: AsyncSession, job_id: str, *, with_journal: bool = False) -> Job | None:
    query = select(Job).where(Job.id == job_id)
    if with_journal:
        query = query.options(selectinload(Job.journal))
    return await session.scalar(query)


async def unfinished_jobs(session: AsyncSession, printer_id: str | None = None) -> Sequence[Job]:
    query = select(Job).where(Job.status == JobState.ACTIVE)
    if printer_id is not None:
        query = query.where(Job.printer_id == printer_id)
    return (await session.scalars(query.order_by(Job.created_at))).all()


def _filtered(printer_id: str | None, status: str | None, step: str | None, request_id: str | None) -> list[object]:
    conditions: list[object] = []
    if printer_id is not None:
        conditions.append(Job.printer_id == printer_id)
    if status is not None:
        conditions.append(Job.status == status)
    if step is not None:
        conditions.append(Job.step == step)
    if request_id is not None:
        conditions.append(Job.request_id == request_id)
    return conditions


async def list_jobs(
    session: AsyncSession,
    *,
    printer_id: str | None = None,
    status: str | None = None,
    step: str | None = None,
    request_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Job], int]:
    query = select(Job).where(*_filtered(printer_id, status, step, request_id))  # type: ignore[arg-type]
    return await paginate(session, query, Job.created_at.desc(), Job.id, limit=limit, offset=offset)


async def delete_job(session: AsyncSession, job_id: str) -> None:
    await session.execute(delete(JournalEntry).where(JournalEntry.job_id == job_id))
    await session.execute(delete(Job).where(Job.id == job_id))


async def drop_card_images(session: AsyncSession, job_id: str) -> None:
    """Rewrite the job's card without its photo and signature; its printed fields stay (preview, record)."""
    card = await session.scalar(select(Job.card).where(Job.id == job_id))
    if not card or not any(name in card for name in CARD_IMAGES):
        return
    kept = {name: value for name, value in card.items() if name not in CARD_IMAGES}
    await session.execute(
        update(Job).where(Job.id == job_id).values(card=kept).execution_options(synchronize_session=False)
    )
