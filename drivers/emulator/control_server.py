"""The emulator's control API: faults and operator actions over a small JSON-over-HTTP server.

    GET    /state                 the printer as an operator sees it
    GET    /log                   every card output: job, serial, time, outcome (printed / rejected)
    POST   /faults/<fault>        inject a fault; body (optional): {"at_card": 3, "delay": 0.5, …}
    DELETE /faults/<fault>        take it away
    POST   /actions/<action>      an operator action; body: its parameters, e.g. {"serials": "KTP…-KTP…"}
    GET    /healthz

Faults: card_jam ribbon_out feeder_empty cover_open output_full link_drop slow_replies split_replies
power_loss.
Actions: load_blanks load_ribbon open_cover close_cover clear_jam empty_output power_on power_off.

Every request carries ``Authorization: Bearer <token>`` (401 without it); a request with a body, and every POST,
says ``Content-Type: application/json`` (415 otherwise), so a web page cannot drive the printer with a form.
The server listens on loopback unless told otherwise (``allow_remote``: a container's network).

From a shell, the client in ``control_client``:
    python -m drivers.emulator.control_client URL --token-file STATE_DIR/control-token fault card_jam --at 3

The server is plain asyncio, one request a connection: the emulator stays light (sixteen run side by side in
benchmarks) and an idle one never wakes up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

from drivers.emulator.config import is_loopback
from drivers.emulator.faults import Action, Fault

if TYPE_CHECKING:
    from drivers.emulator.emulator import Emulator

__all__ = ["ControlServer"]

E = TypeVar("E", Fault, Action)

_MAX_BODY = 64 * 1024
_REQUEST_TIMEOUT = 10.0
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class _HttpError(Exception):
    def __init__(self, status: HTTPStatus, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class ControlServer:
    """Serves the control API of one emulator on ``http://host:port`` to callers holding ``token``."""

    def __init__(self, emulator: Emulator, host: str, port: int, *, token: str, allow_remote: bool = False) -> None:
        if not token:
            raise ValueError("the control API needs a token")
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"the control API listens on loopback only, not {host!r}, unless remote control is allowed"
            )
        self._emulator = emulator
        self.token = token
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers: dict[str, str] = {}
        try:
            method, path, body = await asyncio.wait_for(_read_request(reader, self._authorized), _REQUEST_TIMEOUT)
            status, payload = HTTPStatus.OK, await self._route(method, path, body)
        except _HttpError as exc:
            status, payload, headers = exc.status, {"error": exc.detail}, exc.headers
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return
        data = json.dumps(payload).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode("ascii") + data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _authorized(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.strip().partition(" ")
        # Constant time, so that the answer's timing tells nothing about how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    async def _route(self, method: str, path: str, body: dict[str, Any]) -> Any:
        emulator = self._emulator
        parts = [part for part in path.split("?", 1)[0].split("/") if part]
        if parts in (["state"], ["log"], ["healthz"]):
            if method != "GET":
                raise _HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes GET")
            if parts == ["state"]:
                return emulator.snapshot()
            if parts == ["log"]:
                return emulator.card_log()
            return {"ok": True}
        if len(parts) == 2 and parts[0] == "faults":
            fault = _member(Fault, parts[1])
            if method == "POST":
                at_card = body.pop("at_card", None)
                if at_card is not None and (isinstance(at_card, bool) or not isinstance(at_card, int)):
                    raise _HttpError(HTTPStatus.BAD_REQUEST, "at_card must be a whole number")
                await _bad_request_on_value_error(emulator.inject(fault, at_card=at_card, **body))
            elif method == "DELETE":
                await emulator.clear(fault)
            else:
                raise _HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "faults take POST or DELETE")
            return emulator.snapshot()
        if len(parts) == 2 and parts[0] == "actions":
            action = _member(Action, parts[1])
            if method != "POST":
                raise _HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "actions take POST")
            await _bad_request_on_value_error(emulator.act(action, **body))
            return emulator.snapshot()
        raise _HttpError(HTTPStatus.NOT_FOUND, f"no {path}")


async def _read_request(
    reader: asyncio.StreamReader, authorized: Callable[[str], bool]
) -> tuple[str, str, dict[str, Any]]:
    """Method, path and JSON body of one request; the token and the content type are checked before the JSON."""
    request_line = (await reader.readline()).decode("latin-1").split()
    if len(request_line) != 3:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "bad request line")
    method, path, _ = request_line
    method = method.upper()
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
    if not 0 <= length <= _MAX_BODY:
        raise _HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    # Read the body even when the request is refused: closing a socket with unread data resets the connection,
    # and the caller would see the reset instead of the answer.
    raw = await reader.readexactly(length) if length else b""
    if not authorized(headers.get("authorization", "")):
        raise _HttpError(HTTPStatus.UNAUTHORIZED, "a bearer token is needed: the control-token file", _CHALLENGE)
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if (method == "POST" or raw) and media_type != "application/json":
        raise _HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json")
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise _HttpError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    return method, path, body


def _member(kind: type[E], name: str) -> E:
    try:
        return kind(name)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise _HttpError(HTTPStatus.NOT_FOUND, f"no {kind.__name__.lower()} {name!r}; known: {known}") from None


async def _bad_request_on_value_error(call: Any) -> None:
    try:
        await call
    except (ValueError, TypeError) as exc:
        raise _HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from None
