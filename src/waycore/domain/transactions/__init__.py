"""Transactions and their change log (API.md section 10): written by the sync engine."""
