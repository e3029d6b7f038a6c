"""Passwords: Argon2id hashes (pwdlib's recommended parameters), hashed and checked off the event loop.

A sign-in for a username that does not exist is checked against a hash made at start, so it costs as much
as a wrong password and the answer's time does not tell which usernames exist.
"""

from __future__ import annotations

import asyncio
import functools

from pwdlib import PasswordHash

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check", "hash_password"]

MIN_LENGTH = 10
MAX_LENGTH = 128  # Argon2 takes any length; this bounds the work one request can ask for

_HASHER = PasswordHash.recommended()


@functools.cache
def _unknown_user_hash() -> str:
    return _HASHER.hash("not a password of anyone's")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def check(password: str, stored: str | None) -> tuple[bool, str | None]:
    """``(matches, rehashed)``: ``rehashed`` is a new hash when the stored one used weaker parameters than today's.
    ``stored`` None (no such user) is checked against a decoy and never matches."""
    if stored is None:
        await asyncio.to_thread(_HASHER.verify, password, _unknown_user_hash())
        return False, None
    return await asyncio.to_thread(_HASHER.verify_and_update, password, stored)
