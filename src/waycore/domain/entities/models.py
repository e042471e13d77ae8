from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from waycore.db import Base

DEFAULT_EXTERNAL_ID = "default"


class Entity(Base):
    __tablename__ = "entities"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    org_id: Mapped[UUID]
    external_entity_id: Mapped[str]
    name: Mapped[str | None]
    is_default: Mapped[bool] = mapped_column(default=False)
    contact_emails: Mapped[list[str]] = mapped_column(JSONB, default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
