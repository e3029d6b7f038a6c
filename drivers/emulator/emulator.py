"""One emulated printer with its ports and control interface, run inside the caller's event loop.

async with Emulator(EmulatorConfig(time_scale=math.inf, pty=True)) as emu:
    async with CardPrinter.open(emu.url) as printer: ...
    await emu.inject(Fault.CARD_JAM)
    await emu.act(Action.CLEAR_JAM)

The control API takes ``emu.control_token`` as a bearer token. A token the emulator made itself is also
written, mode 0600, to ``<state dir>/control-token`` (or a private temporary folder): ``endpoints()`` names
that file for a program that started the emulator as a process.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from drivers.emulator.config import EmulatorConfig
from drivers.emulator.control_server import ControlServer
from drivers.emulator.faults import Action, Fault
from drivers.emulator.links import PtyEndpoint, TcpEndpoint
from drivers.emulator.printer import VirtualPrinter
from drivers.emulator.store import StateStore

__all__ = ["CONTROL_TOKEN_FILE", "Emulator"]

CONTROL_TOKEN_FILE = "control-token"  # noqa: S105 - the name of the file, not a token


class Emulator:
    """A software card printer on a real TCP port and/or pseudo-terminal, with faults on demand."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._printer: VirtualPrinter | None = None
        self._tcp: TcpEndpoint | None = None
        self._pty: PtyEndpoint | None = None
        self._control: ControlServer | None = None
        self._control_token_file: Path | None = None
        self._temp_dir: Path | None = None
        self._suspended = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def printer(self) -> VirtualPrinter:
        """The printer model, for a look at its state (tests)."""
        if self._printer is None:
            raise RuntimeError("the emulator is not running")
        return self._printer

    @property
    def url(self) -> str | None:
        """``socket://host:port``, for pyserial; None without a TCP endpoint."""
        return None if self._tcp is None else self._tcp.url

    @property
    def pty_path(self) -> str | None:
        """The stable path of the pseudo-terminal, for pyserial; None without one."""
        return None if self._pty is None else str(self._pty.link)

    @property
    def control_url(self) -> str | None:
        return None if self._control is None else self._control.url

    @property
    def control_token(self) -> str | None:
        """The bearer token the control API takes; None without a control API."""
        return None if self._control is None else self._control.token

    @property
    def control_token_file(self) -> str | None:
        """The 0600 file holding the token the emulator made; None when the caller gave it one (or no control)."""
        return None if self._control_token_file is None else str(self._control_token_file)

    def endpoints(self) -> dict[str, Any]:
        """What the command line prints as its JSON line."""
        return {
            "name": self.config.name,
            "url": self.url,
            "pty": self.pty_path,
            "device": None if self._pty is None else self._pty.device,
            "control": self.control_url,
            "control_token_file": self.control_token_file,
            "state_dir": None if self.config.state_dir is None else str(self.config.state_dir),
        }

    async def start(self) -> None:
        config = self.config
        printer = VirtualPrinter(config, StateStore(config.state_dir))
        self._printer = printer
        printer.on_link_drop = self._drop_links
        printer.on_power_loss = self._suspend
        try:
            printer.boot()
            if config.port is not None:
                self._tcp = TcpEndpoint(printer, config.host, config.port)
                await self._tcp.start()
            if config.pty:
                self._pty = PtyEndpoint(printer, self._pty_link())
                self._pty.start()
            if config.control_port is not None:
                token = config.control_token
                if token is None:
                    token = secrets.token_urlsafe(32)
                    self._control_token_file = self._write_control_token(token)
                control = ControlServer(
                    self, config.control_host, config.control_port, token=token, allow_remote=config.control_remote
                )
                self._control = control
                await control.start()
            printer.arm_scripted_faults()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._control is not None:
            await self._control.stop()
            self._control = None
        self._control_token_file = None
        for endpoint in (self._tcp, self._pty):
            if endpoint is not None:
                await endpoint.stop()
        self._tcp = self._pty = None
        if self._printer is not None:
            self._printer.close()
            self._printer = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    async def inject(self, fault: Fault | str, *, at_card: int | None = None, **params: Any) -> None:
        """Make a fault happen now, or during the ``at_card``-th card from now."""
        self.printer.inject(Fault(fault), at_card=at_card, **params)
        await self._follow_power()

    async def clear(self, fault: Fault | str) -> None:
        """Take a fault away (``power_loss``: the power returns)."""
        self.printer.clear(Fault(fault))
        await self._follow_power()

    async def act(self, action: Action | str, **params: Any) -> None:
        """Do what an operator does at the printer: load blanks or a ribbon, clear a jam, power on …"""
        self.printer.act(Action(action), **params)
        await self._follow_power()

    def snapshot(self) -> dict[str, Any]:
        """The printer's state as ``GET /state`` shows it."""
        return {**self.printer.snapshot(), "endpoints": self.endpoints()}

    def card_log(self) -> list[dict[str, Any]]:
        """Every card the printer output, oldest first (``GET /log``)."""
        return self.printer.card_log()

    def _pty_link(self) -> Path:
        if isinstance(self.config.pty, Path):
            return self.config.pty
        return self._own_dir() / f"{self.config.name}.tty"

    def _own_dir(self) -> Path:
        """The state dir, else a temporary folder of ours (mode 0700) removed on stop."""
        if self.config.state_dir is not None:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
            return self.config.state_dir
        if self._temp_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="ektp-emulator-"))
        return self._temp_dir

    def _write_control_token(self, token: str) -> Path:
        """``control-token``, mode 0600 from the start, replaced whole so that a reader never sees half of it."""
        path = self._own_dir() / CONTROL_TOKEN_FILE
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(token + "\n")
        os.replace(temporary, path)
        return path

    def _drop_links(self) -> None:
        for endpoint in (self._tcp, self._pty):
            if endpoint is not None:
                endpoint.drop()

    def _suspend(self) -> None:
        self._suspended = True
        for endpoint in (self._tcp, self._pty):
            if endpoint is not None:
                endpoint.suspend()

    async def _follow_power(self) -> None:
        if self._suspended and self.printer.powered:
            self._suspended = False
            for endpoint in (self._tcp, self._pty):
                if endpoint is not None:
                    await endpoint.resume()
