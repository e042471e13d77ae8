"""Connection wire models (API.md section 8)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from waycore.api.schemas import ApiModel, Timestamp
from waycore.api.validators import CleanStr, Metadata

ConnectionStatus = Literal[
    "draft", "pendingActivation", "active", "reauthRequired", "errored", "paused", "revoked"
]
ConnectionKind = Literal["setup", "ready"]
SetupStatus = Literal[
    "awaitingDelegatedUserCreation",
    "activating",
    "awaitingVerificationCode",
    "awaitingCredentials",
    "awaitingOperator",
    "activationFailed",
]
ProvisioningStatus = Literal["pending", "provisioned", "failed", "notRequired"]
ActionRequiredBy = Literal["endUser", "integrator", "waycore"]
NextAction = Literal[
    "createDelegatedUser",
    "submitCredentials",
    "submitVerificationCode",
    "waitForActivation",
    "contactSupport",
]
PermissionCode = Literal[
    "viewAccounts",
    "viewTransactions",
    "downloadStatements",
    "initiateTransfers",
    "approveTransfers",
]

PortalUrl = Annotated[str, CleanStr(1, 2048)]
InstitutionId = Annotated[str, CleanStr(1, 64)]
Secret = Annotated[str, CleanStr(1, 256)]


def _at_least_one(fields_set: set[str]) -> None:
    if not fields_set:
        raise PydanticCustomError("at_least_one", "at least one field is required")


def _must_be_true(value: bool) -> bool:
    if value is not True:
        raise PydanticCustomError("must_be_true", "must be true")
    return value


MustBeTrue = Annotated[bool, Field(strict=True), AfterValidator(_must_be_true)]


class ConnectionCreate(ApiModel):
    """At least one of ``institutionId`` and ``portalUrl``."""

    entity_id: UUID | None = Field(default=None, description="Default: the default entity.")
    institution_id: InstitutionId | None = None
    portal_url: PortalUrl | None = Field(
        default=None,
        description="Absolute https URL (test also http), no userinfo, at most 2048 characters.",
    )
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _anchor(self) -> ConnectionCreate:
        if self.institution_id is None and self.portal_url is None:
            raise PydanticCustomError(
                "anchor", "at least one of institutionId and portalUrl is required"
            )
        return self


class ConnectionUpdate(ApiModel):
    """``metadata`` and/or ``status`` (``paused`` from ``active``, ``active`` from ``paused``)."""

    metadata: Metadata | None = None
    status: Literal["active", "paused"] | None = None

    @model_validator(mode="after")
    def _one(self) -> ConnectionUpdate:
        _at_least_one(self.model_fields_set)
        if "status" in self.model_fields_set and self.status is None:
            raise PydanticCustomError("status", "status must be active or paused")
        return self


class CredentialsUpdate(ApiModel):
    """Each field: omitted = unchanged, ``null`` = clear, else 1-256 characters."""

    bank_username: Secret | None = None
    bank_customer_id: Secret | None = None
    password: Secret | None = None

    @model_validator(mode="after")
    def _one(self) -> CredentialsUpdate:
        _at_least_one(self.model_fields_set)
        return self

    def changes(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class SetupCompletion(ApiModel):
    delegated_user_active: MustBeTrue
    terms_accepted: MustBeTrue


class VerificationCode(ApiModel):
    code: Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9A-Za-z]{4,12}$")]


class PermissionOut(ApiModel):
    code: PermissionCode
    required: bool
    description: str


class InstructionsOut(ApiModel):
    first_name: str
    last_name: str
    address: str
    email: str | None
    username: str | None
    phone_number: str | None
    email_provisioning_status: ProvisioningStatus
    phone_number_provisioning_status: ProvisioningStatus
    guide_url: str
    permissions: list[PermissionOut]


class SetupOut(ApiModel):
    status: SetupStatus
    instructions: InstructionsOut
    credentials_present: bool
    action_required_by: ActionRequiredBy
    next_action: NextAction


class ConnectionOut(ApiModel):
    id: str
    entity_id: UUID
    status: ConnectionStatus
    kind: ConnectionKind
    created_at: Timestamp
    updated_at: Timestamp
    portal_url: str
    institution_id: str | None
    institution_name: str | None
    metadata: dict[str, str]
    setup: SetupOut | None
    sync_status: Literal["idle", "syncing"]
    last_synced_at: Timestamp | None
    next_sync_at: Timestamp | None
    error_code: str | None
    error_message: str | None


class SyncJobOut(ApiModel):
    sync_id: UUID
    connection_id: str
    status: Literal["queued"]


def metadata_or_empty(value: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}
