"""The Sandbox Bank's service API: what the portal and the control API call.

Every public function takes an ``AsyncSession`` (made with ``autobegin=False``) and opens
its own transaction, or a savepoint when the caller already holds one. Errors come from
``waycore.sandbox_bank.errors`` (``BankError`` subclasses with ``code``, ``status`` and a
human ``message`` the portal can show).

Customers and users
    create_customer(session, *, name, seed, accounts=3, history_days=1095,
                    transactions_per_account=None) -> CreatedCustomer
    create_delegated_user(session, customer_id, *, first_name, last_name, address, email,
                          username, phone_number, second_factor, permissions) -> CreatedUser
    get_user(session, username) -> User | None;  require_user(...) -> User
    list_users(session, customer_id) -> list[User]
    ensure_demo_user(session, username) -> User        (any name starting with "demo")
    can(user, "viewBalances" | "viewTransactions" | "downloadStatements" |
        "initiatePayments" | "approvePayments") -> bool

Login
    verify_password(session, username, password) -> LoginResult(outcome ok|wrong|locked, user)
    needs_password_change(user) -> bool;  change_password(session, username, new,
        current=None) raises PasswordRejected(message);  PASSWORD_RULES (text)
    needs_contact_details(user) -> bool;  confirm_contact_details(session, username, email,
        phone_number)
    second_factor_channel(user) -> "none"|"email"|"sms"|"totp"|"hardwareToken"
    may_remember_device(user) -> bool
    needs_totp_enrolment(user) -> bool;  totp_provisioning_uri(user);  totp_qr_svg(user);
        confirm_totp_enrolment(session, username, code) -> bool
    issue_one_time_code(session, username) -> IssuedCode(channel, destination, sent)
    verify_one_time_code(session, username, code) -> CodeOutcome ok|wrong|expired|locked
    get_faults(session, username) -> dict (all keys);  set_faults(session, username, patch)

Accounts and history
    visible_accounts(session, user) -> list[Account]
    get_visible_account(session, user, account_id) -> Account   (NotFound otherwise)
    account_transactions(session, user, account_id, *, page=1, date_from=None, date_to=None,
                         limit=25) -> TransactionPage(rows, page, limit, has_previous, has_next)

Payments
    create_payment(session, username, *, kind, from_account_id, amount, to_account_id=None,
                   beneficiary_name=None, beneficiary_account_number=None,
                   beneficiary_routing_number=None, beneficiary_sort_code=None,
                   beneficiary_iban=None, rail=None, execution_date=None, memo="",
                   customer_reference="", internal_note="", form_token=None) -> Payment
    payments_for_user(session, user);  list_payments(session, customer_id);
    get_payment(session, payment_id)
    approve_payment / reject_payment(session, payment_id, approver_username)
    withdraw_payment(session, payment_id, username);  delete_payment(session, payment_id,
        username);  return_payment(session, payment_id)

Clock, statements, outbox
    waycore.sandbox_bank.clock: today(session), advance(session, days)
    waycore.sandbox_bank.statements: list_statements, statement_pdf, statement_csv,
        export_csv, export_bai2
    list_outbox(session, to=None)
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.service.accounts import (
    TransactionPage,
    account_transactions,
    all_transactions,
    get_visible_account,
    visible_accounts,
)
from waycore.sandbox_bank.service.codes import (
    CodeOutcome,
    IssuedCode,
    confirm_contact_details,
    confirm_totp_enrolment,
    issue_one_time_code,
    may_remember_device,
    needs_contact_details,
    needs_totp_enrolment,
    second_factor_channel,
    totp_provisioning_uri,
    totp_qr_svg,
    verify_one_time_code,
)
from waycore.sandbox_bank.service.customers import (
    CreatedCustomer,
    create_customer,
    customer_accounts,
    get_customer,
    reset,
)
from waycore.sandbox_bank.service.demo import ensure_demo_user, is_demo_username
from waycore.sandbox_bank.service.outbox import Delivery, list_outbox, wait_for_deliveries
from waycore.sandbox_bank.service.payments import (
    APPROVAL_THRESHOLD,
    approve_payment,
    create_payment,
    delete_payment,
    get_payment,
    list_payments,
    payments_for_user,
    reject_payment,
    return_payment,
    withdraw_payment,
)
from waycore.sandbox_bank.service.users import (
    PASSWORD_RULES,
    CreatedUser,
    LoginOutcome,
    LoginResult,
    can,
    change_password,
    create_delegated_user,
    get_faults,
    get_user,
    list_users,
    may_see_account,
    needs_password_change,
    require_user,
    set_faults,
    verify_password,
)


async def today(session: AsyncSession) -> date:
    """The bank's current date (``waycore.sandbox_bank.clock.today``)."""
    from waycore.sandbox_bank import clock

    return await clock.today(session)


async def advance(session: AsyncSession, days: int) -> date:
    """Move the bank clock forward (``waycore.sandbox_bank.clock.advance``)."""
    from waycore.sandbox_bank import clock

    return await clock.advance(session, days)


__all__ = [
    "APPROVAL_THRESHOLD",
    "PASSWORD_RULES",
    "CodeOutcome",
    "CreatedCustomer",
    "CreatedUser",
    "Delivery",
    "IssuedCode",
    "LoginOutcome",
    "LoginResult",
    "TransactionPage",
    "account_transactions",
    "advance",
    "all_transactions",
    "approve_payment",
    "can",
    "change_password",
    "confirm_contact_details",
    "confirm_totp_enrolment",
    "create_customer",
    "create_delegated_user",
    "create_payment",
    "customer_accounts",
    "delete_payment",
    "ensure_demo_user",
    "get_customer",
    "get_faults",
    "get_payment",
    "get_user",
    "get_visible_account",
    "is_demo_username",
    "issue_one_time_code",
    "list_outbox",
    "list_payments",
    "list_users",
    "may_remember_device",
    "may_see_account",
    "needs_contact_details",
    "needs_password_change",
    "needs_totp_enrolment",
    "payments_for_user",
    "reject_payment",
    "require_user",
    "reset",
    "return_payment",
    "second_factor_channel",
    "set_faults",
    "today",
    "totp_provisioning_uri",
    "totp_qr_svg",
    "verify_one_time_code",
    "verify_password",
    "visible_accounts",
    "wait_for_deliveries",
    "withdraw_payment",
]
