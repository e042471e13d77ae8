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
    op.execute(
        """
        create table sandbox_bank.clock (
            id integer primary key check (id = 1),
            origin date not null,
            today date not null,
            real_anchor date not null,
            pinned boolean not null default false,
            updated_at timestamptz not null default now()
        );

        create table sandbox_bank.customers (
            id uuid primary key,
            name text not null,
            seed bigint not null,
            history_days integer not null,
            demo_username text unique,
            created_at timestamptz not null default now()
        );

        create table sandbox_bank.users (
            username text primary key,
            customer_id uuid not null references sandbox_bank.customers(id) on delete cascade,
            role text not null check (role in ('admin', 'delegated', 'approver')),
            first_name text not null default '',
            last_name text not null default '',
            address text not null default '',
            email text,
            phone_number text,
            second_factor text not null default 'none'
                check (second_factor in ('none', 'email', 'sms', 'totp')),
            permissions jsonb not null,
            password_hash text not null,
            must_change_password boolean not null default true,
            status text not null default 'active' check (status in ('active', 'locked')),
            failed_passwords integer not null default 0,
            failed_codes integer not null default 0,
            totp_secret text,
            totp_enrolled boolean not null default false,
            totp_last_counter bigint,
            demo_behaviour text,
            contact_confirmed boolean not null default false,
            faults jsonb not null default '{}',
            created_at timestamptz not null default now(),
            password_changed_at timestamptz
        );
        create index users_customer_idx on sandbox_bank.users (customer_id, created_at);

        create table sandbox_bank.accounts (
            id uuid primary key,
            customer_id uuid not null references sandbox_bank.customers(id) on delete cascade,
            position integer not null,
            name text not null,
            official_name text not null,
            type text not null
                check (type in ('checking', 'savings', 'moneyMarket', 'creditCard', 'loan')),
            currency text not null,
            country text not null,
            account_number text not null,
            masked_number text not null,
            routing_number text,
            sort_code text,
            iban text,
            swift_bic text,
            status text not null default 'open',
            opening_balance numeric(18, 2) not null,
            current_balance numeric(18, 2) not null,
            available_balance numeric(18, 2) not null,
            credit_limit numeric(18, 2),
            opened_on date not null,
            unique (customer_id, position)
        );

        create table sandbox_bank.transactions (
            id uuid primary key,
            account_id uuid not null references sandbox_bank.accounts(id) on delete cascade,
            sort_key bigint not null,
            status text not null check (status in ('pending', 'posted', 'voided')),
            transaction_date date not null,
            posted_date date,
            description text not null,
            amount numeric(18, 2) not null,
            running_balance numeric(18, 2),
            bank_reference text,
            customer_reference text,
            rail text not null,
            bai_code text not null,
            post_due date,
            post_outcome text check (post_outcome in ('post', 'void')),
            post_amount numeric(18, 2),
            post_description text,
            payment_id uuid,
            created_at timestamptz not null default now()
        );
        create unique index transactions_listing_idx
            on sandbox_bank.transactions (account_id, sort_key desc);
        create index transactions_pending_idx
            on sandbox_bank.transactions (post_due) where status = 'pending';
        create index transactions_posted_date_idx
            on sandbox_bank.transactions (account_id, posted_date) where status = 'posted';

        create table sandbox_bank.payments (
            id uuid primary key,
            customer_id uuid not null references sandbox_bank.customers(id) on delete cascade,
            kind text not null check (kind in ('internal', 'external')),
            rail text not null,
            from_account_id uuid not null references sandbox_bank.accounts(id),
            to_account_id uuid references sandbox_bank.accounts(id),
            beneficiary_name text,
            beneficiary_account_number text,
            beneficiary_routing_number text,
            beneficiary_sort_code text,
            beneficiary_iban text,
            amount numeric(18, 2) not null check (amount > 0),
            currency text not null,
            execution_date date not null,
            memo text not null default '',
            customer_reference text not null default '',
            internal_note text not null default '',
            bank_reference text not null unique,
            status text not null check (status in ('pending_approval', 'approved', 'completed',
                'rejected', 'returned', 'withdrawn', 'deleted')),
            requires_approval boolean not null,
            created_by text not null,
            approved_by text,
            rejected_by text,
            form_token text,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            completed_on date,
            unique (customer_id, form_token)
        );
        create index payments_customer_idx on sandbox_bank.payments (customer_id, created_at desc);

        create table sandbox_bank.one_time_codes (
            id uuid primary key,
            username text not null references sandbox_bank.users(username) on delete cascade,
            channel text not null,
            code_hash text not null,
            expires_at timestamptz not null,
            used_at timestamptz,
            created_at timestamptz not null default now()
        );
        create index one_time_codes_user_idx
            on sandbox_bank.one_time_codes (username, created_at desc);

        create table sandbox_bank.outbox (
            id uuid primary key,
            channel text not null check (channel in ('email', 'sms')),
            recipient text not null,
            sender text not null,
            subject text,
            body text not null,
            sent_at timestamptz not null default clock_timestamp()
        );
        create index outbox_recipient_idx on sandbox_bank.outbox (recipient, sent_at desc);
        create index outbox_sent_idx on sandbox_bank.outbox (sent_at desc);

        create table sandbox_bank.web_sessions (
            id text primary key,
            data jsonb not null default '{}',
            csrf_token text not null,
            username text,
            created_at timestamptz not null default now(),
            last_seen_at timestamptz not null default now()
        );
        create index web_sessions_seen_idx on sandbox_bank.web_sessions (last_seen_at);

        create table sandbox_bank.remembered_devices (
            token_hash text primary key,
            username text not null,
            expires_at timestamptz not null
        );
        create index remembered_devices_user_idx on sandbox_bank.remembered_devices (username);
        """
    )


def downgrade() -> None:
    op.execute("drop schema if exists sandbox_bank cascade")
