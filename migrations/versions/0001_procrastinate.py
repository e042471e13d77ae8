"""procrastinate's schema, from the SQL file shipped in the pinned package.

Revision ID: 0001
"""

from importlib import resources

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    sql = resources.files("procrastinate.sql").joinpath("schema.sql").read_text()
    op.get_bind().exec_driver_sql(sql.replace("%", "%%"))
