"""The Sandbox Bank's HTML portal: server-rendered pages, cookie sessions, XHR history.

``install(app)`` adds the routes, ``/static`` files, the session and error middleware to the
bank app (``sandbox_bank.app.create_app`` calls it).

Behaviour
---------
* Sessions live server-side (``sandbox_bank.web_sessions``), cookie ``sb_session``; idle
  timeout 15 minutes; every form carries a hidden ``csrf_token``; a successful form POST
  answers 303 See Other. ``sb_device`` is the 30-day "remember this device" cookie,
  ``sb_user`` remembers the last username (used to choose the login layout).
* Refusals: wrong password 401, locked 403, CSRF failure 403 (the login form again, with
  ``#login-error[data-reason]`` = ``invalid_credentials`` | ``account_locked`` (``locked``) |
  ``csrf`` | ``missing`` | ``too_long``); maintenance 503 (``main#maintenance``). Anything
  unexpected is ``main#error[data-error-code]`` with the HTTP status, never a trace.

Selectors (stable; a connector parses these)
--------------------------------------------
Every page is identified by its ``main`` element id.

* Log-in ``main#login``: ``form#login-form`` with ``input[name=username]``,
  ``input[name=password]``, ``input[name=csrf_token]``, ``button#login-submit``; error
  ``#login-error`` (``data-reason``), info ``#login-info`` (session ended).
  Administrators: the same form at ``/admin/login``.
* First-login password change ``main#change-password``: ``form#change-password-form``,
  ``input[name=current_password]``, ``input[name=new_password]``,
  ``input[name=confirm_password]``; rules ``ul#password-rules``; error ``#password-error``.
* Contact details (demo ``+otp``) ``main#contact-details``: ``form#contact-form``,
  ``input[name=email]``, ``input[name=phone]``; error ``#contact-error``.
* TOTP enrolment ``main#totp-enrol``: secret ``#totp-secret`` (text, also ``data-secret``),
  QR ``#totp-qr svg``, otpauth URI ``#totp-uri``; ``form#totp-form`` ``input[name=code]``.
* One-time code ``main#verify-code[data-channel=email|sms|totp]`` or
  ``main#hardware-token[data-channel=hardwareToken]``: ``form#code-form``,
  ``input[name=code]``, ``input[name=remember_device]`` (checkbox, absent when not offered),
  ``.destination`` (masked address), resend ``form#resend-form`` / ``button#resend-code``,
  error ``#code-error``.
* Navigation ``nav#main-nav``; signed-in user ``#signed-in-as[data-username]``; log out
  ``form#logout-form`` (POST ``/logout``).
* Accounts ``main#accounts``: ``table.accounts`` (headers: Account name, Type, Number,
  Currency, Current balance, Available balance, Status); rows ``tr[data-account-id]``
  (``data-account-type``), cells ``td.account-name a.account-link``, ``td.account-type``,
  ``td.account-number``, ``td.currency``, ``td.current-balance[data-value]``,
  ``td.available-balance[data-value]`` (signed decimal in ``data-value``), ``td.status``.
* Account ``main#account[data-account-id]``: ``dl#account-summary`` with
  ``dd.current-balance[data-value]``, ``dd.available-balance[data-value]``, ``dd.currency``;
  history ``section#history[data-history-url][data-page][data-has-next][data-loading]``;
  ``table#transactions tbody tr[data-txn-id][data-status=pending|posted]`` with cells
  ``td.txn-date``, ``td.posted-date`` (empty while pending), ``td.description``
  (multi-line), ``td.amount`` (signed, ``-1,234.56``), ``td.running-balance``,
  ``td.bank-reference`` (empty when none). ``button#next-page`` / ``button#prev-page``
  (disabled at the ends) and ``form#date-filter`` (``from``, ``to``) reload the table by
  XHR; ``section#history[data-loading=false]`` once done; ``#history-error`` shows a
  failed load; ``#page-status`` the page number.
  XHR: ``GET /accounts/{id}/history?page=N&from=&to=`` → ``{"rows": [{"id", "status",
  "transactionDate", "postedDate", "description", "amount", "amountText",
  "runningBalance", "runningBalanceText", "bankReference"}], "page", "first", "last",
  "hasNext", "hasPrev"}``; a logged-out session answers 401 ``{"error": {"code":
  "session_expired"}, "login": "/login?expired=1"}`` and the script goes to the log-in.
* Redesigned layout (fault ``redesign``): ``main#signon`` with ``form#signon-form``,
  ``input[name=user_id]``, ``input[name=passcode]``, error ``.notice--error``; accounts
  ``main#dashboard`` with ``article.account-card[data-acct]``; account
  ``main#account-activity`` with ``ul.activity li[data-ref-id]`` (``.when``, ``.what``,
  ``.value``, ``.after``), ``Older``/``Newer`` buttons (same ids).
* Statements ``main#statements``: ``table#statements-list tr[data-account-id][data-month]``
  with ``a.statement-pdf`` / ``a.statement-csv`` (``/statements/{accountId}/{YYYY-MM}.pdf``
  | ``.csv``); export ``form#export-form`` (``account``, ``from``, ``to``,
  ``format=csv|bai2``; GET ``/statements/export``).
* Payments ``main#payments``: ``table#payments-table tr[data-payment-id][data-status]`` with
  ``td.bank-reference``, ``td.customer-reference``, ``td.internal-note``, ``td.amount``,
  ``td.execution-date``, ``td.created``, ``td.status``, ``form.withdraw-form``.
  New payment ``main#payment-new``: ``form#payment-form`` (``kind=internal|external``,
  ``from_account``, ``to_account``, ``beneficiary_name``, ``beneficiary_account_number``,
  ``beneficiary_routing_number``, ``beneficiary_sort_code``, ``beneficiary_iban``,
  ``rail``, ``amount``, ``execution_date``, ``memo``, ``customer_reference``,
  ``internal_note``, hidden ``form_token``). Confirmation
  ``main#payment-confirmation[data-payment-id]``: ``#bank-reference``,
  ``#payment-status`` (``data-status``). Approvals ``main#approvals``:
  ``table#approvals-table tr[data-payment-id]`` with ``form.approve-form`` / ``form.reject-form``.
* Administrator: ``main#admin-users`` (``table#users tr[data-username]``),
  ``main#admin-new-user`` (``form#new-user-form``), ``main#admin-user-created``
  (``#temporary-password``, ``#created-username``), ``main#admin-payments``.
"""

from __future__ import annotations

from typing import Any


def install(app: Any) -> None:
    """Add the portal's routes, static files and middleware to the bank app."""
    from waycore.sandbox_bank.portal.site import install as _install

    _install(app)
