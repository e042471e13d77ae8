from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from waycore.api.schemas import ApiModel, Timestamp
from waycore.domain.api_keys.scopes import ALL_SCOPES, Scope

NoControlText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$")]


class ApiKeyCreate(ApiModel):
    name: Annotated[NoControlText, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(ALL_SCOPES))]
    expires_in_days: Annotated[int, Field(ge=1, le=730, strict=True)] = 365

    @field_validator("scopes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("scopes must be unique")
        return value


class ApiKeyOut(ApiModel):
    id: str
    name: str
    environment: Literal["live", "test"]
    key_prefix: str
    scopes: list[Scope]
    status: Literal["active", "expired", "revoked"]
    created_at: Timestamp
    expires_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    created_by_key_id: str | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The full key; shown only in this response.")
