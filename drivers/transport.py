"""Async transport to one card printer over pyserial: any pyserial URL, one command in flight, reconnects.

    async with SerialTransport("socket://127.0.0.1:9101") as link:
        reply = await link.request(Frame("Rfv"))

pyserial blocks, so each transport owns one worker thread and every port call runs there; the event loop
only awaits. A read waits in ``select`` on the port and on a wake-up pipe, so ``close()`` and task
cancellation interrupt it at once, and an idle transport costs no CPU.

Links fail. A link found dead before a command goes out is reopened (with backoff) and the command sent.
A link that dies after the command went out raises ``LinkDown``, except for commands that are safe to send
twice (``protocol.RESENDABLE``): those are sent once more on a fresh link. No answer in time raises
``NoAnswer`` and closes the port, so a late reply cannot be taken for the answer to the next command.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import serial
from serial.urlhandler import protocol_socket

from drivers.errors import LinkDown, LinkError, NoAnswer
from drivers.protocol import CR, RESENDABLE, Frame, Reply, TimeoutKind, timeout_kind

__all__ = ["DEFAULT_CARD_TIME", "DEFAULT_IDLE_GAP", "Reconnect", "SerialTransport", "Timeouts"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Silence this long after the first bytes of a reply ends it, for printers that send no CR (real Evolis).
DEFAULT_IDLE_GAP = 0.2
# Real printers take 18–120 s a card (DESIGN.md §9).
DEFAULT_CARD_TIME = 120.0
_READ_CHUNK = 4096
# Silence to wait for on a serial line after a command was given up on, before the next one goes out.
_SETTLE = 0.1


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Seconds to wait for a reply, by kind of command (DESIGN.md §9)."""

    short: float = 2.0
    download: float = 30.0
    # One card's print time. None: the driver takes it from the printer's Rcap, else DEFAULT_CARD_TIME.
    card: float | None = None
    margin: float = 15.0  # added to ``card``: feeding, ejecting, a printer a little slower than it says

    def for_kind(self, kind: TimeoutKind) -> float:
        if kind is TimeoutKind.DOWNLOAD:
            return self.download
        if kind is TimeoutKind.CARD:
            return (DEFAULT_CARD_TIME if self.card is None else self.card) + self.margin
        return self.short


@dataclass(frozen=True, kw_only=True)
class Reconnect:
    """How hard to try to (re)open the port before a command gives up with ``LinkDown``."""

    attempts: int = 5
    first_delay: float = 0.05
    max_delay: float = 2.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        """The pauses between attempts: 0.05, 0.1, 0.2 … capped at ``max_delay``."""
        delay = self.first_delay
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * self.factor, self.max_delay)


class _Aborted(LinkError):
    """The worker was woken up by ``close()`` or a cancelled request."""


class _DeadBeforeSend(LinkDown):
    """The link was found dead before the command went out: nothing reached the printer."""


