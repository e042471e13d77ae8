"""Accounts, transactions, the change log, balances, sync jobs.

Revision ID: 0006
Revises: 0005

The change log (``transaction_changes``) must be read in commit order (API.md section 10.3):
a reader that has seen ``seq = n`` must never later find a newly committed ``seq < n`` in
the same partition. A bigserial alone does not give that (two writers draw numbers in one
order and commit in the other), so every writer takes a transaction-level advisory lock on
the partition (``pg_advisory_xact_lock(hashtextextended('transaction_changes:' || org_id
|| ':' || environment, 0))``) before its first append and keeps it until commit: within a
partition, numbers are drawn and committed in the same order. Streams never span partitions.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table accounts (
            id uuid primary key,
            org_id uuid not null references organizations(id) on delete cascade,
            environment text not null check (environment in ('live', 'test')),
            connection_id text not null references connections(id) on delete cascade,
            entity_id uuid not null,
            bank_id text not null,
            type text not null,
            currency text not null,
            name text not null,
            status text not null check (status in ('open', 'closed', 'unknown')),
            official_name text,
            masked_number text,
            account_number text,
            routing_number text,
            swift_bic text,
            iban text,
            current_balance numeric,
            available_balance numeric,
            balance_as_of timestamptz,
            permissions text[] not null default '{}',
            metadata jsonb not null default '{}',
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            unique (connection_id, bank_id)
        );
        create index accounts_list_idx on accounts (org_id, environment, created_at, id);

        -- a UUIDv7 made in SQL: a random (v4) UUID whose first 48 bits become the time in
        -- milliseconds and whose version nibble turns from 4 to 7
        create function waycore_uuid7() returns uuid language sql volatile as $$
            select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
                substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint)
                from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
        $$;

        create table transactions (
            id uuid primary key default waycore_uuid7(),
            org_id uuid not null,
            environment text not null check (environment in ('live', 'test')),
            connection_id text not null,
            -- no foreign key: a per-row RI trigger would double the cost of a bulk load,
            -- and only the sync engine writes here, after upserting the accounts
            account_id uuid not null,
            identity_kind text not null
                check (identity_kind in ('row_id', 'bank_reference', 'fingerprint')),
            identity text not null,
            status text not null,
            posted_date date,
            transaction_date date,
            amount numeric not null,
            currency text not null,
            description text not null,
            raw_description text,
            rail text not null,
            customer_reference text,
            bank_reference text,
            bai_code text,
            category text,
            subcategory text,
            mcc text,
            merchant_name text,
            counterparty_name text,
            counterparty_account_masked text,
            running_balance numeric,
            -- days since 1970-01-01, pending (no postedDate) as the largest value: one
            -- ascending/descending key puts pending items first under -postedDate, last
            -- under postedDate
            sort_day integer generated always as
                (coalesce(posted_date - date '1970-01-01', 2147483647)) stored,
            removed_at timestamptz,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            unique (account_id, identity_kind, identity)
        );
        create index transactions_list_idx
            on transactions (org_id, environment, sort_day, id) where removed_at is null;
        create index transactions_updated_idx
            on transactions (org_id, environment, updated_at, id) where removed_at is null;

        create table transaction_changes (
            seq bigserial primary key,
            org_id uuid not null,
            environment text not null,
            connection_id text not null,
            account_id uuid not null,
            transaction_id uuid not null,
            type text not null check (type in ('added', 'modified', 'removed')),
            committed_at timestamptz not null default clock_timestamp()
        );
        create index transaction_changes_partition_idx
            on transaction_changes (org_id, environment, seq);

        create table balances (
            account_id uuid not null references accounts(id) on delete cascade,
            date date not null,
            org_id uuid not null,
            environment text not null,
            ledger numeric,
            available numeric,
            posted_transaction_delta numeric not null default 0,
            source text not null check (source in ('bankProvided', 'derived')),
            updated_at timestamptz not null default now(),
            primary key (account_id, date)
        );
        create index balances_partition_idx on balances (org_id, environment, date desc);

        create table sync_jobs (
            id uuid primary key,
            connection_id text not null references connections(id) on delete cascade,
            org_id uuid not null,
            environment text not null,
            trigger text not null check (trigger in ('activation', 'scheduled', 'manual')),
            status text not null default 'queued'
                check (status in ('queued', 'running', 'succeeded', 'failed')),
            accounts integer not null default 0,
            added integer not null default 0,
            modified integer not null default 0,
            removed integer not null default 0,
            error_code text,
            error_message text,
            created_at timestamptz not null default now(),
            started_at timestamptz,
            finished_at timestamptz
        );
        create index sync_jobs_connection_idx on sync_jobs (connection_id, created_at desc);
        create unique index sync_jobs_one_active_idx
            on sync_jobs (connection_id) where status in ('queued', 'running');
        """
    )


def downgrade() -> None:
    op.execute(
        "drop table if exists sync_jobs, balances, transaction_changes, transactions, accounts;"
        "drop function if exists waycore_uuid7()"
    )
