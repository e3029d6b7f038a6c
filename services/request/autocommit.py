"""A change that is one SQL statement needs no BEGIN and COMMIT around it: PostgreSQL runs every statement
atomically on its own. Through asyncpg each of BEGIN and COMMIT is a round trip of its own, so a submission or
a claim written as one statement (a CTE that also writes the audit row) costs one round trip instead of three.

``alone_connection(session)`` gives the session's connection in autocommit mode, when that is safe: on
PostgreSQL, and only while the session has not begun a transaction (its first statement). Everything a caller
runs on it commits statement by statement, so a caller uses it only for a change made by one statement
(reads after it are fine). Elsewhere (SQLite's single writer needs ``BEGIN IMMEDIATE``) it gives None and the
caller takes its usual path in the session's transaction.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

__all__ = ["alone_connection"]

_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


async def alone_connection(session: AsyncSession) -> AsyncConnection | None:
    """The session's connection in autocommit mode (PostgreSQL, nothing begun yet), else None."""
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return None
    return await session.connection(execution_options=_AUTOCOMMIT)
