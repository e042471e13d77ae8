"""Operator cases: connections parked for a person (no connector, unknown portal page).

One row per case; ``snapshot_path`` names the redacted HTML/screenshot the connector saved
(never page secrets). A case is open until ``waycore ops resolve`` closes it (audited).
A ``pg_notify('waycore_verification', connection_id)`` trigger on ``connection_credentials``
wakes a worker waiting for an end user's code as soon as ``PUT …/verificationCode`` commits.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table operator_cases (
            id bigserial primary key,
            connection_id text not null references connections(id) on delete cascade,
            org_id uuid not null,
            environment text not null,
            reason text not null,
            error_code text,
            page_url text,
            snapshot_path text,
            created_at timestamptz not null default now(),
            resolved_at timestamptz,
            resolution text check (resolution in ('code', 'handled'))
        );
        create index operator_cases_open_idx on operator_cases (created_at)
            where resolved_at is null;

        create function waycore_verification_notify() returns trigger language plpgsql as $$
        begin
            if new.verification_code is not null and (tg_op = 'INSERT'
               or new.verification_code is distinct from old.verification_code) then
                perform pg_notify('waycore_verification', new.connection_id);
            end if;
            return new;
        end $$;
        create trigger connection_credentials_verification_notify
            after insert or update on connection_credentials
            for each row execute function waycore_verification_notify();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        drop trigger if exists connection_credentials_verification_notify
            on connection_credentials;
        drop function if exists waycore_verification_notify();
        drop table if exists operator_cases;
        """
    )
