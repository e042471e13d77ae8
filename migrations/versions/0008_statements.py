"""Statements: the files a sync downloaded from the portal (API.md section 11).

One row per (account, period, format), content kept in the row (``bytea``): it commits with the
sync that read it, is backed up with everything else and needs no second store. Statement files
are small (tens of kilobytes) and already compressed, so the column skips TOAST compression.
Rows stay when a connection is revoked (statements remain readable).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table statements (
            id uuid primary key default waycore_uuid7(),
            org_id uuid not null references organizations(id) on delete cascade,
            environment text not null check (environment in ('live', 'test')),
            connection_id text not null references connections(id) on delete cascade,
            account_id uuid not null references accounts(id) on delete cascade,
            period_start date not null,
            period_end date not null,
            format text not null check (format in ('pdf', 'csv')),
            content_type text not null,
            size_bytes integer not null check (size_bytes >= 0),
            sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
            content bytea not null,
            created_at timestamptz not null default now(),
            check (period_start <= period_end),
            unique (account_id, period_start, period_end, format)
        );
        alter table statements alter column content set storage external;
        create index statements_list_idx
            on statements (org_id, environment, period_end desc, id desc);
        create index statements_connection_idx on statements (connection_id);
        """
    )


def downgrade() -> None:
    op.execute("drop table if exists statements")
