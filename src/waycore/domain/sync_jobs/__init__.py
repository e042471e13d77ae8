"""Sync jobs: one row per requested or scheduled sync of a connection."""
