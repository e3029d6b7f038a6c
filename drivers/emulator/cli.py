"""``ektp emulator``: software card printers on real ports, until Ctrl-C or SIGTERM.

    ektp emulator --port 0 --pty --time-scale 100 --control-port 0

On start it prints one line per endpoint, then one JSON line per printer for programs to read:
    {"name": "printer-1", "url": "socket://127.0.0.1:40211", "pty": "…/printer-1.tty", "device": "/dev/pts/3",
     "control": "http://127.0.0.1:40212", "control_token_file": "…/control-token", "state_dir": null, "pid": 4242}
Port 0 picks a free port. With --count N, printer i listens on PORT+i-1 (control likewise) unless 0.
The control API listens on loopback and takes the bearer token in its control_token_file (mode 0600, made anew
on every start: <state dir>/control-token, else in a private temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from drivers.emulator.config import ALL_EXTENSIONS, EmulatorConfig
from drivers.emulator.emulator import Emulator
from drivers.emulator.faults import FaultSpec

__all__ = ["main"]

log = logging.getLogger("drivers.emulator")


def _extensions(text: str) -> frozenset[str]:
    if text == "all":
        return ALL_EXTENSIONS
    if text == "none":
        return frozenset()
    chosen = frozenset(name.strip() for name in text.split(",") if name.strip())
    if chosen - ALL_EXTENSIONS:
        raise argparse.ArgumentTypeError(f"unknown extensions {sorted(chosen - ALL_EXTENSIONS)}")
    return chosen


def _fault(text: str) -> str:
    try:
        FaultSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ektp emulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ports = parser.add_argument_group("ports")
    ports.add_argument("--host", default="127.0.0.1")
    ports.add_argument("--port", type=int, default=9101, help="TCP port for socket:// (0: any free port)")
    ports.add_argument("--no-tcp", action="store_true", help="no TCP endpoint (pty only)")
    ports.add_argument(
        "--pty",
        nargs="?",
        const=True,
        default=False,
        metavar="PATH",
        help="also a pseudo-terminal; its stable path (a symlink): PATH, or <state dir|temp dir>/<name>.tty",
    )
    ports.add_argument("--control-port", type=int, default=9201, help="HTTP control API (0: any free port)")
    ports.add_argument("--control-host", default="127.0.0.1", help="the control API's address (loopback only)")
    ports.add_argument(
        "--control-remote",
        action="store_true",
        help="let --control-host be a non-loopback address: whoever reaches it with the token drives the printer",
    )
    ports.add_argument("--no-control", action="store_true", help="no control API")

    printer = parser.add_argument_group("printer")
    printer.add_argument("--name", default="printer-1")
    printer.add_argument("--count", type=int, default=1, help="run N printers in this process")
    printer.add_argument("--speed", type=float, default=120.0, metavar="CARDS_PER_HOUR", help="0: no print time")
    printer.add_argument("--time-scale", type=float, default=1.0, metavar="X", help="100: a hundred times faster; inf")
    printer.add_argument(
        "--serials",
        default="KTP00000001-KTP00000500",
        metavar="FIRST-LAST",
        help="blanks in the input hopper (a fresh state dir only)",
    )
    printer.add_argument("--ribbon", type=int, default=250, metavar="PRINTS")
    printer.add_argument("--ribbon-low", type=int, default=None, metavar="PRINTS", help="default: a tenth")
    printer.add_argument("--output-capacity", type=int, default=100, metavar="CARDS")
    printer.add_argument("--clean-after", type=int, default=1000, metavar="CARDS")
    printer.add_argument("--feeder-low", type=int, default=20, metavar="BLANKS")
    printer.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep state and card log here across restarts (per printer: DIR/<name> with --count)",
    )
    printer.add_argument("--model", default="Primacy")
    printer.add_argument("--firmware", default="EKTP-EMU 1.0")
    printer.add_argument(
        "--extensions",
        type=_extensions,
        default=ALL_EXTENSIONS,
        metavar="all|none|LIST",
        help=f"extensions to offer (none: a plain Evolis); known: {','.join(sorted(ALL_EXTENSIONS))}",
    )
    printer.add_argument("--no-cr", action="store_true", help="answer without CR, like a real Evolis")
    printer.add_argument("--download-timeout", type=float, default=10.0, metavar="SECONDS")
    printer.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME[@CARD]",
        help="inject at start, or during the CARDth card (repeatable): card_jam@3",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser


def _configs(args: argparse.Namespace) -> list[EmulatorConfig]:
    base = EmulatorConfig(
        name=args.name,
        host=args.host,
        port=None if args.no_tcp else args.port,
        pty=Path(args.pty) if isinstance(args.pty, str) else bool(args.pty),
        control_port=None if args.no_control else args.control_port,
        control_host=args.control_host,
        control_remote=args.control_remote,
        speed=args.speed,
        time_scale=args.time_scale,
        serials=args.serials,
        ribbon=args.ribbon,
        ribbon_low=args.ribbon_low,
        output_capacity=args.output_capacity,
        clean_after=args.clean_after,
        feeder_low=args.feeder_low,
        state_dir=args.state_dir,
        model=args.model,
        firmware=args.firmware,
        extensions=args.extensions,
        terminator=not args.no_cr,
        download_timeout=args.download_timeout,
        faults=tuple(args.fault),
    )
    if args.count == 1:
        return [base]

    def offset(port: int | None, i: int) -> int | None:
        return port if not port else port + i

    return [
        replace(
            base,
            name=f"{args.name}-{i + 1}",
            port=offset(base.port, i),
            control_port=offset(base.control_port, i),
            pty=base.pty if not isinstance(base.pty, Path) else base.pty.with_name(f"{base.pty.name}-{i + 1}"),
            state_dir=None if base.state_dir is None else base.state_dir / f"{args.name}-{i + 1}",
        )
        for i in range(args.count)
    ]


async def _run(configs: list[EmulatorConfig]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        for config in configs:
            emulator = await stack.enter_async_context(Emulator(config))
            name = config.name
            if emulator.url:
                print(f"{name}: listening on {emulator.url}")
            if emulator.pty_path:
                print(f"{name}: pseudo-terminal {emulator.pty_path} -> {emulator.endpoints()['device']}")
            if emulator.control_url:
                print(f"{name}: control API on {emulator.control_url} (token in {emulator.control_token_file})")
            print(json.dumps({**emulator.endpoints(), "pid": os.getpid()}), flush=True)
        await stop.wait()
        log.info("stopping")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the emulator(s) until SIGINT or SIGTERM; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if args.count < 1:
        print("--count must be at least 1", file=sys.stderr)
        return 2
    try:
        configs = _configs(args)
    except ValueError as exc:
        print(f"ektp emulator: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(configs))
    except OSError as exc:
        print(f"ektp emulator: {exc}", file=sys.stderr)
        return 1
