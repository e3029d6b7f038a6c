"""A partner's secrets: made here, shown once, stored as little as will do.

- ``client_id`` (``ptn_…``): public, the partner's tokens' subject.
- client secret (``pcs_…``, 256 random bits): only its SHA-256 is kept; a slow hash (Argon2) protects guessable
  passwords, not a random 256-bit value, and would cost every token request ~50 ms.
- webhook signing secret (``whsec_`` + base64 of 32 random bytes, the Standard Webhooks format): it must be read
  to sign, so it is sealed with the service's data keys (AES-256-GCM, services/request/privacy/keys.py), bound to
  the partner, never stored plain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from services.request.privacy.keys import Keyring

__all__ = ["hash_secret", "matches", "new_client_id", "new_client_secret", "new_webhook_secret", "open_", "seal"]

FIELD = "webhook_secret"


def new_client_id() -> str:
    return "ptn_" + secrets.token_hex(8)


def new_client_secret() -> str:
    return "pcs_" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def _bound_to(partner_id: str) -> str:
    return f"partner:{partner_id}"


def seal(keyring: Keyring, partner_id: str, secret: str) -> tuple[bytes, str]:
    """The sealed secret and the id of the key that sealed it."""
    key_id = keyring.current_id
    return keyring.seal(secret.encode(), request_id=_bound_to(partner_id), field=FIELD), key_id


def open_(keyring: Keyring, partner_id: str, sealed: bytes, key_id: str | None) -> str:
    return keyring.open(sealed, request_id=_bound_to(partner_id), field=FIELD, key_id=key_id).decode()