class _SocketSerial(protocol_socket.Serial):  # type: ignore[misc]  # pyserial has no type hints
    """pyserial's ``socket://`` port without the 0.3 s sleep its ``close()`` adds: we back off ourselves."""

    _socket: socket.socket | None

    def close(self) -> None:
        sock = self._socket
        self._socket = None
        self.is_open = False
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _Port:
    """One pyserial port; every method but ``wake`` runs in the transport's worker thread."""

    def __init__(self, url: str, *, baudrate: int, write_timeout: float) -> None:
        if url.startswith("socket://"):
            self.serial: Any = _SocketSerial(baudrate=baudrate, timeout=0, write_timeout=write_timeout)
            self.serial.port = url
        else:
            self.serial = serial.serial_for_url(
                url, baudrate=baudrate, timeout=0, write_timeout=write_timeout, do_not_open=True
            )
        # Ports with a file descriptor (serial devices, ptys, sockets) are waited on with select, together
        # with the wake-up pipe. Others (rfc2217://, loop://) fall back to pyserial's own blocking read.
        self._selectable = isinstance(self.serial, (serial.Serial, protocol_socket.Serial))
        # Reopening a socket:// link gives a fresh stream; reopening a serial line does not.
        self.fresh_on_reopen = isinstance(self.serial, protocol_socket.Serial)
        self.settle = 0.0  # seconds of silence to wait for before the next command
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def open(self) -> None:
        try:
            self.serial.open()
        except (serial.SerialException, OSError) as exc:
            raise LinkDown(f"cannot open {self.serial.port}: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self.serial.close()
        # Every wake-up is followed by a close (the transport drops the link after one), so this is the place
        # to forget it: a stale wake-up would abort the next exchange on the reopened link.
        self._drain_wake()

    def dispose(self) -> None:
        self.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def wake(self) -> None:
        """Interrupt a read or write under way (safe from any thread)."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"!")
        for cancel in ("cancel_read", "cancel_write"):
            with contextlib.suppress(AttributeError, serial.SerialException, OSError):
                getattr(self.serial, cancel)()

    def exchange(self, header: bytes, data: bytes, timeout: float, idle_gap: float | None) -> bytes:
        """Send one frame (its header, then a download's data) and return its reply (without the CR)."""
        self._discard_stale_input(time.monotonic() + timeout)
        deadline = time.monotonic() + timeout
        try:
            self._write(header + data if data else header, deadline)
        except serial.SerialTimeoutException as exc:
            raise NoAnswer(f"the printer took no data for {timeout:.1f} s") from exc
        except (serial.SerialException, OSError) as exc:
            raise LinkDown(f"write failed: {exc}") from exc
        try:
            return self._read_reply(deadline, timeout, idle_gap)
        except (serial.SerialException, OSError) as exc:
            raise LinkDown(f"read failed: {exc}") from exc

    def _write(self, data: bytes, deadline: float) -> None:
        if not self._selectable:
            self.serial.write(data)
            return
        # Straight to the descriptor, in place, waiting in select with the wake-up pipe: pyserial's write
        # copies the rest of the buffer after every partial write (a 600 KB panel goes into a pty 4 KB at a
        # time) and cannot be interrupted on a socket.
        fd, view, sent = self.serial.fileno(), memoryview(data), 0
        while sent < len(view):
            try:
                sent += os.write(fd, view[sent:])
                continue
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise serial.SerialTimeoutException("write timeout")
            wake, _, _ = select.select([self._wake_r], [fd], [], left)
            if wake:
                raise _Aborted("interrupted")

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 64):
                pass

    def _discard_stale_input(self, give_up: float) -> None:
        # A reply that arrives after its command was given up on must not answer this one. After such a
        # command, a serial line (unlike a fresh TCP connection) may still bring its reply: wait for silence.
        # Reading here also finds a link the peer closed while we were idle, before anything is sent.
        settle, self.settle = self.settle, 0.0
        try:
            while stale := self._wait_and_read(min(settle, max(0.0, give_up - time.monotonic()))):
                log.warning("%s: discarded %d stale bytes", self.serial.port, len(stale))
        except (serial.SerialException, OSError) as exc:
            raise _DeadBeforeSend(f"link found dead: {exc}") from exc

    def _read_reply(self, deadline: float, timeout: float, idle_gap: float | None) -> bytes:
        buf = bytearray()
        while True:
            end = buf.find(CR)
            if end >= 0:
                return bytes(buf[:end])
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoAnswer(f"no answer within {timeout:.1f} s" + (f" (got {bytes(buf)!r})" if buf else ""))
            wait = min(left, idle_gap) if buf and idle_gap is not None else left
            chunk = self._wait_and_read(wait)
            if chunk:
                buf += chunk
            elif buf and idle_gap is not None and wait < left:
                return bytes(buf)  # an idle gap after some bytes: the reply is complete

    def _wait_and_read(self, wait: float) -> bytes:
        if self._selectable:
            ready, _, _ = select.select([self.serial.fileno(), self._wake_r], [], [], wait)
            if self._wake_r in ready:
                raise _Aborted("interrupted")
            return bytes(self.serial.read(_READ_CHUNK)) if ready else b""
        self.serial.timeout = wait
        chunk = bytes(self.serial.read(1))
        with contextlib.suppress(BlockingIOError):
            if os.read(self._wake_r, 64):
                raise _Aborted("interrupted")
        if chunk and self.serial.in_waiting:
            chunk += self.serial.read(self.serial.in_waiting)
        return chunk


class SerialTransport:
    """The link to one printer: ``open``/``close`` (or ``async with``) and ``request`` one frame at a time."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        timeouts: Timeouts | None = None,
        reconnect: Reconnect | None = None,
        idle_gap: float | None = DEFAULT_IDLE_GAP,
    ) -> None:
        self.url = url
        self.timeouts = timeouts or Timeouts()
        self.reconnect = reconnect or Reconnect()
        self.idle_gap = idle_gap
        self._baudrate = baudrate
        self._lock = asyncio.Lock()
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._port: _Port | None = None
        self._connected = False
        self._closing = False
        self._ever_connected = False
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        """True while the port is open (a dropped link is only noticed by the next command)."""
        return self._connected

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Start the worker thread and open the port; raise ``LinkDown`` if it cannot be opened."""
        if self._worker is not None:
            raise RuntimeError(f"{self.url}: already open")
        self._closing = False
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"serial {self.url}")
        try:
            # A bad URL (unknown scheme) raises ValueError here: a configuration mistake, not a link failure.
            self._port = await self._in_worker(
                lambda: _Port(self.url, baudrate=self._baudrate, write_timeout=self.timeouts.download)
            )
            async with self._lock:
                await self._connect()
        except BaseException:
            await self._shutdown()
            raise

    async def close(self) -> None:
        """Close the port and stop the worker; a request under way ends with ``LinkDown``."""
        if self._worker is None:
            return
        self._closing = True
        if self._port is not None:
            self._port.wake()
        async with self._lock:
            await self._shutdown()

    async def request(self, frame: Frame, *, reply_within: float | None = None) -> Reply:
        """Send ``frame`` and return the printer's reply; error words are left to the caller.

        ``reply_within`` overrides the time-out its kind of command gets from ``timeouts``.
        """
        limit = self.timeouts.for_kind(timeout_kind(frame.command)) if reply_within is None else reply_within
        header = frame.header()  # a bad frame fails here; the data is joined on in the worker thread
        async with self._lock:
            for attempt in (1, 2):
                if self._closing or self._port is None:
                    raise LinkDown(f"{self.url}: transport closed")
                if not self._connected:
                    await self._connect()
                port = self._port
                try:
                    raw = await self._in_worker(port.exchange, header, frame.data, limit, self.idle_gap)
                except _DeadBeforeSend:
                    await self._disconnect()
                    if attempt == 2:
                        raise
                except _Aborted as exc:
                    await self._disconnect(abandoned=True)
                    raise LinkDown(f"{self.url}: transport closed") from exc
                except LinkDown as exc:
                    await self._disconnect()
                    if attempt == 2 or frame.command not in RESENDABLE:
                        raise LinkDown(f"{self.url}: {frame.command}: {exc}") from exc
                    log.warning("%s: %s, sending %s again on a fresh link", self.url, exc, frame.command)
                except NoAnswer as exc:
                    await self._disconnect(abandoned=True)
                    raise NoAnswer(f"{self.url}: {frame.command}: {exc}") from exc
                else:
                    return Reply.decode(raw)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> None:
        """Open the port, retrying with backoff; the caller holds the lock."""
        assert self._port is not None
        port = self._port
        delays = self.reconnect.delays()
        while True:
            try:
                await self._in_worker(port.open)
            except LinkDown:
                delay = next(delays, None)
                if delay is None or self._closing:
                    raise
                await asyncio.sleep(delay)
            else:
                if self._ever_connected:
                    self.reconnects += 1
                    log.info("%s: link reopened", self.url)
                self._ever_connected = True
                self._connected = True
                return

    async def _disconnect(self, *, abandoned: bool = False) -> None:
        """Close the port; ``abandoned``: a reply may still come, so wait for silence before the next."""
        self._connected = False
        if self._port is not None:
            if abandoned:
                self._abandon(self._port)
            await self._in_worker(self._port.close)

    def _abandon(self, port: _Port) -> None:
        if not port.fresh_on_reopen:
            port.settle = max(self.idle_gap or 0.0, _SETTLE)

    async def _shutdown(self) -> None:
        worker, port = self._worker, self._port
        self._worker = self._port = None
        self._connected = False
        if worker is None:
            return
        if port is not None:
            await asyncio.wrap_future(worker.submit(port.dispose))
        # The worker is idle now, so this join is immediate.
        worker.shutdown(wait=True)

    async def _in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._worker is not None
        future = self._worker.submit(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # The caller gave up (task cancelled): wake the worker and drop the link, so the reply, should it
            # still come, answers nobody. The worker runs jobs in order, so the close lands before any reopen.
            self._connected = False
            if self._port is not None:
                self._port.wake()
                self._abandon(self._port)
                self._worker.submit(self._port.close)
            raise
