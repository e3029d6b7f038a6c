"""Async engine and sessions: SQLite by default (WAL, foreign keys on), PostgreSQL from the same code.

One transaction owner: the ``get_session`` dependency commits when the endpoint returns and rolls back when
it raises. Services and repositories only ``flush``; what must happen only once the change is visible to others
(waking a waiting claim) is registered with ``after_commit`` and run by ``commit``.

SQLite allows one writer at a time. Write sessions start with ``BEGIN IMMEDIATE`` so that two writers queue
on the lock (``busy_timeout``) instead of failing when a read transaction tries to become a write one. Reads
use a second engine with plain deferred transactions, so they never wait for a writer (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.common.tasks import cancel_and_wait

__all__ = [
    "Database",
    "DbSession",
    "ReadSession",
    "after_commit",
    "commit",
    "get_read_session",
    "get_session",
    "is_sqlite",
    "rollback",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, begin: str) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (the documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Freed pages are zeroed: a photo emptied by the retention purge or dropped from a finished job must not
        # stay readable in the file's free pages (docs/privacy.md).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


# A pooled PostgreSQL connection idle longer than this is pinged when it is checked out.
PING_IDLE_SECONDS = 0.25


def _postgres_engine(url: str, *, pool_size: int, max_overflow: int) -> AsyncEngine:
    """PostgreSQL without ``pool_pre_ping`` on every checkout (through asyncpg that is BEGIN, a ping and ROLLBACK:
    three round trips per request, more than a simple call's own statements).

    Instead: a connection that sat in the pool longer than ``PING_IDLE_SECONDS`` is pinged at checkout (a dead one
    is replaced before use), and a statement that finds its connection closed marks it disconnected, which
    invalidates the whole pool (SQLAlchemy's default), so every later checkout reconnects. After a PostgreSQL
    restart only the calls that were talking to the old server fail: 503 ``database-unavailable``, retried.
    """
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow)

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("checked_in_at")
        if returned is None or time.monotonic() - returned < PING_IDLE_SECONDS:
            return  # new, or back in the pool a moment ago
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool discards this connection and checks out (or makes) another.
            raise DisconnectionError(f"stale pooled connection: {exc.__class__.__name__}") from exc

    return engine


class Database:
    """The engines and session factories of one service's database."""

    def __init__(self, url: str, *, pool_size: int = 20, max_overflow: int = 5) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        if self.sqlite:
            self.engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, begin="BEGIN")
        else:
            self.engine = _postgres_engine(url, pool_size=pool_size, max_overflow=max_overflow)
            self.read_engine = self.engine
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write session whose transaction commits when the block ends and rolls back when it raises: for work
        no HTTP request owns (background tasks, the operator's tools), as ``get_session`` does for endpoints."""
        async with self.sessions() as session:
            try:
                yield session
            except BaseException:
                await rollback(session)
                raise
            else:
                await commit(session)

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        if self.sqlite:
            await _end_stranded_closes()


async def _end_stranded_closes(*, grace: float = 1.0) -> None:
    """End the SQLite closes that a cancelled statement left behind, so that the event loop can stop.

    SQLAlchemy closes a connection whose task was cancelled mid-statement in a shielded task. With aiosqlite 0.22
    that close can take the cancellation meant for it at its first ``await`` and then wait for ever in its
    ``finally`` on a worker thread that a forced close has already stopped; a loop that is shutting down cancels
    each task once, and hangs on it. Give such closes ``grace`` seconds, then cancel them until they end, and
    wait for their worker threads, which would otherwise answer into a closed loop.
    """
    closes = {
        task: _worker_thread(task)
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").endswith("_terminate_graceful_close")
    }
    if not closes:
        return
    _, stranded = await asyncio.wait(closes, timeout=grace)
    await cancel_and_wait(stranded)
    for thread in closes.values():
        if thread is not None:
            await asyncio.to_thread(thread.join, grace)


def _worker_thread(task: asyncio.Task[Any]) -> threading.Thread | None:
    """The aiosqlite worker thread of the connection a ``_terminate_graceful_close`` task is closing."""
    frame = getattr(task.get_coro(), "cr_frame", None)
    adapted = frame.f_locals.get("self") if frame is not None else None
    thread = getattr(getattr(adapted, "_connection", None), "_thread", None)
    return thread if isinstance(thread, threading.Thread) else None


_AFTER_COMMIT = "after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the session's transaction has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit, then run what ``after_commit`` registered for this transaction."""
    await session.commit()
    for callback in session.info.pop(_AFTER_COMMIT, ()):
        callback()


async def rollback(session: AsyncSession) -> None:
    """Roll back and forget what ``after_commit`` registered."""
    session.info.pop(_AFTER_COMMIT, None)
    await session.rollback()


def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A write session: committed when the endpoint returns, rolled back when it raises."""
    async with _database(request).transaction() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session; never waits for SQLite's writer."""
    async with _database(request).read_sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()


# scope="function": commit before the response is sent, so a client never sees a 2xx for a lost write.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
