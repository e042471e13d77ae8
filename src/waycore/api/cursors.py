"""Signed keyset cursors bound to endpoint, filters and partition (API.md section 4.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from waycore.domain.partition import Partition
from waycore.errors import InvalidCursor


def _binding(endpoint: str, partition: Partition, filters: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"e": endpoint, "o": str(partition.org_id), "v": partition.environment, "f": filters},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def issue(
    key: bytes, endpoint: str, partition: Partition, filters: dict[str, Any], position: list[Any]
) -> str:
    payload = json.dumps(
        {"b": _binding(endpoint, partition, filters), "p": position},
        separators=(",", ":"),
        default=str,
    ).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def read(
    key: bytes, token: str, endpoint: str, partition: Partition, filters: dict[str, Any]
) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise InvalidCursor() from None
    if len(raw) < 17:
        raise InvalidCursor()
    payload, mac = raw[:-16], raw[-16:]
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()[:16]):
        raise InvalidCursor()
    try:
        data = json.loads(payload)
    except ValueError:
        raise InvalidCursor() from None
    if data.get("b") != _binding(endpoint, partition, filters) or not isinstance(
        data.get("p"), list
    ):
        raise InvalidCursor()
    return list(data["p"])
