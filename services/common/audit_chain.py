"""The audit trail's hash chain: how a row is hashed, how the database seals each new row, how a trail or an
export is verified. ``services.common.audit`` writes and serves the rows; ``ektp audit verify`` (services/ops/audit.py)
checks a database or an export.

``Auditor(AuditEvent).record(session, principal, ...)`` adds the row (some repositories write theirs with core
INSERTs, COPY or a one-statement CTE); ``audit_router(AuditEvent)`` gives admins ``GET /v1/audit`` and
``GET /v1/audit/export`` (JSON Lines or CSV, streamed, with the chain head); ``ektp audit verify`` checks a
database or an export (services/ops/audit.py).

The chain. Row ``seq`` n (1, 2, …) keeps ``prev_hash``, the ``hash`` of row n-1 (``GENESIS`` for row 1), and its
own ``hash``: SHA-256 (hex) of the canonical JSON — sorted keys, no whitespace, UTF-8, non-ASCII as is — of
``{action, actor, actor_role, after, at, before, object_id, object_type, prev_hash, seq}``, ``at`` written
``2026-11-29T04:40:00.000000Z`` (``event_hash``). ``verify_chain`` walks rows in ``seq`` order and names the
first that breaks it: content that no longer hashes to its ``hash`` (edited), a ``seq`` that skips (rows
removed) or a ``prev_hash`` that is not the previous row's ``hash``. Cutting off the newest rows leaves a
shorter valid chain: that shows only against a head (``seq``, ``hash``) kept from before.

Who seals: the database, so that every way of writing a row is covered; the migrations install it
(``install_chain``). The models leave the chain's columns unmapped (services.common.models): ``AUDIT_TABLE``
reads them.

- PostgreSQL: a deferred constraint trigger seals each new row as its transaction commits. It takes a
  transaction advisory lock keyed on the table, reads the head (a fresh snapshot: READ COMMITTED) and sets
  ``seq``, ``prev_hash`` and ``hash`` (``audit_event_hash``, the SQL twin of ``event_hash``). The lock is held
  until the commit is visible, so two transactions never chain onto the same row; being the transaction's
  last lock, it cannot deadlock with the business's row locks. The cost: one service's audited commits are
  serialized (their sealing and commit, not the rest of the transaction). The unique index on ``seq`` turns a
  fork (a REPEATABLE READ writer's stale head) into a failed commit instead of a silent one.
- SQLite serializes writers already (``BEGIN IMMEDIATE``): an AFTER INSERT trigger seals the row at once with
  ``audit_event_hash``, which is ``event_hash`` registered on every SQLite connection this process opens.
"""

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import Pool

from services.common.models import AuditEventMixin, UTCDateTime

__all__ = [
    "AUDIT_TABLE",
    "EXPORT_FIELDS",
    "GENESIS",
    "PAGE",
    "ChainBreak",
    "ChainReport",
    "ChainVerifier",
    "chain_head",
    "chain_record",
    "chain_records",
    "event_hash",
    "install_chain",
    "remove_chain",
    "verify_chain",
    "verify_trail",
]

GENESIS = "0" * 64  # the prev_hash of row 1
HASHED = ("seq", "at", "actor", "actor_role", "action", "object_type", "object_id", "before", "after", "prev_hash")
EXPORT_FIELDS = ("seq", "id", *HASHED[1:], "hash")  # a JSON Lines record's keys, the CSV's columns
PAGE = 500  # rows read per query by the export and by verify


