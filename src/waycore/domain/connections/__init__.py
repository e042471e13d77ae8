"""Connections: an entity's delegated-user access to a bank portal (API.md section 8)."""
