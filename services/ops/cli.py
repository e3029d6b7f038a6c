"""The ``ektp`` command: serve a service, migrate, issue tokens, run an emulator, start everything.

ektp up                                   everything on the embedded default (SQLite)
ektp serve request|inventory|gateway      one service (ports 8001, 8002, 8003)
ektp migrate [SERVICE]                    run alembic migrations (all services by default)
ektp token create --role ROLE [...]       print a signed token on stdout
ektp token revoke TOKEN_OR_ID             refuse a token in every service from now on
ektp keys init | init-data                the signing key pair | the data keys sealing photos and signatures
ektp keys rotate-data [--retire]          a new data key, every photo and signature sealed again under it
ektp user add|passwd|disable|enable|list  office staff accounts (they sign in at the console)
ektp emulator [...]                       a software card printer on a real port
ektp status                               printers, queue and stock at a glance
ektp import-batch FILE                    upload a kecamatan batch with a progress bar
"""

from __future__ import annotations

import argparse
import importlib
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt

from services.common.auth import MAX_TTL, SUBJECT_REQUIRED, Role, ensure_key_pair, issue_token, parse_duration
from services.common.migrate import SERVICES, upgrade
from services.common.revocation import revoke
from services.common.settings import DATA_DIR
from services.ops.audit import add_audit_commands
from services.ops.data_keys import add_data_key_commands
from services.ops.office import add_office_commands
from services.ops.users import add_user_commands

__all__ = ["main", "service_settings"]

DEFAULT_PORTS = {"request": 8001, "inventory": 8002, "gateway": 8003}
KEY_DIR = DATA_DIR / "keys"


def _service_module(service: str, module: str) -> ModuleType:
    return importlib.import_module(f"services.{service}.{module}")


def service_settings(service: str, **overrides: Any) -> Any:
    """The service's settings from its environment variables (read now, when the command runs)."""
    settings_cls = _service_module(service, "config").Settings
    return settings_cls(**overrides)


def _cmd_serve(args: argparse.Namespace) -> int:
    from services.common.server import serve

    settings = service_settings(args.service)
    app = _service_module(args.service, "app").create_app(settings)
    serve(app, host=args.host, port=args.port or DEFAULT_PORTS[args.service])
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    for service in [args.service] if args.service else SERVICES:
        url = service_settings(service).resolved_database_url()
        upgrade(service, url)
        print(f"{service}: migrated to head", file=sys.stderr)
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    key_file: Path = args.private_key
    if not key_file.exists():
        if key_file != KEY_DIR / "jwt-private.pem":
            print(f"no private key at {key_file}", file=sys.stderr)
            return 2
        ensure_key_pair(KEY_DIR)
    role = Role(args.role)
    missing = []
    if role is Role.CLERK and not args.kecamatan:
        missing.append("--kecamatan CODE (the kecamatan it acts for)")
    if role in SUBJECT_REQUIRED and not args.subject:
        missing.append("--subject NAME (the person or system it is for)")
    if missing:
        print(f"a {role.value} token needs " + " and ".join(missing), file=sys.stderr)
        return 2
    try:
        token = issue_token(
            key_file.read_bytes(),
            role=role,
            # A token nobody named gets a subject of its own: no two share one by default.
            subject=args.subject or f"{role.value}-{secrets.token_hex(4)}",
            scope=args.kecamatan,
            ttl=parse_duration(args.ttl),
        )
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(token)
    return 0


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    """Add a token (or a token id) to the revocation list that every service reads."""
    text: str = args.token.strip()
    if text.count(".") == 2:
        # Only its claims are needed: a forged or expired token on the list harms nobody.
        claims = jwt.decode(text, options={"verify_signature": False, "verify_exp": False, "verify_aud": False})
        if not claims.get("jti"):
            print("this token has no id (jti): it was made before revocation existed; rotate the key", file=sys.stderr)
            return 2
    else:
        claims = {"jti": text}
    added = revoke(args.file, claims, reason=args.reason)
    print(f"token {claims['jti']} {'revoked' if added else 'was already revoked'} ({args.file})", file=sys.stderr)
    return 0


