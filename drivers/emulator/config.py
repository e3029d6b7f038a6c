"""What an emulated printer is like: ports, speed, supplies, extensions. One frozen dataclass, passed in."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from pathlib import Path

from drivers.protocol import Extension

__all__ = ["ALL_EXTENSIONS", "EmulatorConfig", "is_loopback"]

ALL_EXTENSIONS = frozenset(extension.value for extension in Extension)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); False for a wildcard or another name."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Settings of one emulated printer; the defaults make a printer like the office's, at full speed."""

    name: str = "printer-1"
    host: str = "127.0.0.1"
    port: int | None = 0  # TCP port for socket:// (0: any free port; None: no TCP endpoint)
    pty: bool | Path = False  # a pseudo-terminal; True links it at <state dir or a temp dir>/<name>.tty
    control_port: int | None = 0  # HTTP control (0: any free port; None: none)
    control_host: str = "127.0.0.1"  # loopback only, unless control_remote
    control_remote: bool = False  # let the control API listen on a non-loopback control_host (a container's network)
    control_token: str | None = None  # the control API's bearer token; None: a random one, in a 0600 file
    speed: float = 120.0  # cards an hour (real printers: 30 to 200); 0 prints in no time
    time_scale: float = 1.0  # 100 runs a hundred times faster; inf prints in no time
    serials: str = "KTP00000001-KTP00000500"  # blanks in the input hopper of a fresh state
    ribbon: int = 250  # YMCKO prints a ribbon gives
    ribbon_low: int | None = None  # prints left that make it "low" (default: a tenth of the ribbon)
    output_capacity: int = 100
    clean_after: int = 1000  # cards between cleaning cycles; then the printer asks for one (other-warning)
    feeder_low: int = 20  # blanks left that make the feeder "low" (media-low-warning)
    state_dir: Path | None = None  # state and card log survive restarts here; None keeps them in memory
    model: str = "Primacy"
    firmware: str = "EKTP-EMU 1.0"
    printer_serial: str | None = None  # default: derived from the name
    extensions: frozenset[str] = ALL_EXTENSIONS  # frozenset(): a plain Evolis-style printer
    terminator: bool = True  # False answers without CR, like a real Evolis
    download_timeout: float = 10.0  # silence in the middle of a download before ERROR TIME OUT
    faults: tuple[str, ...] = ()  # scripted faults, e.g. "card_jam@3" (see faults.FaultSpec)

    def __post_init__(self) -> None:
        if self.speed < 0 or self.time_scale <= 0:
            raise ValueError("speed must be >= 0 and time scale > 0")
        if self.ribbon < 0 or self.output_capacity < 1 or self.clean_after < 1:
            raise ValueError("ribbon must be >= 0, output capacity and clean-after >= 1")
        unknown = self.extensions - ALL_EXTENSIONS
        if unknown:
            raise ValueError(f"unknown extensions {sorted(unknown)}; known: {sorted(ALL_EXTENSIONS)}")
        if self.control_port is not None and not self.control_remote and not is_loopback(self.control_host):
            # Whoever reaches the control API can jam, unplug and empty the printer: keep it on this machine.
            raise ValueError(
                f"the control API listens on loopback only, not on {self.control_host!r} (allow it with control_remote)"
            )
        if self.control_token is not None and not self.control_token:
            raise ValueError("an empty control token")

    @property
    def print_time(self) -> float:
        """Seconds to print one card: 3600 / speed, divided by the time scale."""
        if self.speed == 0 or math.isinf(self.time_scale):
            return 0.0
        return 3600.0 / self.speed / self.time_scale

    @property
    def ribbon_low_at(self) -> int:
        return self.ribbon // 10 if self.ribbon_low is None else self.ribbon_low

    @property
    def serial_number(self) -> str:
        return self.printer_serial or "EMU-" + "".join(c for c in self.name.upper() if c.isalnum())
