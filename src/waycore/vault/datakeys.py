"""Per-organisation data keys, wrapped by the master keyring (DESIGN.md section 7).

Each organisation gets one random 256-bit data key on first use, stored in ``vault_data_keys``
sealed by the current master key (AAD binds it to the organisation). Secrets are sealed with
the data key; every blob names the key that made it (``envelope.seal``), so a master-key
rotation only re-wraps data keys and never touches the secrets themselves.

A process meeting a master key id it does not know (a rotation by another process) reloads the
keyring once before giving up.
"""

from __future__ import annotations

import secrets
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.ids import random_base32
from waycore.vault.envelope import DecryptionFailed, key_id_of, open_sealed, seal
from waycore.vault.keyring import Keyring, reload_keyring


def data_key_aad(org_id: UUID) -> bytes:
    return f"datakey:{org_id}".encode()


def unwrap(keyring: Keyring, wrapped: bytes, aad: bytes) -> bytes:
    """Open a blob sealed by a master key, reloading the keyring for an unknown key id."""
    if key_id_of(wrapped) not in keyring.keys:
        keyring = reload_keyring(keyring)
    return open_sealed(keyring.keys, wrapped, aad=aad)


async def _load(session: AsyncSession, org_id: UUID) -> tuple[str, bytes] | None:
    row = (
        await session.execute(
            text("select key_id, wrapped from vault_data_keys where org_id = :org"),
            {"org": org_id},
        )
    ).first()
    return None if row is None else (str(row[0]), bytes(row[1]))


async def data_key(session: AsyncSession, keyring: Keyring, org_id: UUID) -> tuple[str, bytes]:
    """The organisation's (key id, data key), created race-free on first use."""
    found = await _load(session, org_id)
    if found is None:
        key_id = f"dk{random_base32(14)}"
        raw = secrets.token_bytes(32)
        await session.execute(
            text(
                "insert into vault_data_keys (org_id, key_id, wrapped, master_key_id) "
                "values (:org, :kid, :wrapped, :mk) on conflict (org_id) do nothing"
            ),
            {
                "org": org_id,
                "kid": key_id,
                "wrapped": seal(keyring.current_id, keyring.current, raw, data_key_aad(org_id)),
                "mk": keyring.current_id,
            },
        )
        found = await _load(session, org_id)
        assert found is not None
    key_id, wrapped = found
    return key_id, unwrap(keyring, wrapped, data_key_aad(org_id))


async def encrypt_for_org(
    session: AsyncSession, keyring: Keyring, org_id: UUID, plaintext: str | bytes, aad: bytes
) -> bytes:
    """Seal ``plaintext`` under the organisation's data key (key id recorded in the blob)."""
    raw = plaintext.encode() if isinstance(plaintext, str) else plaintext
    key_id, key = await data_key(session, keyring, org_id)
    return seal(key_id, key, raw, aad)


async def decrypt_for_org(
    session: AsyncSession, keyring: Keyring, org_id: UUID, blob: bytes, aad: bytes
) -> bytes:
    """Open a blob sealed by ``encrypt_for_org`` for the same organisation and AAD."""
    key_id, key = await data_key(session, keyring, org_id)
    if key_id_of(blob) != key_id:
        raise DecryptionFailed("the blob was not sealed by this organisation's data key")
    return open_sealed({key_id: key}, blob, aad)
