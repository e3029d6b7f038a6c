"""What a print request looks like to its readers: the API's ``RequestOut`` and the card's ``CardData`` (with the
images only for the gateway's claim, opened from their sealed form), from an ORM row or a plain row mapping."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

from services.common.problems import Conflict, FieldError
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.print_requests.schemas import CardData, QueueView, RequestOut, Sex
from services.request.privacy.keys import SealedDataError
from services.request.queue.policy import due_at, is_overdue

__all__ = ["IMAGES_UNREADABLE", "RequestLike", "as_row", "card_data", "images_unreadable", "open_images", "to_out"]

log = logging.getLogger(__name__)


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


IMAGES_UNREADABLE = "images-unreadable"


def images_unreadable(error: SealedDataError) -> Conflict:
    """409 naming the request and the field whose sealed image does not open.

    Never a 500 and never a card without its picture: the claim is refused (nothing is printed) and the
    request service's log says which request, for an operator to cancel it or take a new photo (a replacement
    brings one). Opening fails only when the row was changed in the database or its key left the keys file."""
    log.error("sealed image does not open", extra={"request_id": error.request_id, "field": error.field})
    return Conflict(
        str(error),
        kind=IMAGES_UNREADABLE,
        request_id=error.request_id,
        errors=[FieldError(field=error.field, reason="the stored image does not open with the data keys")],
    )


def open_images(row: RequestLike, context: ServiceContext) -> tuple[bytes, bytes]:
    """The request's photo and signature as they were submitted (plain rows as stored; b"" once purged).

    ``SealedDataError`` when one does not open: callers turn it into a problem (``images_unreadable``)."""
    request = as_row(row)
    keyring, key_id = context.keyring, request.data_key_id
    photo = keyring.open(request.photo, request_id=request.id, field="photo", key_id=key_id)
    signature = keyring.open(request.signature, request_id=request.id, field="signature", key_id=key_id)
    return photo, signature


def card_data(row: RequestLike, context: ServiceContext, *, images: bool = False) -> CardData:
    """The printed fields; with ``images`` the opened photo and signature too (409 ``images-unreadable`` when they
    do not open, see ``images_unreadable``)."""
    request = as_row(row)
    photo: str | None = None
    signature: str | None = None
    if images:
        try:
            opened = open_images(request, context)
        except SealedDataError as exc:
            raise images_unreadable(exc) from None
        photo, signature = (base64.b64encode(image).decode() for image in opened)
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
        photo=photo,
        signature=signature,
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
            "batch_row": request.batch_row,
            "mobile_visit_id": request.mobile_visit_id,
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
