"""Which printer URLs the gateway opens: a serial device matching the configured globs, or
``socket://host:port`` at a configured printer endpoint. Nothing else pyserial can open.

pyserial opens far more than printers: ``spy://…?file=`` writes (truncates) any file the gateway may write,
``socket://`` and ``rfc2217://`` dial any host, and ``loop://``, ``alt://``, ``hwgrep://``, ``cp2110://`` pick
other handlers or devices. A printer's URL comes in over the API, so it is checked when a printer is registered
and again right before a port is opened (a row written before the check existed, or by hand, is refused too).

    urls = PrinterUrls.of(devices=["/dev/ttyUSB*"], hosts=["10.0.0.21:9100", "10.0.0.30:9100-9103", "127.0.0.1:*"])
    urls.check("socket://10.0.0.21:9100")          # returns
    urls.check("spy://loop://?file=/etc/passwd")   # raises UrlRefused

A device glob's ``*`` stays within one path segment (``/dev/ttyUSB*`` does not match ``/dev/ttyUSB0/../x``).
Hosts are compared as written, without resolving names: ``localhost`` is not ``127.0.0.1``.
"""

from __future__ import annotations

import posixpath
import string
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import SplitResult, urlsplit

__all__ = ["DEFAULT_DEVICES", "Endpoint", "PrinterUrls", "UrlRefused"]

# Serial lines, USB-serial adapters, USB CDC-ACM printers, and udev's stable names for them (docs/drivers.md).
# No pseudo-terminal (/dev/pts/*): that is the emulator's, for tests and development only.
DEFAULT_DEVICES = ("/dev/ttyS*", "/dev/ttyUSB*", "/dev/ttyACM*", "/dev/serial/by-id/*")

SOCKET = "socket"
_PORTS = range(1, 65536)
# What a device path may be made of: no "?", "#", "%", spaces or glob characters, and (checked apart) no "://",
# which would make pyserial pick a URL handler.
_DEVICE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/._+:-")


class UrlRefused(ValueError):
    """The URL is not one the gateway opens; ``reason`` says why in a sentence (no secrets, no URL echo)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Endpoint:
    """A printer endpoint: a host as written and the ports allowed on it (``host:port``, ``host:lo-hi``, ``host:*``)."""

    host: str
    low: int
    high: int

    @classmethod
    def parse(cls, entry: str) -> Endpoint:
        host, sep, ports = entry.strip().rpartition(":")
        host = host.removeprefix("[").removesuffix("]").lower()
        if not sep or not host or any(c in host for c in "*?[]/@ "):
            raise ValueError(f"printer endpoint {entry!r}: write host:port, host:low-high or host:*")
        if ports == "*":
            return cls(host, _PORTS.start, _PORTS.stop - 1)
        low, _, high = ports.partition("-")
        try:
            endpoint = cls(host, int(low), int(high or low))
        except ValueError:
            raise ValueError(f"printer endpoint {entry!r}: the port must be a number, low-high or *") from None
        if not (endpoint.low in _PORTS and endpoint.high in _PORTS and endpoint.low <= endpoint.high):
            raise ValueError(f"printer endpoint {entry!r}: ports run from 1 to 65535, low first")
        return endpoint

    def admits(self, host: str, port: int) -> bool:
        return host == self.host and self.low <= port <= self.high


@dataclass(frozen=True)
class PrinterUrls:
    """The allowlist: device globs and printer endpoints. ``check`` raises ``UrlRefused``; ``allows`` says yes/no."""

    devices: tuple[str, ...]
    endpoints: tuple[Endpoint, ...]

    @classmethod
    def of(cls, *, devices: Iterable[str] = (), hosts: Iterable[str] = (), urls: Iterable[str] = ()) -> PrinterUrls:
        """From settings: device globs, ``host:port`` entries, and printer URLs allowed as they are (the printers
        named in the settings). Raises ValueError for an entry the gateway would refuse anyway."""
        globs, endpoints = list(devices), [Endpoint.parse(entry) for entry in hosts]
        for glob in globs:
            if not glob.startswith("/dev/"):
                raise ValueError(f"printer device {glob!r}: devices are paths under /dev/")
        for url in urls:
            try:
                found = _parse(url)
            except UrlRefused as refused:
                raise ValueError(f"printer URL {url!r}: {refused.reason}") from None
            if isinstance(found, str):
                globs.append(found)
            else:
                endpoints.append(Endpoint(found[0], found[1], found[1]))
        return cls(tuple(globs), tuple(endpoints))

    def check(self, url: str) -> None:
        """Return if the gateway may open ``url``; else raise ``UrlRefused`` saying why."""
        found = _parse(url)
        if isinstance(found, str):
            if not any(_glob_match(found, glob) for glob in self.devices):
                raise UrlRefused("this serial device is not among the printer devices the gateway allows")
            return
        host, port = found
        if not any(endpoint.admits(host, port) for endpoint in self.endpoints):
            raise UrlRefused("this host and port is not a printer endpoint the gateway allows")

    def allows(self, url: str) -> bool:
        try:
            self.check(url)
        except UrlRefused:
            return False
        return True


def _parse(url: str) -> str | tuple[str, int]:
    """A device path, or (host, port) of a ``socket://`` URL; ``UrlRefused`` for anything else."""
    if not url or not url.isprintable() or any(c.isspace() for c in url):
        raise UrlRefused("a printer URL is one line of visible characters")
    if url.startswith("/"):
        return _device(url)
    parts = urlsplit(url)
    if parts.scheme != SOCKET or not url.startswith(SOCKET + "://"):
        raise UrlRefused("a printer URL is a serial device path (/dev/…) or socket://host:port; nothing else")
    return _endpoint(url, parts)


def _device(path: str) -> str:
    if "://" in path or not set(path) <= _DEVICE_CHARACTERS:
        raise UrlRefused("a serial device path has letters, digits and / . _ + : - only")
    if posixpath.normpath(path) != path or path.startswith("//"):
        raise UrlRefused("a serial device path is written in full, without . or .. or doubled slashes")
    return path


def _endpoint(url: str, parts: SplitResult) -> tuple[str, int]:
    # pyserial reads options from the query (socket://…?logging=debug); a printer needs none.
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise UrlRefused("a socket:// printer URL takes no options (nothing after ? or #)")
    if parts.path or "@" in parts.netloc:
        raise UrlRefused("a socket:// printer URL is socket://host:port, nothing more")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or port not in _PORTS:
        raise UrlRefused("a socket:// printer URL needs a host and a port from 1 to 65535")
    return parts.hostname.lower(), port


def _glob_match(path: str, glob: str) -> bool:
    """``glob`` matches ``path`` segment by segment: a ``*`` never crosses a ``/``."""
    segments, patterns = path.split("/"), glob.split("/")
    return len(segments) == len(patterns) and all(map(fnmatchcase, segments, patterns))
