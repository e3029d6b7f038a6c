"""What a print request looks like to its readers: the API's ``RequestOut`` and the card's ``CardData`` (with the
images only for the gateway's claim), from an ORM row or a plain row mapping."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.print_requests.schemas import CardData, QueueView, RequestOut, Sex
from services.request.queue.policy import due_at, is_overdue

__all__ = ["RequestLike", "as_row", "card_data", "to_out"]


class _Row:
    """A row mapping (``RETURNING``, or the values just inserted) read like a ``PrintRequest``: no ORM object
    to build for an answer. Columns the mapping lacks read as None, as they are stored."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[Any, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        return self._values.get(name)


RequestLike = PrintRequest | Mapping[Any, Any]


def as_row(request: RequestLike) -> Any:
    """``request`` itself, or a mapping wrapped to be read like one."""
    return _Row(request) if isinstance(request, Mapping) else request


def card_data(row: RequestLike, context: ServiceContext, *, images: bool = False) -> CardData:
    request = as_row(row)
    catalog = context.catalog
    village = catalog.villages.get(request.village_code)
    kecamatan = catalog.kecamatan.get(request.kecamatan_code)
    return CardData(
        nik=request.nik,
        name=request.name,
        birth_place=request.birth_place,
        birth_date=request.birth_date,
        sex=Sex(request.sex),
        blood_type=request.blood_type,
        address=request.address,
        rt=request.rt,
        rw=request.rw,
        village=village.name if village else "",
        village_code=request.village_code,
        kecamatan=kecamatan.name if kecamatan else "",
        kecamatan_code=request.kecamatan_code,
        regency=catalog.regency_name,
        province=catalog.province_name,
        religion=request.religion,
        marital_status=request.marital_status,
        occupation=request.occupation,
        citizenship=request.citizenship,
        valid_until=request.valid_until,
        photo=base64.b64encode(request.photo).decode() if images else None,
        signature=base64.b64encode(request.signature).decode() if images else None,
    )


def to_out(row: RequestLike, context: ServiceContext, queue: QueueView | None = None) -> RequestOut:
    request = as_row(row)
    settings = context.settings
    overdue = is_overdue(
        settings, reason=request.reason, status=request.status, created_at=request.created_at, now=context.clock()
    )
    return RequestOut.model_validate(
        {
            "id": request.id,
            "status": request.status,
            "status_note": request.status_note,
            "priority": request.priority,
            "reason": request.reason,
            "reason_note": request.reason_note,
            "channel": request.channel,
            "old_ktp_seen": request.old_ktp_seen,
            "kk_copy_seen": request.kk_copy_seen,
            "card": card_data(request, context),
            "attempts": request.attempts,
            "job_id": request.job_id,
            "printer_id": request.printer_id,
            "lease_expires_at": request.lease_expires_at,
            "card_serial": request.card_serial,
            "received_by": request.received_by,
            "batch_id": request.batch_id,
            "submitted_by": request.submitted_by,
            "created_at": request.created_at,
            "updated_at": request.updated_at,
            "printed_at": request.printed_at,
            "activated_at": request.activated_at,
            "collected_at": request.collected_at,
            "replaces": request.replaces,
            "replaced_by": request.replaced_by,
            "due_at": due_at(settings, reason=request.reason, created_at=request.created_at),
            "overdue": overdue,
            "queue": queue,
        }
    )
