from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column

from waycore.db import Base
from waycore.ids import uuid7


class SyncJob(Base):
    __tablename__ = "sync_jobs"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid7)
    connection_id: Mapped[str]
    org_id: Mapped[UUID]
    environment: Mapped[str]
    trigger: Mapped[str]  # activation | scheduled | manual
    status: Mapped[str] = mapped_column(default="queued")  # queued|running|succeeded|failed
    accounts: Mapped[int] = mapped_column(default=0)
    added: Mapped[int] = mapped_column(default=0)
    modified: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(default=None)
    error_message: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
