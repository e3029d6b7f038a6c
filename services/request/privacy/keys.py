"""Data keys: photos and signatures sealed at rest (AES-256-GCM) under keys kept in a file, never in the database.

The keys file (``Settings.data_keys_file``; made by ``ektp keys init-data`` and ``ektp up``, the compose ``keys``
job; ``ektp keys rotate-data`` adds a key and makes it current)::

    {"current": "20261104-a1b2c3d4", "keys": {"20261104-a1b2c3d4": "<base64 of 32 random bytes>", ...}}

It must be owned by its reader and not open to others: a file that other users may read, or that its group may
write, stops the service at start (compose makes it 0640, root-owned, group ektp; ``ektp up`` 0600). A missing or
malformed file stops it too, naming the setting: the service never makes keys of its own, because a second
replica or a restart with another volume would then seal under a key nobody else holds.

A sealed image, as ``print_requests.photo`` / ``.signature`` keep it::

    b"EKS" | version (1 byte, 1) | key id length n (1 byte) | key id (n ASCII bytes) | nonce (12) | ciphertext+tag (16)

The associated data is that header, the request id and the field name, so a sealed photo cannot be moved to
another request or swapped with the signature. The key id is also in the ``data_key_id`` column, for rotation to
find rows by key. Empty bytes (the retention purge emptied them) stay empty. A blob without the header is a plain
image written before encryption (``data_key_id`` NULL); it is returned as it is until rotation seals it.

The file is re-read when its mtime, size or inode change, looked at once a second at most, and at once when a
blob names a key the ring lacks (another replica rotated first): rotation writes the new key, waits past that
interval, and only then re-seals rows, so every reader holds both keys meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "IMAGE_FIELDS",
    "MAGIC",
    "DataKeyError",
    "Keyring",
    "KeysFileError",
    "SealedDataError",
    "add_key",
    "create_keys_file",
    "drop_keys",
    "is_sealed",
    "new_key_id",
    "read_keys_file",
    "write_keys_file",
]

log = logging.getLogger(__name__)

MAGIC = b"EKS"
VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
IMAGE_FIELDS = ("photo", "signature")
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")  # fits data_key_id (String(32)) and one length byte
SETTING = "data_keys_file (EKTP_REQUEST_DATA_KEYS_FILE)"


class DataKeyError(Exception):
    """Base of this module's errors.

    - ``KeysFileError``: the keys file is missing, malformed or open to others (the service does not start).
    - ``SealedDataError``: a sealed image cannot be opened: changed in the database, moved to another request or
      field, or sealed under a key the file no longer holds.
    """


class KeysFileError(DataKeyError):
    pass


class SealedDataError(DataKeyError):
    def __init__(self, message: str, *, request_id: str, field: str) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.field = field


def new_key_id(now: dt.datetime | None = None) -> str:
    """A key id that sorts by creation day and never repeats: ``20261104-a1b2c3d4``."""
    return f"{(now or dt.datetime.now(dt.UTC)):%Y%m%d}-{secrets.token_hex(4)}"


def is_sealed(blob: bytes) -> bool:
    return blob[:3] == MAGIC


def _header(key_id: str) -> bytes:
    raw = key_id.encode("ascii")
    return MAGIC + bytes([VERSION, len(raw)]) + raw


def _associated(header: bytes, request_id: str, field: str) -> bytes:
    return b"\x00".join([header, request_id.encode(), field.encode()])


# --- the file -----------------------------------------------------------------------------------------------


def read_keys_file(path: Path) -> tuple[str, dict[str, bytes]]:
    """``(current id, {id: key})`` of ``path``; ``KeysFileError`` naming the setting and what is wrong."""
    try:
        stat = path.stat()
        text = path.read_text()
    except FileNotFoundError:
        raise KeysFileError(
            f"no data keys file at {path}: set {SETTING}, or make it with `ektp keys init-data --file {path}`"
        ) from None
    except OSError as exc:
        raise KeysFileError(f"cannot read the data keys file {path} ({SETTING}): {exc}") from None
    if stat.st_mode & 0o027:
        raise KeysFileError(
            f"the data keys file {path} ({SETTING}) is open to others (mode {stat.st_mode & 0o777:o}): "
            f"`chmod 600 {path}` (0640 for a group that only reads it)"
        )
    try:
        document = json.loads(text)
        current = document["current"]
        keys = {str(key_id): base64.b64decode(value, validate=True) for key_id, value in document["keys"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise KeysFileError(f"the data keys file {path} ({SETTING}) is not valid: {exc!r}") from None
    bad = [key_id for key_id, key in keys.items() if not KEY_ID.match(key_id) or len(key) != KEY_BYTES]
    if bad:
        raise KeysFileError(f"the data keys file {path} has keys that are not 32 bytes under a short id: {bad}")
    if current not in keys:
        raise KeysFileError(f"the data keys file {path} names a current key {current!r} it does not hold")
    return current, keys


def write_keys_file(path: Path, current: str, keys: Mapping[str, bytes]) -> None:
    """Replace ``path`` atomically: written beside it, then renamed over it, so a reader never sees half a file.

    The new file keeps the old one's mode and group (compose: 0640 root:ektp), else 0600; a group that cannot be
    given (not root) stops here, before the old file is replaced.
    """
    if current not in keys:
        raise ValueError(f"current key {current!r} is not among the keys")
    document = {"current": current, "keys": {key_id: base64.b64encode(key).decode() for key_id, key in keys.items()}}
    previous = path.stat() if path.exists() else None
    mode = (previous.st_mode & 0o640) if previous is not None else 0o600
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, mode | 0o600)
        if previous is not None and os.fstat(descriptor).st_gid != previous.st_gid:
            os.fchown(descriptor, -1, previous.st_gid)
        with os.fdopen(descriptor, "w") as file:
            descriptor = -1
            file.write(json.dumps(document, indent=2) + "\n")
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        if descriptor != -1:
            os.close(descriptor)
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def add_key(path: Path) -> str:
    """Rotation's first step: a fresh key in ``path``, made current; the old keys stay (rows still use them)."""
    _, keys = read_keys_file(path)
    key_id = new_key_id()
    write_keys_file(path, key_id, {**keys, key_id: AESGCM.generate_key(bit_length=256)})
    return key_id


