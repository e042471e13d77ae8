"""A key's partition: (organization, environment). Every query filters on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Environment = Literal["live", "test"]


@dataclass(frozen=True)
class Partition:
    org_id: UUID
    environment: Environment
