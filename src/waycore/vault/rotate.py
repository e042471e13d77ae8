"""``waycore vault rotate``: re-wrap every data key and app secret under the current master key.

One transaction re-wraps all rows (``FOR UPDATE``), so readers see either the old or the new
wrapping, both of which the keyring opens: no downtime. The secrets themselves, and so the
ciphertexts sealed with data keys and the cursors signed with the cursor key, do not change.
``retire`` drops an old master key from the key file once nothing is wrapped by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.config import Settings
from waycore.vault.datakeys import data_key_aad
from waycore.vault.envelope import open_sealed, seal
from waycore.vault.keyring import Keyring, load_keyring, new_key_entry, write_key_file


class RotationRefused(RuntimeError):
    """The rotation or retirement cannot be done as asked."""


@dataclass(frozen=True)
class RotationResult:
    current_id: str
    data_keys: int
    app_secrets: int
    retired: str | None = None


def add_current_key(settings: Settings) -> Keyring:
    """Development with a key file: generate a new current master key, keeping the old ones."""
    keyring = load_keyring(settings)
    key_id, raw = new_key_entry()
    fresh = Keyring(keys={key_id: raw, **keyring.keys}, current_id=key_id, settings=settings)
    write_key_file(settings.master_key_file, fresh)
    return fresh


async def rewrap_all(session: AsyncSession, keyring: Keyring) -> RotationResult:
    """Re-wrap every data key and app secret under ``keyring.current`` in one transaction."""
    current, kid = keyring.current, keyring.current_id
    async with session.begin():
        keys = (
            await session.execute(
                text("select org_id, wrapped from vault_data_keys order by org_id for update")
            )
        ).all()
        for org_id, wrapped in keys:
            aad = data_key_aad(org_id)
            raw = open_sealed(keyring.keys, bytes(wrapped), aad)
            await session.execute(
                text(
                    "update vault_data_keys set wrapped = :w, master_key_id = :k, "
                    "rotated_at = now() where org_id = :org"
                ),
                {"w": seal(kid, current, raw, aad), "k": kid, "org": org_id},
            )
        app_rows = (
            await session.execute(
                text("select name, wrapped from app_secrets order by name for update")
            )
        ).all()
        for name, wrapped in app_rows:
            aad = str(name).encode()
            raw = open_sealed(keyring.keys, bytes(wrapped), aad)
            await session.execute(
                text(
                    "update app_secrets set wrapped = :w, key_id = :k, updated_at = now() "
                    "where name = :n"
                ),
                {"w": seal(kid, current, raw, aad), "k": kid, "n": name},
            )
    return RotationResult(current_id=kid, data_keys=len(keys), app_secrets=len(app_rows))


async def keys_in_use(session: AsyncSession) -> set[str]:
    async with session.begin():
        rows = await session.execute(
            text("select master_key_id from vault_data_keys union select key_id from app_secrets")
        )
        return {str(r[0]) for r in rows}


async def retire(session: AsyncSession, settings: Settings, key_id: str) -> Keyring:
    """Drop ``key_id`` from the key file once no data key or app secret is wrapped by it."""
    keyring = load_keyring(settings)
    if key_id not in keyring.keys:
        raise RotationRefused(f"master key {key_id} is not in the keyring")
    if key_id == keyring.current_id:
        raise RotationRefused(f"master key {key_id} is the current key; rotate first")
    if key_id in await keys_in_use(session):
        raise RotationRefused(f"master key {key_id} still wraps data; rotate first")
    remaining = {k: v for k, v in keyring.keys.items() if k != key_id}
    fresh = Keyring(keys=remaining, current_id=keyring.current_id, settings=settings)
    if settings.master_key is None:
        write_key_file(settings.master_key_file, fresh)
    return fresh


async def rotate(
    session: AsyncSession, settings: Settings, *, retire_id: str | None = None
) -> RotationResult:
    """The whole command: new key (development key file), re-wrap, then optional retirement."""
    if retire_id is not None and retire_id not in load_keyring(settings).keys:
        raise RotationRefused(f"master key {retire_id} is not in the keyring")
    if settings.env == "development" and settings.master_key is None:
        keyring = add_current_key(settings)
    else:
        keyring = load_keyring(settings)
    result = await rewrap_all(session, keyring)
    if retire_id is not None:
        await retire(session, settings, retire_id)
        result = RotationResult(
            current_id=result.current_id,
            data_keys=result.data_keys,
            app_secrets=result.app_secrets,
            retired=retire_id,
        )
    return result