def drop_keys(path: Path, used: set[str]) -> list[str]:
    """Rotation's last step: drop the keys no row uses (never the current one); the ids dropped."""
    current, keys = read_keys_file(path)
    dropped = sorted(key_id for key_id in keys if key_id != current and key_id not in used)
    if dropped:
        write_keys_file(path, current, {key_id: key for key_id, key in keys.items() if key_id not in dropped})
    return dropped


def create_keys_file(path: Path) -> bool:
    """Make ``path`` with one fresh key, current, mode 0600, unless it exists; True if it was made."""
    if path.exists():
        return False
    key_id = new_key_id()
    write_keys_file(path, key_id, {key_id: AESGCM.generate_key(bit_length=256)})
    return True


# --- the ring -----------------------------------------------------------------------------------------------


class Keyring:
    """The keys of the data keys file: ``seal`` with the current one, ``open`` with whichever a blob names."""

    def __init__(self, path: Path, *, check_every: float = 1.0) -> None:
        self.path = path
        self.check_every = check_every
        self._lock = threading.Lock()  # batches seal in a worker thread
        self._checked = time.monotonic()
        self._seen = self._signature()
        self._current, keys = read_keys_file(path)
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @property
    def current_id(self) -> str:
        self._refresh()
        return self._current

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def seal(self, plain: bytes, *, request_id: str, field: str) -> bytes:
        """``plain`` sealed under the current key for this request's ``field``; empty stays empty."""
        self._refresh()
        return self._seal_with(self._current, plain, request_id=request_id, field=field)

    def seal_images(self, values: MutableMapping[str, Any]) -> None:
        """Seal ``values``' photo and signature under its ``id`` and set ``data_key_id``: a row about to be written."""
        self._refresh()
        values["data_key_id"] = key_id = self._current
        for field in IMAGE_FIELDS:
            values[field] = self._seal_with(key_id, values[field], request_id=values["id"], field=field)

    def _seal_with(self, key_id: str, plain: bytes, *, request_id: str, field: str) -> bytes:
        if not plain:
            return b""
        header = _header(key_id)
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._ciphers[key_id].encrypt(nonce, plain, _associated(header, request_id, field))

    def open(self, blob: bytes, *, request_id: str, field: str, key_id: str | None = None) -> bytes:
        """The image in ``blob`` (stored for ``request_id``'s ``field``; ``key_id`` its ``data_key_id`` column).

        Plain bytes come back as they are, unless the column says they were sealed. ``SealedDataError`` when the
        blob was changed, moved, or names a key the file does not hold (after reading the file again)."""
        if not is_sealed(blob):
            if key_id is not None and blob:
                raise SealedDataError(
                    f"request {request_id}: its {field} should be sealed under key {key_id} but is not",
                    request_id=request_id,
                    field=field,
                )
            return blob
        if len(blob) < 5 or blob[3] != VERSION:
            raise SealedDataError(
                f"request {request_id}: its {field} has an unknown format", request_id=request_id, field=field
            )
        end = 5 + blob[4]
        header, nonce, sealed = blob[:end], blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]
        named = header[5:].decode("ascii", "replace")
        if key_id is not None and named != key_id:
            raise SealedDataError(
                f"request {request_id}: its {field} is sealed under key {named}, its row names {key_id}",
                request_id=request_id,
                field=field,
            )
        cipher = self._ciphers.get(named)
        if cipher is None:
            self._refresh(now=True)
            cipher = self._ciphers.get(named)
        if cipher is None:
            raise SealedDataError(
                f"request {request_id}: its {field} is sealed under key {named}, which {self.path} does not hold",
                request_id=request_id,
                field=field,
            )
        try:
            return cipher.decrypt(nonce, sealed, _associated(header, request_id, field))
        except InvalidTag:
            raise SealedDataError(
                f"request {request_id}: its sealed {field} does not open (changed in the database, or not this "
                f"request's {field})",
                request_id=request_id,
                field=field,
            ) from None

    # -- re-reading ----------------------------------------------------------------------------------------

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _refresh(self, *, now: bool = False) -> None:
        moment = time.monotonic()
        if not now and moment - self._checked < self.check_every:
            return
        self._checked = moment
        seen = self._signature()
        if seen == self._seen or seen is None:
            return  # unchanged, or gone for a moment: keep the keys held
        with self._lock:
            try:
                current, keys = read_keys_file(self.path)
            except KeysFileError as exc:
                log.error("data keys file not re-read, the keys held are kept: %s", exc)
                self._seen = seen
                return
            # The file is the whole truth: a retired key is gone from memory too.
            self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
            self._current, self._seen = current, seen
        log.info("data keys re-read", extra={"current": current, "keys": len(keys)})