def _cmd_keys_init(args: argparse.Namespace) -> int:
    private, public = ensure_key_pair(args.dir, args.name)
    print(f"private key: {private}\npublic key:  {public}", file=sys.stderr)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from services.ops.stack import StackOptions, run_stack

    return run_stack(
        StackOptions(
            host=args.host,
            base_port=args.base_port,
            printer_port=args.printer_port,
            printers=args.printers,
            blanks=args.blanks,
            time_scale=args.time_scale,
            output_capacity=args.output_capacity,
            data_dir=args.data_dir,
            demo=args.demo,
        )
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ektp", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start everything on the embedded default (SQLite)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--base-port", type=int, default=8001, help="request service port; the others follow")
    up.add_argument("--printer-port", type=int, default=9101, help="first emulator's port; control ports +100")
    up.add_argument("--printers", type=int, default=2, help="emulated card printers")
    up.add_argument("--blanks", type=int, default=8016, help="blank cards in the first tranche")
    up.add_argument("--time-scale", type=float, default=20.0, help="emulated print time: real time / X")
    up.add_argument("--output-capacity", type=int, default=100, help="cards an emulator's output tray holds")
    up.add_argument("--data-dir", type=Path, default=DATA_DIR, help="databases, keys, emulator state")
    up.add_argument("--demo", action="store_true", help="also load Pesawaran demo residents and a batch")
    up.set_defaults(func=_cmd_up)

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="default: 8001, 8002, 8003")
    serve.set_defaults(func=_cmd_serve)

    migrate = sub.add_parser("migrate", help="run alembic migrations")
    migrate.add_argument("service", nargs="?", choices=SERVICES)
    migrate.set_defaults(func=_cmd_migrate)

    token = sub.add_parser("token", help="tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="print a signed token on stdout")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--kecamatan", action="append", default=[], metavar="CODE", help="a clerk's kecamatan (repeatable)"
    )
    create.add_argument(
        "--subject", default="", metavar="NAME", help="who or what the token is for (required for clerk and partner)"
    )
    longest = ", ".join(f"{role.value} {int(ttl.total_seconds() // 3600)}h" for role, ttl in MAX_TTL.items())
    create.add_argument("--ttl", default="8h", metavar="DURATION", help=f"e.g. 90s, 15m, 8h, 30d; at most: {longest}")
    create.add_argument("--private-key", type=Path, default=KEY_DIR / "jwt-private.pem")
    create.set_defaults(func=_cmd_token_create)
    revoke_ = token.add_parser("revoke", help="refuse a token everywhere from now on")
    revoke_.add_argument("token", metavar="TOKEN_OR_ID", help="the token itself, or its id (jti)")
    revoke_.add_argument("--reason", default="", help="kept in the revocation list")
    revoke_.add_argument("--file", type=Path, default=KEY_DIR / "revoked-tokens.jsonl", help="the revocation list")
    revoke_.set_defaults(func=_cmd_token_revoke)

    keys = sub.add_parser("keys", help="signing and data keys").add_subparsers(dest="keys_command", required=True)
    init = keys.add_parser("init", help="create the development key pair unless it exists")
    init.add_argument("--dir", type=Path, default=KEY_DIR)
    init.add_argument(
        "--name", default="jwt", choices=["jwt", "staff"], help="jwt: the main key; staff: the staff sign-in key"
    )
    init.set_defaults(func=_cmd_keys_init)
    add_data_key_commands(keys)

    add_office_commands(sub)
    add_user_commands(sub)
    add_audit_commands(sub)

    sub.add_parser("emulator", help="a software card printer (ektp emulator --help)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from drivers.emulator.cli import main as emulator_main

        return emulator_main(argv[1:])
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
