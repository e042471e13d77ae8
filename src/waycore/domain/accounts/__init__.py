"""Accounts and balances (API.md section 9): read-only, written by the sync engine."""
