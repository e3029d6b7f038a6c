"""Bearer JWTs signed with Ed25519: services hold only the public key; ``ektp token create`` signs.

Two signing keys. The *main* key signs every role (``ektp token create``, the compose ``keys`` job). The *staff*
key (``kid: staff`` in the token's header) is held by the request service to sign in office staff with a
password (``POST /v1/auth/token``), and registered partner systems with their client credentials; the services
accept it for ``OFFICE_KEY_ROLES`` only (staff and partner), so the service that holds it cannot mint a service
token. Verifiers hold only the public keys.

Claims: ``sub`` (who), ``role`` (admin, operator, clerk, partner, service), ``scope`` (the kecamatan codes a
clerk may act for), ``jti`` (the token's id, for revocation), ``exp``, ``iat``, ``aud``. A token lives at most
``MAX_TTL[role]`` (checked when it is issued and again when it is verified, so a long-lived token made
elsewhere is refused too), and one whose ``jti`` is on the revocation list (``services.common.revocation``)
is refused by every service. Use ``Authorize(Role.ADMIN, ...)`` as an endpoint dependency: it answers 401
without a valid token and 403 when the role is not among those listed.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.problems import Forbidden, Unauthorized
from services.common.revocation import RevocationList

__all__ = [
    "ALGORITHM",
    "BEARER_DESCRIPTION",
    "MAX_TTL",
    "OFFICE_KEY_ROLES",
    "STAFF_KEY_ID",
    "STAFF_ROLES",
    "SUBJECT_REQUIRED",
    "Authorize",
    "KeyPair",
    "Principal",
    "Role",
    "TokenVerifier",
    "ensure_key_pair",
    "generate_key_pair",
    "issue_token",
    "parse_duration",
]

ALGORITHM = "EdDSA"
DEFAULT_AUDIENCE = "ektp-print"


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    CLERK = "clerk"
    PARTNER = "partner"
    SERVICE = "service"


# The longest a token of each role may live. People's tokens last a working day; a partner system's until
# client credentials replace them; a service's a year (compose mints them at each start).
MAX_TTL: dict[Role, dt.timedelta] = {
    Role.ADMIN: dt.timedelta(hours=12),
    Role.OPERATOR: dt.timedelta(hours=12),
    Role.CLERK: dt.timedelta(hours=12),
    Role.PARTNER: dt.timedelta(days=90),
    Role.SERVICE: dt.timedelta(days=365),
}
# Subjects that name a person or a system: a clerk's or a partner's data and keys hang on it.
SUBJECT_REQUIRED = frozenset({Role.CLERK, Role.PARTNER})
# The roles a staff member signs in as with a password; the only ones the staff key may sign.
STAFF_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.CLERK})
# What the request service's own key (``kid: staff``) may sign: staff signed in with a password, and registered
# partners with their client credentials (services.request.partners). Never a service token.
OFFICE_KEY_ROLES = STAFF_ROLES | {Role.PARTNER}
STAFF_KEY_ID = "staff"
_CLOCK_SKEW = 60  # seconds of slack between the signer's clock and ours


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: from a verified token."""

    subject: str
    role: Role
    scope: frozenset[str] = field(default_factory=frozenset)
    # A partner whose token the request service issued from its registry (client credentials): the registry is
    # asked on every call whether it is still active. Partner tokens made by ``ektp token create`` are not.
    registered: bool = False

    def may_act_for(self, kecamatan_code: str) -> bool:
        """A clerk acts only for the kecamatan in its scope; other roles are not limited by region."""
        return self.role is not Role.CLERK or kecamatan_code in self.scope

    @property
    def owner(self) -> str:
        """Whose stored answers these are (idempotency keys): the subject within its role and scope, so two tokens
        that share a subject but not a role or a kecamatan never replay each other's calls."""
        scope = ",".join(sorted(self.scope))
        digest = hashlib.sha256(f"{self.role.value}\n{self.subject}\n{scope}".encode()).hexdigest()[:16]
        return f"{self.role.value}:{self.subject[:150]}:{digest}"


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes


