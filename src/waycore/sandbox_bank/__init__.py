"""The Sandbox Bank: a realistic commercial bank portal that ships with Waycore.

Its own ASGI app (``app.create_app``), tables in schema ``sandbox_bank``, a deterministic
history generator, a bank clock, and a JSON control API under ``/_sandbox/`` for tests and
demos. The portal (HTML pages) lives in ``portal/`` and calls ``service``.
"""
