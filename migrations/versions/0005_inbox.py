"""The inbox: messages received for delegated users (e-mail and SMS).

Subjects, bodies, extracted one-time codes and temporary passwords are secrets: they are
stored sealed (AES-256-GCM) under the deployment's inbox key, a data key kept in
``app_secrets`` and wrapped by the master key (so a master-key rotation re-wraps it like the
cursor key, without touching the messages). Addresses, channel and times stay in the clear
for matching and retention (7 days). ``connection_id`` has no foreign key: messages outlive
nothing, and an unmatched e-mail is kept (``null``) until retention removes it.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table inbox_messages (
            id text primary key,
            channel text not null check (channel in ('email', 'sms')),
            to_address text not null,
            from_address text not null default '',
            connection_id text,
            received_at timestamptz not null default clock_timestamp(),
            subject_sealed bytea,
            body_sealed bytea not null,
            code_sealed bytea,
            temporary_password_sealed bytea
        );
        create index inbox_messages_connection_idx
            on inbox_messages (connection_id, received_at desc)
            where connection_id is not null;
        create index inbox_messages_to_idx on inbox_messages (to_address, received_at desc);
        create index inbox_messages_received_idx on inbox_messages (received_at);

        -- Each inbound e-mail is matched to its connection by address.
        create index inbox_connections_email_idx on connections (lower(email))
            where status <> 'revoked';
        """
    )


def downgrade() -> None:
    op.execute("drop table if exists inbox_messages")
