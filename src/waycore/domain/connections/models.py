"""Connection rows, phone leases and encrypted credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, ForeignKey, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from waycore.db import Base

STATUSES = (
    "draft",
    "pendingActivation",
    "active",
    "reauthRequired",
    "errored",
    "paused",
    "revoked",
)
SETUP_STATUSES = (
    "awaitingDelegatedUserCreation",
    "activating",
    "awaitingVerificationCode",
    "awaitingCredentials",
    "awaitingOperator",
    "activationFailed",
)
WITH_SETUP = frozenset({"draft", "pendingActivation", "reauthRequired"})


class Connection(Base):
    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(primary_key=True)
    org_id: Mapped[UUID]
    environment: Mapped[str]
    entity_id: Mapped[UUID]
    institution_id: Mapped[str | None]
    portal_url: Mapped[str]
    status: Mapped[str]
    kind: Mapped[str] = mapped_column(default="setup")
    setup_status: Mapped[str | None]
    error_code: Mapped[str | None]
    error_message: Mapped[str | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    credentials_present: Mapped[bool] = mapped_column(default=False)
    sync_status: Mapped[str] = mapped_column(default="idle")
    current_sync_id: Mapped[UUID | None]
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    username: Mapped[str | None]
    email: Mapped[str | None]
    phone_number: Mapped[str | None]
    email_status: Mapped[str] = mapped_column(default="pending")
    phone_status: Mapped[str] = mapped_column(default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PhoneLease(Base):
    """A pool number leased to one connection at a time, deployment-wide."""

    __tablename__ = "phone_leases"

    number: Mapped[str] = mapped_column(primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    leased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConnectionCredentials(Base):
    """The delegated user's bank login, each field sealed under the organisation's data key."""

    __tablename__ = "connection_credentials"

    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[UUID]
    data_key_id: Mapped[str]
    bank_username: Mapped[bytes | None] = mapped_column(LargeBinary)
    bank_customer_id: Mapped[bytes | None] = mapped_column(LargeBinary)
    password: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    storage_state: Mapped[bytes | None] = mapped_column(LargeBinary)
    verification_code: Mapped[bytes | None] = mapped_column(LargeBinary)
    verification_code_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
