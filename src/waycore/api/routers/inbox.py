"""``POST /inbox/sms``: the inbound SMS webhook of the provisioned numbers (API.md section 16).

Outside ``/v1``, not in OpenAPI, no API key and no rate limit. The query ``token`` must equal
``WAYCORE_INBOX_SMS_SECRET`` (constant-time compare; unset refuses every call); otherwise
401 ``authentication_required`` and nothing is read or stored. The body is a form
(``application/x-www-form-urlencoded``) with ``To``, ``From`` and ``Body``. Success is 204,
also for a number no connection holds (dropped).
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response

from waycore.api.deps import MAX_BODY_BYTES, DbSession
from waycore.errors import (
    AuthenticationRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from waycore.inbox.store import InboxKey, load_inbox_key, store_message

router = APIRouter(include_in_schema=False)

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


@router.post("/inbox/sms", status_code=204)
async def receive_sms(request: Request, session: DbSession) -> Response:
    _check_token(request)
    fields = await _form(request)
    await store_message(
        session,
        await _inbox_key(request),
        channel="sms",
        to_address=fields["To"],
        from_address=fields["From"],
        subject=None,
        body=fields["Body"],
    )
    return Response(status_code=204)


def _check_token(request: Request) -> None:
    secret = request.app.state.settings.inbox_sms_secret
    presented = request.query_params.get("token", "")
    expected = secret.get_secret_value() if secret is not None else ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise AuthenticationRequired("A valid token query parameter is required.")


async def _form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise UnsupportedMediaType(f"The request body must be {FORM_MEDIA_TYPE}.")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(max_bytes=MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(max_bytes=MAX_BODY_BYTES)
        chunks.append(chunk)
    parsed = parse_qs(b"".join(chunks).decode("utf-8", errors="replace"), keep_blank_values=True)
    fields = {name: values[0] for name, values in parsed.items() if values}
    errors = [
        {"field": name, "message": "required"}
        for name in ("To", "From", "Body")
        if name not in fields or (name == "To" and not fields[name].strip())
    ]
    if errors:
        raise ValidationFailed(errors)
    return fields


async def _inbox_key(request: Request) -> InboxKey:
    state = request.app.state
    key: InboxKey | None = getattr(state, "inbox_key", None)
    if key is None:
        key = await load_inbox_key(state.engine, state.keyring)
        state.inbox_key = key
    return key
