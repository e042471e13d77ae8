"""Envelope encryption (DESIGN.md section 7).

Master keyring (``WAYCORE_MASTER_KEY`` = ``id:base64key[,id:base64key...]``, first current,
else the key file) wraps data keys; data keys encrypt secrets with AES-256-GCM. Every
ciphertext records the id of the key that made it.
"""
