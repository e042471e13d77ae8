"""Entity wire models (API.md section 6)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from waycore.api.schemas import ApiModel, Timestamp
from waycore.api.validators import CleanStr, Metadata
from waycore.domain.entities.models import DEFAULT_EXTERNAL_ID

MAX_CONTACT_EMAILS = 100


def _external_id(value: str) -> str:
    if value != value.strip():
        raise PydanticCustomError("whitespace", "must not start or end with whitespace")
    if value == DEFAULT_EXTERNAL_ID:
        raise PydanticCustomError("reserved", "'default' is reserved for the default entity")
    return value


def _email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise PydanticCustomError("email", "must be a valid e-mail address") from None
    return value


def _dedupe(values: list[str]) -> list[str]:
    """Drop case-insensitive duplicates, keeping the first spelling and the order."""
    seen: set[str] = set()
    kept = []
    for value in values:
        folded = value.casefold()
        if folded not in seen:
            seen.add(folded)
            kept.append(value)
    return kept


ExternalEntityId = Annotated[str, CleanStr(1, 255), AfterValidator(_external_id)]
EntityName = Annotated[str, CleanStr(1, 200)]
Email = Annotated[
    str, CleanStr(3, 254), AfterValidator(_email), Field(json_schema_extra={"format": "email"})
]
ContactEmails = Annotated[
    list[Email], Field(max_length=MAX_CONTACT_EMAILS), AfterValidator(_dedupe)
]


class EntityCreate(ApiModel):
    external_entity_id: ExternalEntityId = Field(
        description="Your id for this customer; unique per organization; 'default' is reserved."
    )
    name: EntityName | None = None
    contact_emails: ContactEmails = Field(default_factory=list)
    metadata: Metadata | None = None


class EntityUpdate(ApiModel):
    """All fields optional, at least one; ``null`` clears ``name`` and ``metadata``."""

    name: EntityName | None = None
    contact_emails: ContactEmails = Field(default_factory=list)
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> EntityUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("at_least_one", "at least one field is required")
        return self

    def changes(self) -> dict[str, Any]:
        """The supplied fields, by column name."""
        out: dict[str, Any] = {}
        if "name" in self.model_fields_set:
            out["name"] = self.name
        if "contact_emails" in self.model_fields_set:
            out["contact_emails"] = list(self.contact_emails)
        if "metadata" in self.model_fields_set:
            out["metadata_"] = dict(self.metadata or {})
        return out


class EntityOut(ApiModel):
    entity_id: UUID
    external_entity_id: str
    name: str | None
    is_default_org_entity: bool
    contact_emails: list[str]
    metadata: dict[str, str]
    created_at: Timestamp
    updated_at: Timestamp
