"""Revoked tokens: a list of token ids (``jti``) that every service refuses, kept in one file beside the public key.

The file is JSON Lines, one revoked token a line: ``{"jti": …, "exp": …, "subject": …, "revoked_at": …,
"reason": …}``. ``ektp token revoke`` appends to it (and drops lines whose token has expired anyway); each
service re-reads it when it changes, at most once a ``check_every`` seconds, so a revoked token stops working
everywhere within that time without a restart. In compose the file lives in the volume that carries the public
key to every service.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["RevocationList", "revoke"]


class RevocationList:
    """The revoked token ids of ``path`` (none while the file does not exist)."""

    def __init__(self, path: Path | None, *, check_every: float = 1.0) -> None:
        self.path = path
        self.check_every = check_every
        self._revoked: frozenset[str] = frozenset()
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
        self._checked = float("-inf")

    def __contains__(self, jti: object) -> bool:
        self._refresh()
        return jti in self._revoked

    def _refresh(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._checked < self.check_every:
            return
        self._checked = now
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._revoked, self._seen = frozenset(), None
            return
        if (stat.st_mtime_ns, stat.st_size) != self._seen:
            self._revoked = frozenset(entry["jti"] for entry in _read(self.path))
            self._seen = (stat.st_mtime_ns, stat.st_size)


def _read(path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            if isinstance(entry, dict) and isinstance(entry.get("jti"), str):
                entries.append(entry)
    return entries


def revoke(path: Path, claims: dict[str, Any], *, reason: str = "") -> bool:
    """Add the token with ``claims`` (its ``jti``, ``exp``, ``sub``) to the list at ``path``; False if it was there.

    Entries whose token has expired are dropped: an expired token is refused anyway. The file is replaced
    atomically, so a service never reads half of it.
    """
    now = time.time()
    existing = _read(path) if path.exists() else []
    if any(entry["jti"] == claims["jti"] for entry in existing):
        return False
    kept = [entry for entry in existing if float(entry.get("exp") or now + 1) > now]
    kept.append(
        {
            "jti": claims["jti"],
            "exp": claims.get("exp"),
            "subject": claims.get("sub"),
            "role": claims.get("role"),
            "revoked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "reason": reason,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(json.dumps(entry, sort_keys=True) + "\n" for entry in kept))
    os.chmod(partial, 0o644)  # read by every service; only the key holder writes it
    partial.replace(path)
    return True
