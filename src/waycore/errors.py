"""The error tree every API answer comes from (API.md section 3).

WaycoreError
 +-- AuthenticationRequired      401 authentication_required
 +-- InvalidApiKey               401 invalid_api_key
 +-- ApiKeyExpired               401 api_key_expired
 +-- InsufficientScope           403 insufficient_scope
 +-- NotFound                    404 not_found
 +-- MethodNotAllowed            405 method_not_allowed
 +-- ValidationFailed            422 validation_error
 +-- InvalidState                409 invalid_state
 +-- SyncInProgress              409 sync_in_progress
 +-- IdempotencyKeyReused        409 idempotency_key_reused
 +-- IdempotencyKeyInUse         409 idempotency_key_in_use
 +-- EntityHasConnections        409 entity_has_connections
 +-- DefaultEntityImmutable      409 default_entity_immutable
 +-- InvalidCursor               400 invalid_cursor
 +-- CursorExpired               410 cursor_expired
 +-- PayloadTooLarge             413 payload_too_large
 +-- UnsupportedMediaType        415 unsupported_media_type
 +-- RateLimited                 429 rate_limited
 +-- ServiceUnavailable          503 service_unavailable
"""

from __future__ import annotations


class WaycoreError(Exception):
    """Unexpected failure."""

    code = "internal_error"
    status = 500
    headers: dict[str, str] = {}  # noqa: RUF012 - overridden per instance when needed

    def __init__(self, message: str | None = None, **details: object) -> None:
        text = message or (self.__doc__ or self.code).strip()
        super().__init__(text)
        self.message = text
        self.details: dict[str, object] = details


class AuthenticationRequired(WaycoreError):
    """Authentication required: send Authorization: Bearer <key>."""

    code, status = "authentication_required", 401


class InvalidApiKey(WaycoreError):
    """The API key is malformed, unknown, wrong or revoked."""

    code, status = "invalid_api_key", 401


class ApiKeyExpired(WaycoreError):
    """The API key has expired."""

    code, status = "api_key_expired", 401


class InsufficientScope(WaycoreError):
    """The API key lacks a scope this endpoint needs."""

    code, status = "insufficient_scope", 403


class NotFound(WaycoreError):
    """Resource not found."""

    code, status = "not_found", 404


class MethodNotAllowed(WaycoreError):
    """Method not allowed on this resource."""

    code, status = "method_not_allowed", 405


class ValidationFailed(WaycoreError):
    """Request failed validation."""

    code, status = "validation_error", 422

    def __init__(self, errors: list[dict[str, str]], message: str | None = None) -> None:
        super().__init__(message, errors=errors)

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([{"field": field, "message": message}])


class InvalidState(WaycoreError):
    """Not allowed in the resource's current state."""

    code, status = "invalid_state", 409


class SyncInProgress(WaycoreError):
    """A sync for this connection is already queued or running."""

    code, status = "sync_in_progress", 409


class IdempotencyKeyReused(WaycoreError):
    """This Idempotency-Key was used with a different request."""

    code, status = "idempotency_key_reused", 409


class IdempotencyKeyInUse(WaycoreError):
    """The first request with this Idempotency-Key is still executing."""

    code, status = "idempotency_key_in_use", 409


class EntityHasConnections(WaycoreError):
    """The entity still owns connections that are not revoked."""

    code, status = "entity_has_connections", 409


class DefaultEntityImmutable(WaycoreError):
    """The default entity cannot be changed or deleted."""

    code, status = "default_entity_immutable", 409


class InvalidCursor(WaycoreError):
    """The cursor is malformed, altered, or was issued for another request."""

    code, status = "invalid_cursor", 400


class CursorExpired(WaycoreError):
    """The cursor is older than 90 days; restart without a cursor."""

    code, status = "cursor_expired", 410


class PayloadTooLarge(WaycoreError):
    """The request body is larger than 1 MiB."""

    code, status = "payload_too_large", 413


class UnsupportedMediaType(WaycoreError):
    """The request body must be application/json."""

    code, status = "unsupported_media_type", 415


class RateLimited(WaycoreError):
    """Too many requests for this API key."""

    code, status = "rate_limited", 429


class ServiceUnavailable(WaycoreError):
    """A dependency is unavailable; retry shortly."""

    code, status = "service_unavailable", 503
