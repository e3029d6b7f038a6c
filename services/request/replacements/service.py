"""Rules of replacements: a printed card that is damaged, lost or carries wrong data is replaced by a new request.

In one transaction: the old request becomes ``replaced`` (a final status: the partial unique index "one active
request per NIK" then lets exactly this new request in), its card's serial becomes invalid (``damaged``,
``lost`` or ``replaced``), and the new request is queued like any other with the resident's data — the old
request's fields, photo and signature, with ``changes`` applied for a data change — linked both ways
(``replaces`` / ``replaced_by``). Functions flush, never commit.

The old images are opened under the old request's id and sealed again under the new one (``create``). Once the
retention purge has emptied them, the replacement brings a new photo and signature in ``changes`` (any reason
may: they are the resident's pictures, not printed data to correct); without them, 422 naming
``changes.photo`` / ``changes.signature``.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.problems import FieldError, NotFound, Unprocessable
from services.common.states import check_transition
from services.request.cards import service as cards
from services.request.cards.states import CardStatus
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.print_requests import repository
from services.request.print_requests import service as requests
from services.request.print_requests.schemas import CardFields, Priority, Reason, RequestIn
from services.request.print_requests.states import TRANSITIONS, RequestStatus
from services.request.print_requests.validation import check_request
from services.request.print_requests.views import images_unreadable
from services.request.privacy.keys import IMAGE_FIELDS, SealedDataError
from services.request.replacements.schemas import ReplacementIn, ReplacementReason

__all__ = ["CHANGEABLE", "replace"]

# What a data change may correct: every printed field but the NIK (another NIK is another resident's request).
CHANGEABLE = (frozenset(CardFields.model_fields) - {"nik"}) | {"photo", "signature"}

# The new request's reason, as any request gives it (regular: queued by the usual priority rules).
REQUEST_REASON = {
    ReplacementReason.DAMAGED: Reason.DAMAGED_CARD,
    ReplacementReason.LOST: Reason.LOST_CARD,
    ReplacementReason.DATA_CHANGE: Reason.DATA_CORRECTION,
}

# What the old card's serial becomes.
CARD_STATUS = {
    ReplacementReason.DAMAGED: CardStatus.DAMAGED,
    ReplacementReason.LOST: CardStatus.LOST,
    ReplacementReason.DATA_CHANGE: CardStatus.REPLACED,
}


def _check_body(body: ReplacementIn, context: ServiceContext) -> None:
    if (
        body.reason is ReplacementReason.LOST
        and context.settings.lost_card_police_report_required
        and not (body.police_report or "").strip()
    ):
        raise Unprocessable.field("police_report", "required for a lost card (the police report's reference)")
    if body.reason is ReplacementReason.DATA_CHANGE and not body.changes:
        raise Unprocessable.field("changes", "a data change names the corrected fields")
    if body.reason is not ReplacementReason.DATA_CHANGE and set(body.changes or ()) - set(IMAGE_FIELDS):
        raise Unprocessable.field("changes", "only a data change corrects fields (any replacement may bring images)")


def _named(field: str, changes: dict[str, Any]) -> str:
    """An error's field as the caller sent it: ``changes.<field>`` for a corrected field."""
    return f"changes.{field}" if field in changes else field


def _old_images(old: PrintRequest, changes: dict[str, Any], context: ServiceContext) -> dict[str, bytes]:
    """The old request's photo and signature as submitted (b"" once purged).

    One that ``changes`` does not replace must be there: 422 naming ``changes.<field>`` when it was purged, 409
    ``images-unreadable`` when it does not open."""
    images: dict[str, bytes] = {}
    missing: list[FieldError] = []
    for name in IMAGE_FIELDS:
        try:
            images[name] = context.keyring.open(
                getattr(old, name), request_id=old.id, field=name, key_id=old.data_key_id
            )
        except SealedDataError as exc:
            if name not in changes:
                raise images_unreadable(exc) from None
            images[name] = b""  # replaced anyway
        if not images[name] and name not in changes:
            reason = f"the old request's {name} was emptied after the retention period: bring a new one"
            missing.append(FieldError(field=f"changes.{name}", reason=reason))
    if missing:
        raise Unprocessable("; ".join(f"{e.field}: {e.reason}" for e in missing), kind="validation", errors=missing)
    return images


