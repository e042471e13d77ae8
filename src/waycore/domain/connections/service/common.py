"""What every connection verb shares: lookups in the partition, status changes, the wire view."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.config import Settings
from waycore.domain.audit.service import record_audit
from waycore.domain.common import utcnow
from waycore.domain.connections.models import WITH_SETUP, Connection
from waycore.domain.connections.schemas import (
    ConnectionOut,
    InstructionsOut,
    PermissionOut,
    SetupOut,
    metadata_or_empty,
)
from waycore.domain.connections.service.reads import ConnectionRow
from waycore.domain.events.service import record_event
from waycore.domain.institutions.service import get_institution
from waycore.domain.partition import Partition
from waycore.errors import InvalidState, NotFound

ACTIVATE_TASK = "connection.activate"
SYNC_TASK = "connection.sync"
ACTIVATION_QUEUE = "activation"
SYNC_QUEUE = "sync"

PERMISSIONS = (
    ("viewAccounts", True, "View every account to connect and its balances"),
    ("viewTransactions", True, "View the transaction history of every account to connect"),
    ("downloadStatements", False, "Download account statements (else statements are unavailable)"),
    ("initiateTransfers", False, "Enter payments (else transfers are unavailable)"),
    ("approveTransfers", False, "Approve payments (else transfers need another approver)"),
)

# The same five models in every setup view: built (and validated) once.
_PERMISSIONS_OUT = tuple(
    PermissionOut(code=code, required=required, description=text)  # type: ignore[arg-type]
    for code, required, text in PERMISSIONS
)

_SETUP_ACTION = {
    "awaitingDelegatedUserCreation": ("createDelegatedUser", "endUser"),
    "activating": ("waitForActivation", "waycore"),
    "awaitingOperator": ("waitForActivation", "waycore"),
    "awaitingVerificationCode": ("submitVerificationCode", "endUser"),
    "awaitingCredentials": ("submitCredentials", "endUser"),
}


def next_action(setup_status: str, error_code: str | None) -> tuple[str, str]:
    """(``nextAction``, ``actionRequiredBy``) for a setup status (API.md section 8.3)."""
    if setup_status in _SETUP_ACTION:
        return _SETUP_ACTION[setup_status]
    if error_code in ("account_locked", "verification_timeout"):
        return "submitCredentials", "endUser"
    if error_code == "permission_denied":
        return "createDelegatedUser", "endUser"
    return "contactSupport", "integrator"


def guide_url(settings: Settings, connection: Connection | ConnectionRow) -> str:
    if connection.institution_id is not None:
        found = get_institution(settings, connection.environment, connection.institution_id)
        if found is not None:
            return found.guide_url
    return f"{settings.public_url.rstrip('/')}/guides/generic"


def present(settings: Settings, connection: Connection | ConnectionRow) -> ConnectionOut:
    """The connection as API.md section 8.1 shows it; never any secret."""
    institution = (
        get_institution(settings, connection.environment, connection.institution_id)
        if connection.institution_id
        else None
    )
    setup = None
    if connection.status in WITH_SETUP and connection.setup_status is not None:
        action, by = next_action(connection.setup_status, connection.error_code)
        setup = SetupOut(
            status=connection.setup_status,  # type: ignore[arg-type]
            instructions=InstructionsOut(
                first_name="Waycore",
                last_name="Service",
                address=settings.delegated_user_address,
                email=connection.email,
                username=connection.username,
                phone_number=connection.phone_number,
                email_provisioning_status=connection.email_status,  # type: ignore[arg-type]
                phone_number_provisioning_status=connection.phone_status,  # type: ignore[arg-type]
                guide_url=institution.guide_url if institution else guide_url(settings, connection),
                permissions=list(_PERMISSIONS_OUT),
            ),
            credentials_present=connection.credentials_present,
            action_required_by=by,  # type: ignore[arg-type]
            next_action=action,  # type: ignore[arg-type]
        )
    return ConnectionOut(
        id=connection.id,
        entity_id=connection.entity_id,
        status=connection.status,  # type: ignore[arg-type]
        kind=connection.kind,  # type: ignore[arg-type]
        created_at=connection.created_at,
        updated_at=connection.updated_at,
        portal_url=connection.portal_url,
        institution_id=connection.institution_id,
        institution_name=institution.name if institution else None,
        metadata=metadata_or_empty(connection.metadata_),
        setup=setup,
        sync_status=connection.sync_status,  # type: ignore[arg-type]
        last_synced_at=connection.last_synced_at,
        next_sync_at=connection.next_sync_at,
        error_code=connection.error_code,
        error_message=connection.error_message,
    )


def _scoped(partition: Partition, connection_id: str) -> Any:
    return select(Connection).where(
        Connection.id == connection_id,
        Connection.org_id == partition.org_id,
        Connection.environment == partition.environment,
    )


async def get_row(session: AsyncSession, partition: Partition, connection_id: str) -> Connection:
    found = (await session.execute(_scoped(partition, connection_id))).scalar_one_or_none()
    if found is None:
        raise NotFound("Connection not found.")
    return found


async def get_for_update(
    session: AsyncSession, partition: Partition, connection_id: str
) -> Connection:
    stmt = _scoped(partition, connection_id).with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("Connection not found.")
    return found


def refuse(current: str, allowed: set[str] | frozenset[str], message: str | None = None) -> None:
    raise InvalidState(message, current_status=current, allowed_statuses=sorted(allowed))


async def set_status(
    session: AsyncSession, partition: Partition, connection: Connection, status: str
) -> None:
    """Change ``status`` and write ``connection.status_changed`` in the same transaction."""
    previous = connection.status
    if previous == status:
        return
    connection.status = status
    connection.updated_at = utcnow()
    await record_event(
        session,
        partition,
        "connection.status_changed",
        {
            "connectionId": connection.id,
            "entityId": str(connection.entity_id),
            "status": status,
            "previousStatus": previous,
            "errorCode": connection.error_code,
        },
    )


async def audit(
    session: AsyncSession,
    partition: Partition,
    action: str,
    connection_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    await record_audit(
        session,
        partition,
        action=action,
        resource_type="connection",
        resource_id=connection_id,
        details=details,
    )
