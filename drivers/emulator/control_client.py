"""Command-line client of the emulator's control API (see ``control_server`` for the endpoints).

The token is the emulator's ``control-token`` file (``ektp up``: ``data/emulators/<printer>/control-token``):

    python -m drivers.emulator.control_client http://127.0.0.1:9201 --token-file TOKEN_FILE state
    python -m drivers.emulator.control_client http://127.0.0.1:9201 --token-file TOKEN_FILE fault card_jam --at 3
    … fault slow_replies delay=0.5
    … clear card_jam
    … action load_blanks serials=KTP501-KTP600
    … log

Prints the JSON answer; exits 1 when the emulator refuses or cannot be reached.
Programs send ``control_headers(token_file)`` with their own HTTP client.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from drivers.emulator.faults import Action, Fault

__all__ = ["control_headers", "main"]


def control_headers(token_file: str | os.PathLike[str]) -> dict[str, str]:
    """The ``Authorization`` header for the control API, from the emulator's ``control-token`` file."""
    return {"Authorization": f"Bearer {Path(token_file).read_text().strip()}"}


def _parameters(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they can be (numbers), else kept as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected key=value, not {pair!r}")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def main(argv: list[str] | None = None) -> int:
    """Command-line client: ``python -m drivers.emulator.control_client URL state|log|fault|clear|action …``."""
    parser = argparse.ArgumentParser(
        prog="python -m drivers.emulator.control_client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the emulator's control URL, e.g. http://127.0.0.1:9201")
    parser.add_argument(
        "--token-file", type=Path, required=True, help="the emulator's control-token file (its state dir)"
    )
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("state", help="show the printer's state")
    sub.add_parser("log", help="show every card output")
    fault = sub.add_parser("fault", help="inject a fault")
    fault.add_argument("name", choices=[f.value for f in Fault])
    fault.add_argument("--at", type=int, metavar="N", help="during the Nth card from now")
    fault.add_argument("params", nargs="*", metavar="KEY=VALUE", help="e.g. delay=0.5")
    clear = sub.add_parser("clear", help="take a fault away")
    clear.add_argument("name", choices=[f.value for f in Fault])
    action = sub.add_parser("action", help="an operator action")
    action.add_argument("name", choices=[a.value for a in Action])
    action.add_argument("params", nargs="*", metavar="KEY=VALUE", help="e.g. serials=KTP00000501-KTP00000600")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    try:
        headers = control_headers(args.token_file)
    except OSError as exc:
        print(f"{args.token_file}: {exc.strerror}", file=sys.stderr)
        return 1
    with httpx.Client(base_url=base, headers=headers, timeout=10.0) as client:
        try:
            if args.what in ("state", "log"):
                response = client.get(f"/{args.what}")
            elif args.what == "fault":
                body = _parameters(args.params) | ({"at_card": args.at} if args.at is not None else {})
                response = client.post(f"/faults/{args.name}", json=body)
            elif args.what == "clear":
                response = client.delete(f"/faults/{args.name}")
            else:
                response = client.post(f"/actions/{args.name}", json=_parameters(args.params))
        except httpx.TransportError as exc:
            print(f"{base}: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(response.json(), indent=2))
    return 0 if response.is_success else 1


if __name__ == "__main__":
    raise SystemExit(main())
