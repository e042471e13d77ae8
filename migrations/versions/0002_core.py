"""Core tables: organizations, API keys, entities, events, audit log, idempotency, secrets.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table organizations (
            id uuid primary key,
            name text not null unique,
            created_at timestamptz not null default now()
        );

        create table api_keys (
            id text primary key,
            org_id uuid not null references organizations(id) on delete cascade,
            environment text not null check (environment in ('live', 'test')),
            name text not null,
            secret_hash bytea not null,
            scopes text[] not null,
            created_at timestamptz not null default now(),
            expires_at timestamptz not null,
            last_used_at timestamptz,
            revoked_at timestamptz,
            created_by_key_id text
        );
        create index api_keys_partition_idx on api_keys (org_id, environment, created_at desc, id desc);

        create table entities (
            id uuid primary key,
            org_id uuid not null references organizations(id) on delete cascade,
            external_entity_id text not null,
            name text,
            is_default boolean not null default false,
            contact_emails jsonb not null default '[]',
            metadata jsonb not null default '{}',
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            unique (org_id, external_entity_id)
        );
        create index entities_org_idx on entities (org_id, created_at desc, id desc);

        create table events (
            id text primary key,
            org_id uuid not null,
            environment text not null,
            type text not null,
            data jsonb not null,
            created_at timestamptz not null default now()
        );
        create index events_partition_idx on events (org_id, environment, created_at desc, id desc);

        create table audit_log (
            id bigserial primary key,
            org_id uuid not null,
            environment text,
            actor text not null,
            action text not null,
            resource_type text not null,
            resource_id text,
            request_id text,
            remote_addr text,
            details jsonb not null default '{}',
            created_at timestamptz not null default now()
        );
        create index audit_log_org_idx on audit_log (org_id, created_at desc);

        create table idempotency_keys (
            org_id uuid not null,
            environment text not null,
            key text not null,
            fingerprint text not null,
            state text not null check (state in ('running', 'done')),
            response_status integer,
            response_body bytea,
            created_at timestamptz not null default now(),
            primary key (org_id, environment, key)
        );
        create index idempotency_keys_created_idx on idempotency_keys (created_at);

        create table app_secrets (
            name text primary key,
            wrapped bytea not null,
            key_id text not null,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );
        """
    )
