"""Re-sealing photos and signatures under the current data key: the database half of ``ektp keys rotate-data``.

Rotation (services/ops/data_keys.py drives it):

1. ``keys.add_key``: a new key, current; the old ones stay in the file.
2. Wait past the services' re-read interval (a second): from then on every write seals under the new key, and
   every reader holds both, so nothing stops meanwhile.
3. ``reseal``: every row whose ``data_key_id`` is not the current key (NULL too: plain rows written before
   encryption) is opened and sealed again, a page at a time, one transaction a page. Each UPDATE names the key
   it read under, so a row the service changed meanwhile is left alone and looked at again in the next pass.
   Passes repeat until only rows that do not open are left (they are named, never overwritten).
4. ``keys.drop_keys`` with ``used_key_ids``: the keys no row uses leave the file (``--retire``). The partners'
   webhook secrets, sealed with the same keys, are sealed again with the current key in step 3 too.

Purged rows (empty images, ``images_purged_at`` set) hold nothing to seal and are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select, update

from services.common.audit import Auditor
from services.common.auth import Principal, Role
from services.common.db import Database
from services.request.models import AuditEvent, PrintRequest
from services.request.partners import secrets as partner_secrets
from services.request.partners.models import PartnerSecret
from services.request.privacy.keys import IMAGE_FIELDS, Keyring, SealedDataError

__all__ = ["ROTATOR", "ResealReport", "pending", "reseal", "reseal_partner_secrets", "used_key_ids"]

ROTATOR = Principal(subject="ektp keys rotate-data", role=Role.ADMIN)


@dataclass
class ResealReport:
    resealed: int = 0
    raced: int = 0  # changed by the service between read and write: taken again by the next pass
    unreadable: list[str] = field(default_factory=list)  # request ids whose images do not open
    passes: int = 0


def _not_current(current: str) -> tuple[ColumnElement[bool], ...]:
    return (
        or_(PrintRequest.data_key_id.is_(None), PrintRequest.data_key_id != current),
        PrintRequest.images_purged_at.is_(None),
    )


async def pending(db: Database, current: str) -> int:
    """Rows (not purged) not yet sealed under ``current``."""
    async with db.read_sessions() as session:
        query = select(func.count()).select_from(PrintRequest).where(*_not_current(current))
        return int(await session.scalar(query) or 0)


async def used_key_ids(db: Database) -> set[str]:
    """Every key some row is sealed under (requests' images, partners' webhook secrets)."""
    async with db.read_sessions() as session:
        query = select(PrintRequest.data_key_id).where(PrintRequest.data_key_id.is_not(None)).distinct()
        used = {key_id for key_id in (await session.scalars(query)).all() if key_id is not None}
        partners = select(PartnerSecret.key_id).where(PartnerSecret.key_id.is_not(None)).distinct()
        return used | {key_id for key_id in (await session.scalars(partners)).all() if key_id is not None}


async def reseal_partner_secrets(db: Database, keyring: Keyring) -> int:
    """The partners' webhook secrets sealed under an older key, sealed again under the current one (a handful)."""
    current = keyring.current_id
    async with db.transaction() as session:
        query = select(PartnerSecret).where(PartnerSecret.sealed.is_not(None), PartnerSecret.key_id != current)
        rows = (await session.scalars(query.with_for_update())).all()
        for row in rows:
            secret = partner_secrets.open_(keyring, row.partner_id, row.sealed or b"", row.key_id)
            row.sealed, row.key_id = partner_secrets.seal(keyring, row.partner_id, secret)
        return len(rows)


async def _one_page(
    db: Database, keyring: Keyring, current: str, after: str, page: int, report: ResealReport
) -> tuple[str | None, int]:
    """Re-seal one page of rows with ids after ``after``; the last id seen (None: no rows left) and the count."""
    async with db.transaction() as session:
        rows = (
            await session.execute(
                select(PrintRequest.id, PrintRequest.data_key_id, PrintRequest.photo, PrintRequest.signature)
                .where(*_not_current(current), PrintRequest.id > after)
                .order_by(PrintRequest.id)
                .limit(page)
            )
        ).all()
        done = 0
        for request_id, old_key, *images in rows:
            try:
                values: dict[str, object] = {
                    name: keyring.open(image, request_id=request_id, field=name, key_id=old_key)
                    for name, image in zip(IMAGE_FIELDS, images, strict=True)
                }
            except SealedDataError:
                if request_id not in report.unreadable:
                    report.unreadable.append(request_id)
                continue
            values["id"] = request_id
            keyring.seal_images(values)
            result = await session.execute(
                update(PrintRequest)
                .where(
                    PrintRequest.id == request_id,
                    PrintRequest.data_key_id.is_not_distinct_from(old_key),
                    PrintRequest.images_purged_at.is_(None),
                )
                .values(photo=values["photo"], signature=values["signature"], data_key_id=values["data_key_id"])
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                done += 1
            else:
                report.raced += 1
    report.resealed += done
    return (rows[-1][0] if rows else None), done


async def reseal(
    db: Database,
    keyring: Keyring,
    *,
    page: int = 500,
    max_passes: int = 10,
    progress: Callable[[int], None] | None = None,
) -> ResealReport:
    """Seal every row not under the keyring's current key under it; ``progress(rows)`` after each page.

    Ends when a pass leaves only unreadable rows, or after ``max_passes`` (a service still writing under the old
    key, e.g. one that cannot re-read its keys file); ``pending`` then says what is left."""
    report = ResealReport()
    current = keyring.current_id
    while report.passes < max_passes:
        report.passes += 1
        after: str | None = ""
        in_pass, raced = 0, report.raced
        while after is not None:
            after, done = await _one_page(db, keyring, current, after, page, report)
            in_pass += done
            if progress is not None and done:
                progress(done)
        if await pending(db, current) <= len(report.unreadable) or (in_pass == 0 and report.raced == raced):
            break
    report.resealed += await reseal_partner_secrets(db, keyring)
    if report.resealed or report.unreadable:
        async with db.transaction() as session:
            Auditor(AuditEvent).record(
                session,
                ROTATOR,
                "privacy.images_resealed",
                "print_requests",
                f"data key {current}",
                after={"resealed": report.resealed, "unreadable": report.unreadable[:100], "data_key_id": current},
            )
    return report
