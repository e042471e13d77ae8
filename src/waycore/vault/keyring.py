"""The master keyring: from ``WAYCORE_MASTER_KEY`` or the key file (generated in development)."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from waycore.config import Settings


class MasterKeyMissing(RuntimeError):
    """No master key is configured (production needs one)."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    current_id: str
    settings: Settings | None = field(default=None, compare=False, repr=False)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


def parse_keyring(text: str) -> Keyring:
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key_id, _, encoded = part.partition(":")
        raw = base64.b64decode(encoded)
        if not key_id or len(raw) != 32:
            raise ValueError("each master key is id:base64 of 32 bytes")
        keys[key_id] = raw
        order.append(key_id)
    if not order:
        raise ValueError("empty master keyring")
    return Keyring(keys=keys, current_id=order[0])


def format_keyring(keyring: Keyring) -> str:
    ordered = [keyring.current_id] + [k for k in keyring.keys if k != keyring.current_id]
    return ",".join(f"{k}:{base64.b64encode(keyring.keys[k]).decode()}" for k in ordered)


def new_key_entry() -> tuple[str, bytes]:
    return f"mk{secrets.token_hex(4)}", secrets.token_bytes(32)


def write_key_file(path: Path, keyring: Keyring) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(format_keyring(keyring) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def load_keyring(settings: Settings) -> Keyring:
    if settings.master_key is not None:
        parsed = parse_keyring(settings.master_key.get_secret_value())
        return Keyring(keys=parsed.keys, current_id=parsed.current_id, settings=settings)
    path = settings.master_key_file
    if path.exists():
        parsed = parse_keyring(path.read_text())
        return Keyring(keys=parsed.keys, current_id=parsed.current_id, settings=settings)
    if settings.env == "production":
        raise MasterKeyMissing("set WAYCORE_MASTER_KEY or provide the master key file")
    key_id, raw = new_key_entry()
    keyring = Keyring(keys={key_id: raw}, current_id=key_id, settings=settings)
    write_key_file(path, keyring)
    return keyring


def reload_keyring(keyring: Keyring) -> Keyring:
    """The keyring as configured now (a rotation elsewhere may have added a key)."""
    if keyring.settings is None:
        return keyring
    return load_keyring(keyring.settings)
