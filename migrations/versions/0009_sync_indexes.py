"""Cheaper index upkeep for bulk sync writes, with the same reads served.

Revision ID: 0009
Revises: 0008

* ``transaction_changes``: one index instead of two. The log is only ever read per partition
  in ``seq`` order (API.md section 10.3), which ``(org_id, environment, seq)`` serves, and
  ``seq`` comes from a sequence, so that triple is unique: it becomes the primary key and the
  separate ``seq`` key goes. Every change row appended now updates one index, not two.
* ``transactions``, identity key: ``identity`` is compared before ``identity_kind``. Every
  lookup gives all three columns, and the kind has three values, so leading with it made
  nearly every comparison inside the index compare one more text column.
* ``transactions``, list indexes (the ``sort_day`` and ``updated_at`` orders of API.md
  section 10.1, ``id`` breaking ties): one partial index per environment, keyed by
  ``(org_id, sort_day, id)`` and ``(org_id, updated_at, id)``, instead of one keyed by
  ``(org_id, environment, ...)``. A row still enters one index per order, but the keys are
  fixed-width: no text comparison at every step of a descent, and PostgreSQL reaches a
  column by its cached offset instead of walking past a variable-width one. ``environment``
  has two values (its check constraint), so two indexes cover every row. A query uses them
  when its ``environment`` condition is a constant the planner can match to the index
  predicate: ``domain.transactions.service`` writes it as a literal, not a parameter.
  Without an index for the ``updatedAt`` orders a page would sort the whole partition, so
  both orders keep theirs. Keys always differ (they end in ``id``), so deduplication, which
  would look for equal keys on every full page, is off.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ENVIRONMENTS = ("live", "test")  # the values transactions_environment_check allows


def upgrade() -> None:
    op.execute(
        """
        alter table transaction_changes drop constraint transaction_changes_pkey;
        drop index transaction_changes_partition_idx;
        alter table transaction_changes
            add constraint transaction_changes_pkey primary key (org_id, environment, seq);

        alter table transactions
            drop constraint transactions_account_id_identity_kind_identity_key,
            add constraint transactions_identity_key
                unique (account_id, identity, identity_kind);
        drop index transactions_list_idx;
        drop index transactions_updated_idx;
        """
    )
    for environment in ENVIRONMENTS:
        op.execute(
            f"""
            create index transactions_{environment}_list_idx
                on transactions (org_id, sort_day, id) with (deduplicate_items = off)
                where removed_at is null and environment = '{environment}';
            create index transactions_{environment}_updated_idx
                on transactions (org_id, updated_at, id) with (deduplicate_items = off)
                where removed_at is null and environment = '{environment}';
            """
        )


def downgrade() -> None:
    for environment in ENVIRONMENTS:
        op.execute(
            f"""
            drop index transactions_{environment}_list_idx;
            drop index transactions_{environment}_updated_idx;
            """
        )
    op.execute(
        """
        create index transactions_list_idx
            on transactions (org_id, environment, sort_day, id) where removed_at is null;
        create index transactions_updated_idx
            on transactions (org_id, environment, updated_at, id) where removed_at is null;

        alter table transactions
            drop constraint transactions_identity_key,
            add constraint transactions_account_id_identity_kind_identity_key
                unique (account_id, identity_kind, identity);

        alter table transaction_changes drop constraint transaction_changes_pkey;
        alter table transaction_changes add primary key (seq);
        create index transaction_changes_partition_idx
            on transaction_changes (org_id, environment, seq);
        """
    )