# The audit table with the chain's columns, which the models leave unmapped (services.common.models); the same
# in every service. Verifying, exporting and the migration read it through this.
AUDIT_TABLE = sa.table(
    AuditEventMixin.__tablename__,
    sa.column("id", sa.BigInteger()),
    sa.column("at", UTCDateTime()),
    *(sa.column(name, sa.String()) for name in ("actor", "actor_role", "action", "object_type", "object_id")),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


# ---------------------------------------------------------------------------------------------- the hash
def canonical_at(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(record: Mapping[str, Any]) -> str:
    """The hash a row with ``record``'s content (``HASHED`` keys, ``at`` already canonical) must carry."""
    content = {key: record[key] for key in HASHED}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row (its columns by name) as the chain sees it and an export writes it: ``EXPORT_FIELDS``."""
    return {key: canonical_at(row["at"]) if key == "at" else row[key] for key in EXPORT_FIELDS}


# ---------------------------------------------------------------------------------------------- verifying
@dataclass(frozen=True)
class ChainBreak:
    """The first row that breaks the chain, and how."""

    id: int | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        if self.id is None and self.seq is None:  # the export as a whole: its trailer
            return self.problem
        return f"row id {self.id} (seq {self.seq}): {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    rows: int  # rows that hold, up to the break
    head_seq: int  # the last row that holds (0 and GENESIS for none)
    head_hash: str
    broken: ChainBreak | None = None


class ChainVerifier:
    """Checks rows one at a time, in ``seq`` order. ``complete=False`` (a filtered export, whose rows skip): a skip
    is no break, but the first is kept in ``first_gap``."""

    def __init__(self, *, complete: bool = True) -> None:
        self.complete = complete
        self.rows, self.seq, self.hash = 0, 0, GENESIS
        self.broken: ChainBreak | None = None
        self.first_gap: ChainBreak | None = None

    def check(self, record: Mapping[str, Any]) -> ChainBreak | None:
        """None while the chain holds; else the (first) break."""
        if self.broken is None:
            if (problem := self._problem(record)) is not None:
                self.broken = ChainBreak(record.get("id"), record.get("seq"), problem)
                return self.broken
            seq = record["seq"]
            if seq != self.seq + 1 and self.first_gap is None:
                self.first_gap = ChainBreak(record.get("id"), seq, self._gap(seq))
            self.rows, self.seq, self.hash = self.rows + 1, seq, record["hash"]
        return self.broken

    def _gap(self, seq: int) -> str:
        missing = str(self.seq + 1) if seq == self.seq + 2 else f"{self.seq + 1} to {seq - 1}"
        return f"seq {seq} follows seq {self.seq}: row seq {missing} was removed"

    def _problem(self, record: Mapping[str, Any]) -> str | None:
        if missing := [key for key in (*HASHED, "hash") if key not in record]:
            return f"no {', '.join(missing)}"
        seq, stored = record["seq"], record["hash"]
        if seq is None or stored is None:
            return "not sealed into the chain (no seq or hash)"
        if (computed := event_hash(record)) != stored:
            return f"its content was changed after it was sealed: it hashes to {computed}, its hash is {stored}"
        if seq <= self.seq:
            return f"seq {seq} comes after seq {self.seq}: rows repeated or out of order"
        if seq != self.seq + 1:
            return self._gap(seq) if self.complete else None
        if record["prev_hash"] != self.hash:
            return f"its prev_hash {record['prev_hash']} is not the hash of seq {self.seq}, {self.hash}"
        return None

    def report(self) -> ChainReport:
        return ChainReport(self.rows, self.seq, self.hash, self.broken)


def verify_chain(records: Iterable[Mapping[str, Any]], *, complete: bool = True) -> ChainReport:
    """Walk ``records`` (``chain_record``s, in seq order) to the first that breaks the chain."""
    verifier = ChainVerifier(complete=complete)
    for record in records:
        if verifier.check(record) is not None:
            break
    return verifier.report()


def _filters(values: Mapping[str, str | None]) -> list[sa.ColumnElement[bool]]:
    return [AUDIT_TABLE.c[name] == value for name, value in values.items() if value is not None]


async def chain_head(session: AsyncSession) -> tuple[int, str]:
    """The newest sealed row's (seq, hash); (0, GENESIS) on an empty trail."""
    table = AUDIT_TABLE
    newest = select(table.c.seq, table.c.hash).where(table.c.seq.is_not(None)).order_by(table.c.seq.desc()).limit(1)
    head = (await session.execute(newest)).first()
    return (0, GENESIS) if head is None else (int(head.seq), str(head.hash))


async def chain_records(
    session: AsyncSession, *, upto: int | None = None, where: Iterable[sa.ColumnElement[bool]] = ()
) -> AsyncIterator[dict[str, Any]]:
    """The sealed rows as ``chain_record``s in seq order, ``PAGE`` rows per query."""
    table = AUDIT_TABLE
    query = select(table).where(table.c.seq.is_not(None), *where).order_by(table.c.seq).limit(PAGE)
    if upto is not None:
        query = query.where(table.c.seq <= upto)
    after = 0
    while True:
        rows = (await session.execute(query.where(table.c.seq > after))).mappings().all()
        for row in rows:
            yield chain_record(row)
        if len(rows) < PAGE:
            return
        after = rows[-1]["seq"]


async def verify_trail(session: AsyncSession) -> ChainReport:
    """Verify the session's database's audit table: its chain, and no committed row left unsealed."""
    verifier = ChainVerifier()
    async for record in chain_records(session):
        if verifier.check(record) is not None:
            return verifier.report()
    table = AUDIT_TABLE
    unsealed = await session.scalar(select(table.c.id).where(table.c.seq.is_(None)).order_by(table.c.id).limit(1))
    if unsealed is not None:
        verifier.broken = ChainBreak(unsealed, None, "not sealed into the chain (no seq or hash)")
    return verifier.report()


# ---------------------------------------------------------------------------------------------- exporting
# ---------------------------------------------------------------------------------------------- sealing
def _sqlite_event_hash(seq: int, at: str, *columns: str | None) -> str:
    """``audit_event_hash`` on SQLite: the row as stored (``at`` as SQLAlchemy writes it, JSON as text)."""
    actor, actor_role, action, object_type, object_id, before, after, prev_hash = columns
    when = dt.datetime.fromisoformat(at)
    record = {
        "seq": seq,
        "at": canonical_at(when if when.tzinfo else when.replace(tzinfo=dt.UTC)),
        "actor": actor,
        "actor_role": actor_role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "before": None if before is None else json.loads(before),
        "after": None if after is None else json.loads(after),
        "prev_hash": prev_hash,
    }
    return event_hash(record)


@event.listens_for(Pool, "connect")
def _register_sqlite_hash(dbapi_connection: Any, _record: Any) -> None:
    # The only hook on every SQLite connection (services.common.db's engines included); the others lack it.
    create_function = getattr(dbapi_connection, "create_function", None)
    if create_function is not None:
        create_function("audit_event_hash", len(HASHED), _sqlite_event_hash, deterministic=True)


_COLUMNS = 'seq, at, actor, actor_role, action, object_type, object_id, "before", "after", prev_hash'
_INDEX = "CREATE UNIQUE INDEX ix_audit_events_seq ON audit_events (seq)"

_SQLITE_CHAIN = [
    _INDEX,
    f"""CREATE TRIGGER audit_events_seal AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_events
    SET seq = coalesce((SELECT max(seq) FROM audit_events), 0) + 1,
        prev_hash = coalesce((SELECT hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1),
                             '{GENESIS}')
    WHERE id = NEW.id;
    UPDATE audit_events SET hash = audit_event_hash({_COLUMNS}) WHERE id = NEW.id;
END""",  # noqa: S608 - our own constants, no input
]

_POSTGRES_CHAIN = [
    _INDEX,
    # Canonical JSON as json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) writes it; numbers
    # keep the text they were written with (Python's json.dumps, for every writer here).
    """CREATE FUNCTION audit_canonical_json(value json) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE json_typeof(value)
        WHEN 'object' THEN
            RETURN '{' || coalesce((SELECT string_agg(to_json(e.key)::text || ':' || audit_canonical_json(e.value),
                                                      ',' ORDER BY e.key COLLATE "C")
                                    FROM json_each(value) AS e), '') || '}';
        WHEN 'array' THEN
            RETURN '[' || coalesce((SELECT string_agg(audit_canonical_json(e.value), ',' ORDER BY e.n)
                                    FROM json_array_elements(value) WITH ORDINALITY AS e(value, n)), '') || ']';
        WHEN 'string' THEN
            RETURN to_json(value #>> '{}')::text;
        ELSE
            RETURN coalesce(btrim(value::text, E' \\t\\n\\r'), 'null');
    END CASE;
END $$""",
    """CREATE FUNCTION audit_event_hash(bigint, timestamptz, text, text, text, text, text, json, json, text)
RETURNS text LANGUAGE sql STABLE AS $$
SELECT encode(sha256(convert_to(
    '{"action":' || to_json($5)::text || ',"actor":' || to_json($3)::text || ',"actor_role":' || to_json($4)::text
    || ',"after":' || audit_canonical_json($9)
    || ',"at":"' || to_char($2 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'
    || ',"before":' || audit_canonical_json($8)
    || ',"object_id":' || to_json($7)::text || ',"object_type":' || to_json($6)::text
    || ',"prev_hash":' || to_json($10)::text || ',"seq":' || $1::text || '}', 'UTF8')), 'hex')
$$""",
    f"""CREATE FUNCTION audit_events_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next_seq bigint;
    prev text;
BEGIN
    -- One sealer per table until this transaction's commit is visible (the module's docstring).
    PERFORM pg_advisory_xact_lock(TG_RELID::bigint);
    SELECT seq + 1, hash INTO next_seq, prev FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    next_seq := coalesce(next_seq, 1);
    prev := coalesce(prev, '{GENESIS}');
    UPDATE audit_events
    SET seq = next_seq, prev_hash = prev,
        hash = audit_event_hash(next_seq, at, actor, actor_role, action, object_type, object_id, "before", "after",
                                prev)
    WHERE id = NEW.id;
    RETURN NULL;
END $$""",  # noqa: S608 - our own constants, no input
    """CREATE CONSTRAINT TRIGGER audit_events_seal AFTER INSERT ON audit_events
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_events_seal()""",
]

_UNCHAIN = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_events_seal", "DROP INDEX IF EXISTS ix_audit_events_seq"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_events_seal ON audit_events",
        "DROP FUNCTION IF EXISTS audit_events_seal()",
        "DROP FUNCTION IF EXISTS audit_event_hash(bigint, timestamptz, text, text, text, text, text, json, json, text)",
        "DROP FUNCTION IF EXISTS audit_canonical_json(json)",
        "DROP INDEX IF EXISTS ix_audit_events_seq",
    ],
}


