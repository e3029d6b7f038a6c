"""The emulator's ports: a TCP listener (pyserial's ``socket://``) and a pseudo-terminal (a device path).

Each connection, and each pty, gets a ``Session``: bytes in, frames parsed, commands run in order, replies
out.
Everything waits in the event loop's ``select``; an idle emulator does not wake up.

The pty is reached through a symlink that stays put: a hang-up (link drop) closes the pty and opens a new one
behind the same path, as a USB serial adapter comes back after a replug; a power loss removes the path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tty
from collections.abc import Callable
from pathlib import Path

from drivers.emulator.printer import VirtualPrinter
from drivers.protocol import Frame, FrameParser, Reply
from drivers.states import ErrorWord

__all__ = ["PtyEndpoint", "Session", "TcpEndpoint"]

log = logging.getLogger(__name__)


class Session:
    """One host's conversation with the printer, over whatever carries the bytes."""

    def __init__(self, printer: VirtualPrinter, write: Callable[[bytes], None], is_open: Callable[[], bool]) -> None:
        self._printer = printer
        self._write = write
        self._is_open = is_open
        self._parser = FrameParser()
        self._queue: asyncio.Queue[Frame | str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._last_data = 0.0
        self._stall_timer: asyncio.TimerHandle | None = None
        self.task = self._loop.create_task(self._serve())

    def feed(self, data: bytes) -> None:
        for frame in self._parser.feed(data):
            self._queue.put_nowait(frame)
        if self._parser.awaiting_payload:
            self._last_data = self._loop.time()
            if self._stall_timer is None:
                self._stall_timer = self._loop.call_later(self._printer.config.download_timeout, self._check_stall)

    def close(self) -> None:
        """The link is gone: finish the command under way (a card keeps printing), then stop."""
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._queue.put_nowait(None)

    def _check_stall(self) -> None:
        self._stall_timer = None
        if not self._parser.awaiting_payload:
            return
        quiet = self._loop.time() - self._last_data
        timeout = self._printer.config.download_timeout
        if quiet < timeout:
            self._stall_timer = self._loop.call_later(timeout - quiet, self._check_stall)
            return
        # The host stopped in the middle of a download: drop it, as a real printer does.
        self._parser.reset()
        self._queue.put_nowait(ErrorWord.TIME_OUT.value)

    async def _serve(self) -> None:
        while (item := await self._queue.get()) is not None:
            reply = item if isinstance(item, str) else await self._printer.execute(item)
            if reply is not None:
                await self._send(reply)

    async def _send(self, text: str) -> None:
        data = Reply(text).encode(terminator=self._printer.config.terminator)
        await self._printer.hold_reply()
        split = self._printer.split
        if split is None:
            if self._is_open():
                self._write(data)
            return
        size, pause = split
        for start in range(0, len(data), size):
            if start:
                await asyncio.sleep(pause)
            if self._is_open():
                self._write(data[start : start + size])


class _TcpConnection(asyncio.Protocol):
    def __init__(self, endpoint: TcpEndpoint) -> None:
        self._endpoint = endpoint
        self._transport: asyncio.Transport | None = None
        self._session: Session | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._endpoint.listening:
            # Accepted just before the power went: a printer that is off takes no connection.
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Small replies must not wait for Nagle: one command in flight means nothing else to batch with.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._session = Session(self._endpoint.printer, transport.write, lambda: not transport.is_closing())
        self._endpoint.connected(self, self._session)

    def data_received(self, data: bytes) -> None:
        assert self._session is not None
        self._session.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._session is not None:
            self._session.close()
        self._endpoint.disconnected(self)

    def drop(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class TcpEndpoint:
    """A TCP listener; the printer is ``socket://host:port`` to pyserial."""

    def __init__(self, printer: VirtualPrinter, host: str, port: int) -> None:
        self.printer = printer
        self.host = host
        self.port = port
        # Our own listening socket, not asyncio.Server: closing a Server while a connection is half accepted
        # leaves that connection open and silent (CPython 3.11); a power loss must refuse every connection.
        self._listener: socket.socket | None = None
        self._accepting: set[asyncio.Task[None]] = set()
        self._connections: set[_TcpConnection] = set()
        self._sessions: set[Session] = set()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._listener is not None

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.port), family=family)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]  # port 0 asked for any free port
        asyncio.get_running_loop().add_reader(listener.fileno(), self._accept)

    def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while self._listener is not None:
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("%s: accept failed: %s", self.url, exc)
                return
            task = loop.create_task(self._serve(conn))
            self._accepting.add(task)
            task.add_done_callback(self._accepting.discard)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            await asyncio.get_running_loop().connect_accepted_socket(lambda: _TcpConnection(self), conn)
        except BaseException:
            conn.close()
            raise

    def connected(self, connection: _TcpConnection, session: Session) -> None:
        self._connections.add(connection)
        self._sessions.add(session)
        session.task.add_done_callback(lambda _: self._sessions.discard(session))

    def disconnected(self, connection: _TcpConnection) -> None:
        self._connections.discard(connection)

    def drop(self) -> None:
        """Cut every connection (the host sees a reset); the listener stays."""
        for connection in list(self._connections):
            connection.drop()

    def suspend(self) -> None:
        """Power off: stop listening (connections are refused) and cut every connection."""
        if self._listener is not None:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        self.drop()

    async def resume(self) -> None:
        if self._listener is None:
            await self.start()

    async def stop(self) -> None:
        self.suspend()
        await _finish(self._sessions)
        for task in list(self._accepting):
            task.cancel()
        await asyncio.gather(*self._accepting, return_exceptions=True)


