"""Connections, delegated-user identities, phone leases and the vault.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table connections (
            id text primary key,
            org_id uuid not null references organizations(id) on delete cascade,
            environment text not null check (environment in ('live', 'test')),
            entity_id uuid not null references entities(id) on delete cascade,
            institution_id text,
            portal_url text not null,
            status text not null check (status in ('draft', 'pendingActivation', 'active',
                'reauthRequired', 'errored', 'paused', 'revoked')),
            kind text not null default 'setup' check (kind in ('setup', 'ready')),
            setup_status text check (setup_status in ('awaitingDelegatedUserCreation',
                'activating', 'awaitingVerificationCode', 'awaitingCredentials',
                'awaitingOperator', 'activationFailed')),
            error_code text,
            error_message text,
            metadata jsonb not null default '{}',
            credentials_present boolean not null default false,
            sync_status text not null default 'idle' check (sync_status in ('idle', 'syncing')),
            current_sync_id uuid,
            last_synced_at timestamptz,
            next_sync_at timestamptz,
            username text,
            email text,
            phone_number text,
            email_status text not null default 'pending' check (email_status in
                ('pending', 'provisioned', 'failed', 'notRequired')),
            phone_status text not null default 'pending' check (phone_status in
                ('pending', 'provisioned', 'failed', 'notRequired')),
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            revoked_at timestamptz
        );
        create index connections_list_idx
            on connections (org_id, environment, created_at desc, id desc);
        create index connections_entity_idx on connections (entity_id);
        create unique index connections_anchor_idx
            on connections (org_id, environment, entity_id, portal_url)
            where status <> 'revoked';
        create unique index connections_username_idx on connections (username);

        create table phone_leases (
            number text primary key,
            connection_id text not null unique references connections(id) on delete cascade,
            leased_at timestamptz not null default now()
        );

        create table vault_data_keys (
            org_id uuid primary key references organizations(id) on delete cascade,
            key_id text not null unique,
            wrapped bytea not null,
            master_key_id text not null,
            created_at timestamptz not null default now(),
            rotated_at timestamptz
        );

        create table connection_credentials (
            connection_id text primary key references connections(id) on delete cascade,
            org_id uuid not null references organizations(id) on delete cascade,
            data_key_id text not null,
            bank_username bytea,
            bank_customer_id bytea,
            password bytea,
            totp_secret bytea,
            storage_state bytea,
            verification_code bytea,
            verification_code_at timestamptz,
            updated_at timestamptz not null default now()
        );
        """
    )


def downgrade() -> None:
    op.execute(
        "drop table if exists connection_credentials, vault_data_keys, phone_leases, connections"
    )
