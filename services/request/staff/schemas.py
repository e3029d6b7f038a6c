"""Staff accounts as the API shows them: never a password nor its hash."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.request.staff.passwords import MAX_LENGTH, MIN_LENGTH

__all__ = ["StaffRole", "Token", "UserChange", "UserIn", "UserOut", "Username"]

Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
Password = Annotated[str, StringConstraints(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
StaffRole = Literal["admin", "operator", "clerk"]
KecamatanCode = Annotated[str, StringConstraints(pattern=r"^\d{2}\.\d{2}\.\d{2}$")]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username = Field(description="lower-case letters, digits, . _ -; 3 to 64")
    password: Password = Field(description=f"{MIN_LENGTH} to {MAX_LENGTH} characters")
    role: StaffRole
    kecamatan: list[KecamatanCode] = Field(default_factory=list, description="a clerk's kecamatan; none for others")
    full_name: Annotated[str, StringConstraints(max_length=200)] = ""


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password | None = Field(default=None, description="a new password (also unlocks the account)")
    disabled: bool | None = None
    role: StaffRole | None = None
    kecamatan: list[KecamatanCode] | None = None
    full_name: Annotated[str, StringConstraints(max_length=200)] | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    role: str
    kecamatan: list[str]
    full_name: str
    disabled: bool
    locked_until: dt.datetime | None
    last_sign_in_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @field_validator("kecamatan", mode="before")
    @classmethod
    def _codes(cls, value: object) -> object:
        """The row keeps a clerk's codes comma-separated (``StaffUser.kecamatan``)."""
        return [code for code in value.split(",") if code] if isinstance(value, str) else value


class Token(BaseModel):
    """OAuth2's token answer (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="seconds")
