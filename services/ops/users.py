"""``ektp user add | passwd | disable | enable | list``: office staff accounts, in the request service's database.

ektp user add USERNAME --role ROLE [--kecamatan CODE ...] [--name "FULL NAME"]
ektp user passwd USERNAME        a new password (also unlocks a locked account)
ektp user disable USERNAME       no more sign-ins (tokens already given live until they expire)
ektp user enable USERNAME
ektp user list

The password is asked for twice at a terminal, or read as the first line of standard input (scripts, compose:
``printf '%s\\n' "$PW" | ektp user add …``); never from the command line, where other users could read it. The
database is the request service's own (``EKTP_REQUEST_DATABASE_URL``); each change is audited as done by
``ektp user`` (role admin) with the same rules as ``POST /v1/users``. Staff then sign in at the console.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from services.common.auth import Principal, Role
from services.common.db import Database
from services.common.problems import Problem
from services.request.context import ServiceContext
from services.request.staff import service
from services.request.staff.schemas import UserChange, UserIn

__all__ = ["add_user_commands"]

CLI = Principal(subject="ektp user", role=Role.ADMIN)


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the two passwords differ")
    return first


def _run(work: Callable[[Any, ServiceContext], Awaitable[str]]) -> int:
    from services.ops.cli import service_settings  # cli imports this module

    settings = service_settings("request")
    context = ServiceContext.from_settings(settings)

    async def run() -> str:
        db = Database(settings.resolved_database_url(), pool_size=1, max_overflow=0)
        try:
            async with db.transaction() as session:
                return await work(session, context)
        finally:
            await db.dispose()

    try:
        print(asyncio.run(run()))
    except Problem as problem:
        fields = "; ".join(f"{e.field}: {e.reason}" for e in problem.errors or ())
        print(f"ektp user: {problem.detail}{' (' + fields + ')' if fields else ''}", file=sys.stderr)
        return 1
    return 0


def _validated(model: Any, **values: Any) -> Any:
    try:
        return model(**values)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"ektp user: {reasons}") from None


def _cmd_add(args: argparse.Namespace) -> int:
    body = _validated(
        UserIn,
        username=args.username,
        password=_password(),
        role=args.role,
        kecamatan=args.kecamatan or [],
        full_name=args.name or "",
    )

    async def add(session: Any, context: ServiceContext) -> str:
        user = await service.add_user(session, context, CLI, body)
        where = f" for {', '.join(service.user_out(user).kecamatan)}" if user.kecamatan else ""
        return f"user {user.username} added: {user.role}{where}"

    return _run(add)


def _change(username: str, done: str, **values: Any) -> int:
    body = _validated(UserChange, **values)

    async def change(session: Any, context: ServiceContext) -> str:
        user = await service.change_user(session, context, CLI, username, body)
        return f"user {user.username}: {done}"

    return _run(change)


def _cmd_list(_args: argparse.Namespace) -> int:
    async def listing(session: Any, _context: ServiceContext) -> str:
        lines = []
        for user in map(service.user_out, await service.list_users(session)):
            state = "disabled" if user.disabled else ("locked" if user.locked_until else "active")
            lines.append(f"{user.username:24} {user.role:9} {state:9} {','.join(user.kecamatan)}")
        return "\n".join(lines) or "no users yet: ektp user add USERNAME --role admin"

    return _run(listing)


def add_user_commands(sub: Any) -> None:
    user = sub.add_parser("user", help="office staff accounts").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="a new staff account (password from a prompt or stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["admin", "operator", "clerk"])
    add.add_argument("--kecamatan", action="append", metavar="CODE", help="a clerk's kecamatan, e.g. 18.09.01")
    add.add_argument("--name", help="the staff member's full name")
    add.set_defaults(func=_cmd_add)
    passwd = user.add_parser("passwd", help="a new password (from a prompt or stdin); unlocks the account")
    passwd.add_argument("username")
    passwd.set_defaults(func=lambda a: _change(a.username, "password changed", password=_password()))
    disable = user.add_parser("disable", help="no more sign-ins for this account")
    disable.add_argument("username")
    disable.set_defaults(func=lambda a: _change(a.username, "disabled", disabled=True))
    enable = user.add_parser("enable", help="sign-ins allowed again")
    enable.add_argument("username")
    enable.set_defaults(func=lambda a: _change(a.username, "enabled", disabled=False))
    user.add_parser("list", help="every staff account").set_defaults(func=_cmd_list)
