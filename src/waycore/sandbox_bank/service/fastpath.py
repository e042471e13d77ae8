"""Read paths of the portal's busiest pages: one statement, one round trip, no transaction.

The ORM service calls each open a transaction (BEGIN, SAVEPOINT, the query, RELEASE, COMMIT),
so an account page built from them cost about twenty round trips. Here each question is a
single SQL statement sent on a pooled connection outside any transaction (a lone statement
is atomic and sees one snapshot), through the driver directly: no BEGIN/COMMIT, no ORM
identity map, prepared statements cached per connection by the driver.

* :func:`session_with_user`: a web session row and its user (the fault switches live on the
  user row), joined.
* :func:`account_page`: an account and one page of its history (newest first, pending
  first, voided not listed) as an array of records in the same row.
* :func:`visible_accounts`: the customer's accounts, by position.

Permission rules are the service's own (``users.can``, ``users.may_see_account``) and
refusals raise the same errors in the same order as ``service.accounts``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from waycore.sandbox_bank.errors import Forbidden, NotFound, ValidationFailed
from waycore.sandbox_bank.models import SCHEMA, Account, Transaction, User
from waycore.sandbox_bank.models import WebSession as WebSessionRow
from waycore.sandbox_bank.service._common import parse_id
from waycore.sandbox_bank.service.accounts import MAX_PAGE_SIZE
from waycore.sandbox_bank.service.users import can, may_see_account

_USER_COLUMNS = tuple(User.__table__.columns.keys())
_ACCOUNT_COLUMNS = tuple(Account.__table__.columns.keys())
_ROW_COLUMNS = (
    "id",
    "sort_key",
    "status",
    "transaction_date",
    "posted_date",
    "description",
    "amount",
    "running_balance",
    "bank_reference",
)

_USERS = f"{SCHEMA}.{User.__tablename__}"
_ACCOUNTS = f"{SCHEMA}.{Account.__tablename__}"
_TRANSACTIONS = f"{SCHEMA}.{Transaction.__tablename__}"
_SESSIONS = f"{SCHEMA}.{WebSessionRow.__tablename__}"


# The statements below are assembled once, at import, from the models' own table and column
# names; every value is a bound parameter ($n).


def _columns(alias: str, names: tuple[str, ...]) -> str:
    return ", ".join(f"{alias}.{n} as {alias}_{n}" for n in names)


SESSION_WITH_USER_SQL = f"""
select s.data, s.csrf_token, s.username, s.last_seen_at, {_columns("u", _USER_COLUMNS)}
from {_SESSIONS} s left join {_USERS} u on u.username = s.username
where s.id = $1
"""  # noqa: S608

_BOOKING = "coalesce(t.posted_date, t.transaction_date)"


def _page_sql(account_columns: tuple[str, ...]) -> str:
    """$1 account id, $2 the user's customer id, $3 list rows?, $4 from, $5 to (booking
    date, inclusive), $6 offset, $7 limit. No row when the account is not the customer's;
    else one row: the account's columns and ``rows``, the page as an array of records (null
    when empty), newest first."""
    rows = ", ".join(f"t.{n}" for n in _ROW_COLUMNS)
    return f"""
select {_columns("a", account_columns)}, (
    select array_agg(p order by p.sort_key desc) from (
        select {rows} from {_TRANSACTIONS} t
        where $3::boolean and t.account_id = a.id and t.status <> 'voided'
          and ($4::date is null or {_BOOKING} >= $4::date)
          and ($5::date is null or {_BOOKING} <= $5::date)
        order by t.sort_key desc offset $6::bigint limit $7::bigint
    ) p
) as rows
from {_ACCOUNTS} a
where a.id = $1::uuid and a.customer_id = $2::uuid
"""  # noqa: S608


ACCOUNT_PAGE_SQL = _page_sql(_ACCOUNT_COLUMNS)
HISTORY_SQL = _page_sql(("id", "customer_id"))
ACCOUNTS_SQL = f"""
select {_columns("a", _ACCOUNT_COLUMNS)} from {_ACCOUNTS} a
where a.customer_id = $1::uuid order by a.position
"""  # noqa: S608
TOUCH_SQL = f"update {_SESSIONS} set last_seen_at = $2 where id = $1"  # noqa: S608
DELETE_SQL = f"delete from {_SESSIONS} where id = $1"  # noqa: S608


@asynccontextmanager
async def driver(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The pooled driver connection, outside any transaction (each statement commits alone).

    Nothing is executed through SQLAlchemy, so it never begins a transaction on it and the
    pool's reset on return is a no-op. A statement the server refused leaves the connection
    usable; anything else (lost connection, cancelled mid-statement) invalidates it.
    """
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        try:
            yield raw.driver_connection
        except asyncpg.PostgresError:
            raise
        except BaseException:
            await conn.invalidate()
            raise


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _prefixed(record: Mapping[str, Any], prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: record[prefix + n] for n in names}