def _new_request(
    old: PrintRequest, old_images: dict[str, bytes], body: ReplacementIn, context: ServiceContext
) -> RequestIn:
    """The replacement's body: the old request's data with ``changes``, checked as a new request is (422)."""
    changes = body.changes or {}
    errors = [
        FieldError(
            field=f"changes.{name}",
            reason="the NIK does not change on a replacement" if name == "nik" else "not a field a replacement changes",
        )
        for name in changes
        if name not in CHANGEABLE
    ]
    if errors:
        raise Unprocessable("; ".join(f"{e.field}: {e.reason}" for e in errors), kind="validation", errors=errors)
    # An urgent card that never left the office keeps its urgency; otherwise the usual regular reason.
    keep_urgency = old.priority == Priority.URGENT.value and old.status != RequestStatus.COLLECTED.value
    values: dict[str, Any] = {name: getattr(old, name) for name in CardFields.model_fields}
    values.update(
        {name: base64.b64encode(image).decode() for name, image in old_images.items()},
        reason=old.reason if keep_urgency else REQUEST_REASON[body.reason].value,
        reason_note=old.reason_note if keep_urgency else body.note,
        channel=old.channel,
        old_ktp_seen=old.old_ktp_seen,
        kk_copy_seen=old.kk_copy_seen,
    )
    values.update(changes)
    try:
        data = RequestIn.model_validate(values)
    except ValidationError as exc:
        errors = [
            FieldError(field=_named(".".join(str(p) for p in e["loc"]), changes), reason=e["msg"]) for e in exc.errors()
        ]
        raise Unprocessable(
            "; ".join(f"{e.field}: {e.reason}" for e in errors), kind="validation", errors=errors
        ) from None
    checked, problems = check_request(data, catalog=context.catalog, settings=context.settings, today=context.today())
    if checked is None:
        errors = [FieldError(field=_named(e.field, changes), reason=e.reason) for e in problems]
        raise Unprocessable("; ".join(f"{e.field}: {e.reason}" for e in errors), kind="validation", errors=errors)
    return data


def _corrections(
    old: PrintRequest, old_images: dict[str, bytes], data: RequestIn, changes: dict[str, Any]
) -> dict[str, Any]:
    """Before and after of each corrected field, for the audit trail (images: only that they changed)."""
    corrected: dict[str, Any] = {}
    for name in sorted(changes):
        if name in IMAGE_FIELDS:
            if base64.b64decode(getattr(data, name)) != old_images[name]:
                corrected[name] = {"changed": True}
            continue
        before, after = getattr(old, name), getattr(data, name)
        if str(before) != str(after):
            corrected[name] = {"before": str(before), "after": str(after)}
    return corrected


async def replace(
    session: AsyncSession, context: ServiceContext, principal: Principal, request_id: str, body: ReplacementIn
) -> dict[str, Any]:
    """End request ``request_id`` as ``replaced``, invalidate its card, queue the replacement; its stored values.

    409 ``invalid-transition`` unless the old request is printed, activated or collected; 422 naming
    ``police_report`` (lost, when required), ``changes`` or ``changes.<field>``; 409 ``duplicate-nik`` when the
    NIK already has another active request (outside this chain)."""
    old = await repository.get(session, request_id, for_update=True)
    if old is None:
        raise NotFound(f"no request {request_id}", kind="request-not-found")
    requests.readable(principal, old)
    check_transition(TRANSITIONS, RequestStatus(old.status), RequestStatus.REPLACED, thing="request")
    _check_body(body, context)
    old_images = _old_images(old, body.changes or {}, context)
    data = _new_request(old, old_images, body, context)
    card = await cards.of_request(session, context, principal, old)

    before = requests.audit_state(old)
    corrections = _corrections(old, old_images, data, body.changes or {})
    requests.set_status(old, RequestStatus.REPLACED, context.clock(), body.note)
    await session.flush()  # the NIK's one active request is now free for the replacement
    created = await requests.create(session, context, principal, data, replaces=old.id)
    old.replaced_by = created["id"]
    await session.flush()
    if card is not None:
        await cards.invalidate(
            session, context, principal, card, CARD_STATUS[body.reason],
            replaced_by=created["id"], police_report=body.police_report, note=body.note,
        )  # fmt: skip
    context.auditor.record(
        session,
        principal,
        "request.replaced",
        "print_request",
        old.id,
        before=before,
        after=requests.audit_state(old)
        | {
            "replaced_by": old.replaced_by,
            "reason": body.reason.value,
            "police_report": body.police_report,
            "changes": corrections,
        },
    )
    return created
