"""Deployment-wide secrets (the cursor key) stored wrapped by the master key."""

from __future__ import annotations

import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from waycore.vault.envelope import open_sealed, seal
from waycore.vault.keyring import Keyring


async def load_or_create(engine: AsyncEngine, keyring: Keyring, name: str) -> bytes:
    """The named 32-byte secret; created once, race-free across processes."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(text("select wrapped from app_secrets where name = :n"), {"n": name})
        ).first()
        if row is None:
            raw = secrets.token_bytes(32)
            wrapped = seal(keyring.current_id, keyring.current, raw, aad=name.encode())
            await conn.execute(
                text(
                    "insert into app_secrets (name, wrapped, key_id) values (:n, :w, :k) "
                    "on conflict (name) do nothing"
                ),
                {"n": name, "w": wrapped, "k": keyring.current_id},
            )
            row = (
                await conn.execute(
                    text("select wrapped from app_secrets where name = :n"), {"n": name}
                )
            ).first()
        assert row is not None
    return open_sealed(keyring.keys, bytes(row[0]), aad=name.encode())