def user_from(record: Mapping[str, Any]) -> User | None:
    """The (transient, read-only) user of a :data:`SESSION_WITH_USER_SQL` record, or None."""
    if record["u_username"] is None:
        return None
    values = _prefixed(record, "u_", _USER_COLUMNS)
    values["permissions"] = _json(values["permissions"])
    values["faults"] = _json(values["faults"])
    return User(**values)


def account_from(record: Mapping[str, Any]) -> Account:
    return Account(**_prefixed(record, "a_", _ACCOUNT_COLUMNS))


@dataclass(slots=True, frozen=True)
class SessionRecord:
    data: dict[str, Any]
    csrf_token: str
    username: str | None
    last_seen_at: datetime
    user: User | None


async def session_with_user(engine: AsyncEngine, session_id: str) -> SessionRecord | None:
    async with driver(engine) as conn:
        record = await conn.fetchrow(SESSION_WITH_USER_SQL, session_id)
    if record is None:
        return None
    return SessionRecord(
        data=_json(record["data"]) or {},
        csrf_token=record["csrf_token"],
        username=record["username"],
        last_seen_at=record["last_seen_at"],
        user=user_from(record),
    )


async def touch_session(engine: AsyncEngine, session_id: str, now: datetime) -> None:
    async with driver(engine) as conn:
        await conn.execute(TOUCH_SQL, session_id, now)


async def delete_session(engine: AsyncEngine, session_id: str) -> None:
    async with driver(engine) as conn:
        await conn.execute(DELETE_SQL, session_id)


@dataclass(slots=True, frozen=True)
class HistoryRow:
    """A listed transaction (the columns the pages show)."""

    id: uuid.UUID
    status: str
    transaction_date: date
    posted_date: date | None
    description: str
    amount: Decimal
    running_balance: Decimal | None
    bank_reference: str | None


@dataclass(slots=True)
class HistoryPage:
    rows: list[HistoryRow]
    page: int
    limit: int
    has_previous: bool
    has_next: bool


@dataclass(slots=True)
class AccountPage:
    account: Account
    history: HistoryPage | None


def _history(records: list[Any] | None, page: int, limit: int) -> HistoryPage:
    # Each record's fields come in _ROW_COLUMNS order: id, sort_key, status, ...
    rows = [HistoryRow(r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in records or ()]
    return HistoryPage(rows[:limit], page, limit, page > 1, len(rows) > limit)


async def account_page(
    engine: AsyncEngine, user: User, account_id: str, *, with_history: bool, limit: int = 25
) -> AccountPage:
    """The account (``NotFound`` unless the user may see it) and, when asked, the first page
    of its history, in one statement."""
    parsed = parse_id(account_id)
    if parsed is None:
        raise NotFound("Account not found.")
    async with driver(engine) as conn:
        record = await conn.fetchrow(
            ACCOUNT_PAGE_SQL, parsed, user.customer_id, with_history, None, None, 0, limit + 1
        )
    if record is None:
        raise NotFound("Account not found.")
    account = account_from(record)
    if not may_see_account(user, account):
        raise NotFound("Account not found.")
    return AccountPage(account, _history(record["rows"], 1, limit) if with_history else None)


async def account_history(
    engine: AsyncEngine,
    user: User,
    account_id: str,
    *,
    page: int = 1,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 25,
) -> HistoryPage:
    """``service.accounts.account_transactions`` in one statement: same checks, same order
    (``Forbidden``, ``ValidationFailed``, ``NotFound``), same rows."""
    if not can(user, "viewTransactions"):
        raise Forbidden("You do not have permission to view transactions.")
    if page < 1 or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed.single("page", "page must be ≥ 1 and limit 1 to 200")
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed.single("dateFrom", "must not be after dateTo")
    parsed = parse_id(account_id)
    if parsed is None:
        raise NotFound("Account not found.")
    async with driver(engine) as conn:
        record = await conn.fetchrow(
            HISTORY_SQL,
            parsed,
            user.customer_id,
            True,
            date_from,
            date_to,
            (page - 1) * limit,
            limit + 1,
        )
    if record is None:
        raise NotFound("Account not found.")
    ids = user.permissions.get("accountIds")
    if ids is not None and str(record["a_id"]) not in ids:
        raise NotFound("Account not found.")
    return _history(record["rows"], page, limit)


async def visible_accounts(engine: AsyncEngine, user: User) -> list[Account]:
    """``service.accounts.visible_accounts`` in one statement."""
    async with driver(engine) as conn:
        records = await conn.fetch(ACCOUNTS_SQL, user.customer_id)
    accounts = [account_from(r) for r in records]
    return [a for a in accounts if may_see_account(user, a)]
