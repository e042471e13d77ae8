"""``transactions.sort_day`` becomes a plain column, written by the sync engine.

Revision ID: 0010
Revises: 0009

The generated column (migration 0006) cost the database an expression per row of every bulk
write. Its values and indexes (migration 0009) stay as they are; from now on the sync engine,
the only writer of ``transactions``, sets ``sort_day`` with ``posted_date`` using the same
expression, ``coalesce(posted_date - date '1970-01-01', 2147483647)``: in SQL for staged
rows, in Python for rows COPYed straight into the table (``waycore.sync.store``). Reads are
unchanged. The column is ``not null``, so a writer that forgets it fails instead of hiding
rows from the list order.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ENVIRONMENTS = ("live", "test")  # as in migration 0009


def upgrade() -> None:
    op.execute(
        """
        alter table transactions
            alter column sort_day drop expression,
            alter column sort_day set not null;
        """
    )


def downgrade() -> None:
    # PostgreSQL 15 cannot turn a column back into a generated one: drop it (its indexes go
    # with it) and add the generated column again, then the list indexes of migration 0009
    op.execute(
        """
        alter table transactions drop column sort_day;
        alter table transactions add column sort_day integer generated always as
            (coalesce(posted_date - date '1970-01-01', 2147483647)) stored;
        """
    )
    for environment in ENVIRONMENTS:
        op.execute(
            f"""
            create index transactions_{environment}_list_idx
                on transactions (org_id, sort_day, id) with (deduplicate_items = off)
                where removed_at is null and environment = '{environment}';
            """
        )
