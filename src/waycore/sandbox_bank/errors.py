"""The Sandbox Bank's own error tree (it depends on nothing else in Waycore).

BankError                         500 internal_error
 +-- AuthenticationRequired       401 authentication_required
 +-- Forbidden                    403 forbidden            (permission the user lacks)
 +-- NotFound                     404 not_found
 +-- ValidationFailed             422 validation_error     (details.errors: [{field, message}])
 +-- InvalidState                 409 invalid_state
 +-- PasswordRejected             422 password_rejected    (bank password rules)
 +-- ApprovalRefused              409 approval_refused     (self-approval, no permission)
 +-- PaymentOverLimit             422 payment_over_limit   (fault ``paymentLimit``)
 +-- DuplicateUsername            409 username_taken

The control API renders them as ``{"error": {"code", "message", "details"}}``; the portal
shows ``message`` on a page.
"""

from __future__ import annotations


class BankError(Exception):
    """Unexpected failure."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str | None = None, **details: object) -> None:
        text = message or (self.__doc__ or self.code).strip()
        super().__init__(text)
        self.message = text
        self.details: dict[str, object] = details


class AuthenticationRequired(BankError):
    """Send X-Sandbox-Token (or call from loopback when no token is configured)."""

    code, status = "authentication_required", 401


class Forbidden(BankError):
    """You do not have permission to do this."""

    code, status = "forbidden", 403


class NotFound(BankError):
    """Resource not found."""

    code, status = "not_found", 404


class ValidationFailed(BankError):
    """Request failed validation."""

    code, status = "validation_error", 422

    def __init__(self, errors: list[dict[str, str]], message: str | None = None) -> None:
        super().__init__(message or "; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.details = {"errors": errors}

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([{"field": field, "message": message}])


class InvalidState(BankError):
    """Not allowed in the resource's current state."""

    code, status = "invalid_state", 409


class PasswordRejected(BankError):
    """The new password does not meet the bank's password rules."""

    code, status = "password_rejected", 422


class ApprovalRefused(BankError):
    """This user may not approve this payment."""

    code, status = "approval_refused", 409


class PaymentOverLimit(BankError):
    """The payment exceeds your payment limit."""

    code, status = "payment_over_limit", 422


class DuplicateUsername(BankError):
    """This username is already taken."""

    code, status = "username_taken", 409
