from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from waycore.db import Base


class Event(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(primary_key=True)
    org_id: Mapped[UUID]
    environment: Mapped[str]
    type: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