def install_chain(connection: Connection) -> None:
    """Seal the rows already there in id order, then let the database seal each new one (a migration calls it
    once the ``seq``, ``prev_hash`` and ``hash`` columns exist)."""
    table, seq, prev = AUDIT_TABLE, 0, GENESIS
    seal = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values(seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"), hash=sa.bindparam("hash"))
    )
    pages = select(table).order_by(table.c.id).limit(PAGE)
    after_id = -1
    while rows := connection.execute(pages.where(table.c.id > after_id)).mappings().all():
        sealed = []
        for row in rows:
            seq += 1
            digest = event_hash(chain_record({**row, "seq": seq, "prev_hash": prev}))
            sealed.append({"row_id": row["id"], "seq": seq, "prev_hash": prev, "hash": digest})
            prev = digest
        connection.execute(seal, sealed)
        after_id = rows[-1]["id"]
    for statement in _SQLITE_CHAIN if connection.dialect.name == "sqlite" else _POSTGRES_CHAIN:
        connection.exec_driver_sql(statement)


def remove_chain(connection: Connection) -> None:
    """Undo ``install_chain``'s triggers, functions and index (a downgrade, before dropping the columns)."""
    for statement in _UNCHAIN[connection.dialect.name]:
        connection.exec_driver_sql(statement)
