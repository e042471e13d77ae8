"""AES-256-GCM with the key id in every ciphertext: ``b"v1" | len(id) | id | nonce | ct``."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptionFailed(Exception):
    """The ciphertext could not be decrypted with the named key."""


def seal(key_id: str, key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    kid = key_id.encode()
    nonce = os.urandom(12)
    return b"v1" + bytes([len(kid)]) + kid + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def key_id_of(blob: bytes) -> str:
    if blob[:2] != b"v1":
        raise DecryptionFailed("unknown ciphertext version")
    n = blob[2]
    return blob[3 : 3 + n].decode()


def open_sealed(keys: dict[str, bytes], blob: bytes, aad: bytes = b"") -> bytes:
    kid = key_id_of(blob)
    key = keys.get(kid)
    if key is None:
        raise DecryptionFailed(f"unknown key id {kid}")
    offset = 3 + len(kid.encode())
    nonce, ct = blob[offset : offset + 12], blob[offset + 12 :]
    try:
        return AESGCM(key).decrypt(nonce, ct, aad)
    except Exception as exc:  # cryptography raises InvalidTag
        raise DecryptionFailed("authentication failed") from exc