def generate_key_pair() -> KeyPair:
    key = Ed25519PrivateKey.generate()
    return KeyPair(
        private_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        public_pem=key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def ensure_key_pair(directory: Path, name: str = "jwt") -> tuple[Path, Path]:
    """Create ``<name>-private.pem`` and ``<name>-public.pem`` in ``directory`` unless they exist; both paths."""
    private, public = directory / f"{name}-private.pem", directory / f"{name}-public.pem"
    if not private.exists():
        directory.mkdir(parents=True, exist_ok=True)
        pair = generate_key_pair()
        private.touch(mode=0o600)
        private.write_bytes(pair.private_pem)
        public.write_bytes(pair.public_pem)
    return private, public


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``15m``, ``8h``, ``30d`` or plain seconds."""
    text = text.strip().lower()
    try:
        if text and text[-1] in _UNITS:
            return dt.timedelta(seconds=float(text[:-1]) * _UNITS[text[-1]])
        return dt.timedelta(seconds=float(text))
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 8h, 30d)") from None


def issue_token(
    private_pem: bytes | str,
    *,
    role: Role | str,
    subject: str,
    scope: Iterable[str] = (),
    ttl: dt.timedelta = dt.timedelta(hours=8),
    audience: str = DEFAULT_AUDIENCE,
    key_id: str | None = None,
) -> str:
    """A signed token; ValueError when the role's rules are not met (scope, subject, ``MAX_TTL``). ``key_id``
    ``STAFF_KEY_ID`` when ``private_pem`` is the staff key."""
    role = Role(role)
    if key_id == STAFF_KEY_ID and role not in OFFICE_KEY_ROLES:
        raise ValueError(f"the staff key does not sign {role.value} tokens")
    scope = sorted(scope)
    if role is Role.CLERK and not scope:
        raise ValueError("a clerk token needs at least one kecamatan code")
    if not subject.strip():
        raise ValueError(f"a {role.value} token needs a subject: who or what it is for")
    if ttl > MAX_TTL[role]:
        raise ValueError(f"a {role.value} token lives at most {_duration(MAX_TTL[role])}")
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "scope": scope,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + ttl,
    }
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, private_pem, algorithm=ALGORITHM, headers=headers)


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h"


class TokenVerifier:
    """Checks signature, audience and expiry with the public key, and returns the principal.

    A token that verified is remembered (at most ``cache_size``, until its ``exp``): the gateway sends the same
    token with every call, and the signature of the same bytes under the same key cannot change. Expiry is
    checked again on every use, so a remembered token stops working when it expires, as an unremembered one
    would.
    """

    def __init__(
        self,
        public_pem: str | bytes,
        *,
        audience: str = DEFAULT_AUDIENCE,
        cache_size: int = 1024,
        revoked: RevocationList | None = None,
        staff_public_pem: str | bytes | None = None,
    ) -> None:
        self._key = _public_key(public_pem)
        self._staff_key = _public_key(staff_public_pem) if staff_public_pem else None
        self._audience = audience
        self._cache_size = cache_size
        self._revoked = revoked or RevocationList(None)
        self._verified: dict[str, tuple[Principal, float, str]] = {}

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires, jti = known
            if time.time() < expires:
                self._check_not_revoked(jti)
                return principal
            del self._verified[token]
        principal, expiry, jti = self._verify(token)
        self._check_not_revoked(jti)
        if self._cache_size > 0:
            if len(self._verified) >= self._cache_size:
                self._verified.pop(next(iter(self._verified)))  # the oldest
            self._verified[token] = (principal, expiry, jti)
        return principal

    def _check_not_revoked(self, jti: str) -> None:
        if jti in self._revoked:
            raise Unauthorized("the token has been revoked", kind="token-revoked")

    def _verify(self, token: str) -> tuple[Principal, float, str]:
        try:
            staff = jwt.get_unverified_header(token).get("kid") == STAFF_KEY_ID
            key = self._staff_key if staff else self._key
            if key is None:
                raise jwt.InvalidTokenError("no staff key here")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                options={"require": ["exp", "iat", "jti", "sub", "role", "aud"]},
            )
            role = Role(claims["role"])
            issued, expires, jti = _number(claims["iat"]), _number(claims["exp"]), claims["jti"]
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", kind="token-expired") from None
        except (jwt.InvalidTokenError, ValueError, KeyError, TypeError):
            raise Unauthorized("the token is not valid", kind="token-invalid") from None
        if not isinstance(jti, str) or not jti or not str(claims["sub"]).strip():
            raise Unauthorized("the token is not valid", kind="token-invalid")
        if staff and role not in OFFICE_KEY_ROLES:
            raise Unauthorized("the token is not valid", kind="token-invalid")
        if expires - issued > MAX_TTL[role].total_seconds() + _CLOCK_SKEW:
            raise Unauthorized(
                f"the token lives longer than a {role.value} token may ({_duration(MAX_TTL[role])})",
                kind="token-too-long",
            )
        scope = claims.get("scope") or []
        if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
            raise Unauthorized("the token's scope is not a list of kecamatan codes", kind="token-invalid")
        registered = staff and role is Role.PARTNER
        principal = Principal(subject=str(claims["sub"]), role=role, scope=frozenset(scope), registered=registered)
        return principal, expires, jti


def _public_key(pem: str | bytes) -> Any:
    return serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)


# The OpenAPI document's security scheme (``HTTPBearer``): what a generated client sends, and where it gets it.
BEARER_DESCRIPTION = (
    "`Authorization: Bearer <token>`: a JWT signed with Ed25519 (`alg` EdDSA), with the claims `sub`, `role` "
    "(admin, operator, clerk, partner, service), `scope` (a clerk's kecamatan codes), `aud`, `jti`, `iat` and "
    "`exp`. Get one from the request service's `POST /v1/auth/token` (a form, OAuth2): office staff with the "
    "password grant (`grant_type=password`, `username`, `password`; a working day's token, 8 h unless the office "
    "set otherwise, at most 12 h), a registered partner system with the client credentials grant "
    "(`grant_type=client_credentials`, `client_id` and `client_secret` in the form or as HTTP Basic; 60 minutes "
    "unless the office set otherwise). The answer's `expires_in` says how many seconds it lasts: ask again before. "
    "Services are given theirs by the office (`ektp token create`). A missing, expired or revoked token answers "
    "401; a role the operation does not allow, 403."
)
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description=BEARER_DESCRIPTION)


async def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a Bearer token is required", kind="token-missing")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(credentials.credentials)
    # A service may ask more of a principal than its token says (the request service: is a registered partner
    # still active, and within its rate limit?): ``app.state.principal_guard(request, principal)`` raises if not.
    guard = getattr(request.app.state, "principal_guard", None)
    if guard is not None:
        await guard(request, principal)
    request.state.principal = principal
    return principal


class Authorize:
    """Dependency: the caller's principal, if its role is one of ``roles``; else 401/403."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise Forbidden(f"role {principal.role.value} may not do this (allowed: {allowed})", kind="forbidden")
        return principal