class PtyEndpoint:
    """A pseudo-terminal in raw mode behind a symlink that survives hang-ups."""

    def __init__(self, printer: VirtualPrinter, link: Path) -> None:
        self.printer = printer
        self.link = link
        self.device: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._session: Session | None = None
        self._sessions: set[Session] = set()
        self._pending = bytearray()

    def start(self) -> None:
        master, slave = os.openpty()
        # Raw: no CR→LF translation, no echo, no signals; the host's pyserial sets the same when it opens.
        # Holding the slave end open ourselves keeps the pty alive while no host has it open.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.device = os.ttyname(slave)
        temporary = self.link.with_name(self.link.name + ".new")
        temporary.unlink(missing_ok=True)
        os.symlink(self.device, temporary)
        os.replace(temporary, self.link)
        loop = asyncio.get_running_loop()
        session = Session(self.printer, self._write, lambda: self._master is not None)
        self._session = session
        self._sessions.add(session)
        session.task.add_done_callback(lambda _: self._sessions.discard(session))
        loop.add_reader(master, self._readable)

    def drop(self) -> None:
        """Hang up: the host's next read or write fails; it reopens the same path and finds a new pty."""
        self._close()
        self.start()

    def suspend(self) -> None:
        """Power off: the device disappears."""
        self._close()
        self.link.unlink(missing_ok=True)

    async def resume(self) -> None:
        if self._master is None:
            self.start()

    async def stop(self) -> None:
        self.suspend()
        await _finish(self._sessions)

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("%s: pty read failed (%s); hanging up", self.link, exc)
            self.drop()
            return
        if self._session is not None:
            self._session.feed(data)

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        if self._pending:
            self._pending += data
            return
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        except OSError:
            return  # hung up: the reply is lost with the link
        if written < len(data):
            self._pending += data[written:]
            asyncio.get_running_loop().add_writer(self._master, self._writable)

    def _writable(self) -> None:
        assert self._master is not None
        try:
            written = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._pending)
        del self._pending[:written]
        if not self._pending:
            asyncio.get_running_loop().remove_writer(self._master)

    def _close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._master is not None:
            loop.remove_reader(self._master)
            loop.remove_writer(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        self._pending.clear()


async def _finish(sessions: set[Session]) -> None:
    """Stop sessions for good (emulator shutdown): a card still printing stays inside, as at a power cut."""
    tasks = [session.task for session in sessions]
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
