"""The Sandbox Bank's tables, in schema sandbox_bank.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create schema if not exists sandbox_bank")
