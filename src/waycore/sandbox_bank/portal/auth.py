"""Log-in: password, first-login password change, contact details, TOTP enrolment, codes.

The session's ``stage`` says which step the browser is at; every step's page refuses a
browser that is elsewhere (it goes back to ``/login``). Each step's POST answers 303.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waycore.sandbox_bank.errors import PasswordRejected, ValidationFailed
from waycore.sandbox_bank.models import User
from waycore.sandbox_bank.portal.context import apply_slow, db, locked_page, maintenance_page
from waycore.sandbox_bank.portal.forms import read_form
from waycore.sandbox_bank.portal.render import render, see_other
from waycore.sandbox_bank.portal.sessions import web_session
from waycore.sandbox_bank.service import codes, users

DEVICE_COOKIE = "sb_device"
USER_COOKIE = "sb_user"
DEVICE_DAYS = 30
MAX_CREDENTIAL = 200
STAGE_URLS = {
    "change_password": "/login/password",
    "contact": "/login/contact",
    "totp_enrol": "/login/totp",
    "code": "/login/code",
    "in": "/accounts",
}
CSRF_MESSAGE = "Your session expired or the form was already used. Please try again."


async def _remembered_layout(request: Request) -> str:
    raw = request.cookies.get(USER_COOKIE)
    if not raw:
        return "classic"
    async with db(request) as session:
        user = await users.get_user(session, unquote(raw)[:MAX_CREDENTIAL])
    return "v2" if user is not None and users.faults_of(user)["redesign"] else "classic"


def _login_page(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    reason: str | None = None,
    info: str | None = None,
    username: str = "",
    layout: str = "classic",
    admin: bool = False,
) -> Response:
    ws = web_session(request)
    ws.ensure()
    return render(
        request,
        "login.html",
        status=status,
        title="Log in",
        error=error,
        reason=reason,
        info=info,
        username=username,
        layout=layout,
        action="/admin/login" if admin else "/login",
        heading="Administrator log-in" if admin else None,
    )


async def home(request: Request) -> Response:
    ws = web_session(request)
    return see_other(STAGE_URLS["in"] if ws.logged_in else "/login")


async def login_form(request: Request) -> Response:
    ws = web_session(request)
    admin = request.url.path.startswith("/admin")
    if ws.logged_in:
        return see_other("/admin/users" if admin else "/accounts")
    expired = ws.expired or request.query_params.get("expired") == "1"
    info = "Your session has ended. Please log in again." if expired else None
    return _login_page(request, info=info, layout=await _remembered_layout(request), admin=admin)


async def login_submit(request: Request) -> Response:
    ws = web_session(request)
    admin = request.url.path.startswith("/admin")
    form = await read_form(request)
    username = (form.get("username") or form.get("user_id") or "").strip()
    password = form.get("password") or form.get("passcode") or ""
    layout = await _remembered_layout(request)
    shown = username[:MAX_CREDENTIAL]
    if not ws.csrf_ok(form.get("csrf_token")):
        return _login_page(
            request,
            status=403,
            error=CSRF_MESSAGE,
            reason="csrf",
            username=shown,
            layout=layout,
            admin=admin,
        )
    if not username or not password:
        return _login_page(
            request,
            status=400,
            error="Enter your username and password.",
            reason="missing",
            username=shown,
            layout=layout,
            admin=admin,
        )
    if len(username) > MAX_CREDENTIAL or len(password) > MAX_CREDENTIAL:
        return _login_page(
            request,
            status=400,
            error="The username or password is too long.",
            reason="too_long",
            layout=layout,
            admin=admin,
        )
    async with db(request) as session:
        result = await users.verify_password(session, username, password)
    user = result.user
    if user is not None:
        faults = users.faults_of(user)
        layout = "v2" if faults["redesign"] else "classic"
        await apply_slow(faults)
        if faults["maintenance"]:
            return maintenance_page(request)
    if result.outcome == users.LoginOutcome.LOCKED:
        return _login_page(
            request,
            status=403,
            reason="locked",
            username=shown,
            layout=layout,
            admin=admin,
            error="Your access is locked. Please contact your company administrator.",
        )
    if result.outcome != users.LoginOutcome.OK or user is None:
        return _login_page(
            request,
            status=401,
            reason="invalid_credentials",
            username=shown,
            layout=layout,
            admin=admin,
            error="The username or password is incorrect.",
        )
    ws.renew(user.username, {"stage": "password_ok"})
    response = await _advance(request, user)
    response.set_cookie(
        USER_COOKIE,
        quote(user.username),
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="lax",
    )
    return response


async def _advance(request: Request, user: User) -> Response:
    """Send the browser to the next step of the log-in it has not done yet."""
    ws = web_session(request)
    if users.needs_password_change(user):
        return _go(request, "change_password")
    if codes.needs_contact_details(user):
        return _go(request, "contact")
    if codes.needs_totp_enrolment(user):
        return _go(request, "totp_enrol")
    channel = codes.second_factor_channel(user)
    if ws.data.get("factor_done") or channel == "none":
        return _finish(request, user)
    if codes.may_remember_device(user) and await _device_remembered(request, user):
        return _finish(request, user)
    if channel in ("email", "sms"):
        async with db(request) as session:
            issued = await codes.issue_one_time_code(session, user.username)
        ws.set("code", {"channel": issued.channel, "destination": issued.destination})
    else:
        ws.set("code", {"channel": channel, "destination": None})
    return _go(request, "code")


def _go(request: Request, stage: str) -> Response:
    web_session(request).set("stage", stage)
    return see_other(STAGE_URLS[stage])


def _finish(request: Request, user: User) -> Response:
    ws = web_session(request)
    ws.pop("code")
    ws.pop("factor_done")
    ws.set("stage", "in")
    ws.set("pages", 0)
    return see_other("/admin/users" if user.role == "admin" else "/accounts")


async def _device_remembered(request: Request, user: User) -> bool:
    token = request.cookies.get(DEVICE_COOKIE)
    if not token or len(token) > 100:
        return False
    async with db(request) as session, session.begin():
        found = (
            await session.execute(
                text(
                    "select 1 from sandbox_bank.remembered_devices where token_hash = :h "
                    "and username = :u and expires_at > now()"
                ),
                {"h": hashlib.sha256(token.encode()).hexdigest(), "u": user.username},
            )
        ).first()
    return found is not None


async def _remember_device(request: Request, response: Response, user: User) -> None:
    token = secrets.token_urlsafe(32)
    async with db(request) as session, session.begin():
        await session.execute(
            text(
                "insert into sandbox_bank.remembered_devices (token_hash, username, expires_at) "
                "values (:h, :u, :e)"
            ),
            {
                "h": hashlib.sha256(token.encode()).hexdigest(),
                "u": user.username,
                "e": datetime.now(UTC) + timedelta(days=DEVICE_DAYS),
            },
        )
    response.set_cookie(
        DEVICE_COOKIE, token, max_age=DEVICE_DAYS * 86400, httponly=True, samesite="lax"
    )


async def _at_stage(request: Request, stage: str) -> User | Response:
    """The user part-way through log-in at ``stage``, or where the browser should go."""
    ws = web_session(request)
    if ws.username is None or ws.stage is None:
        return see_other("/login?expired=1" if ws.expired else "/login")
    if ws.stage != stage:
        return see_other(STAGE_URLS.get(ws.stage, "/login"))
    async with db(request) as session:
        user = await users.get_user(session, ws.username)
    if user is None:
        ws.end()
        return see_other("/login")
    if users.faults_of(user)["locked"] or user.status == "locked":
        ws.end()
        return locked_page(request)
    return user


def _csrf_refused(request: Request, template: str, **context: object) -> Response:
    return render(request, template, status=403, error=CSRF_MESSAGE, **context)


async def password_form(request: Request) -> Response:
    user = await _at_stage(request, "change_password")
    if isinstance(user, Response):
        return user
    return render(request, "change_password.html", title="New password", rules=_rules())


def _rules() -> list[str]:
    return [
        "10 to 128 characters",
        "at least one upper-case letter, one lower-case letter and one digit",
        "must not contain your username",
        "must differ from your temporary password",
    ]


async def password_submit(request: Request) -> Response:
    user = await _at_stage(request, "change_password")
    if isinstance(user, Response):
        return user
    ws = web_session(request)
    form = await read_form(request)
    if not ws.csrf_ok(form.get("csrf_token")):
        return _csrf_refused(request, "change_password.html", rules=_rules(), title="New password")
    new, confirm = form.get("new_password") or "", form.get("confirm_password") or ""
    error = None
    if new != confirm:
        error = "The two new passwords do not match."
    elif len(new) > 128 or len(form.get("current_password") or "") > MAX_CREDENTIAL:
        error = "The new password must be 10 to 128 characters."
    else:
        try:
            async with db(request) as session:
                user = await users.change_password(
                    session, user.username, new, form.get("current_password") or ""
                )
        except PasswordRejected as exc:
            error = exc.message
    if error:
        return render(
            request,
            "change_password.html",
            status=422,
            error=error,
            rules=_rules(),
            title="New password",
        )
    return await _advance(request, user)


async def contact_form(request: Request) -> Response:
    user = await _at_stage(request, "contact")
    if isinstance(user, Response):
        return user
    return render(request, "contact.html", title="Contact details")


async def contact_submit(request: Request) -> Response:
    user = await _at_stage(request, "contact")
    if isinstance(user, Response):
        return user
    ws = web_session(request)
    form = await read_form(request)
    email, phone = form.get("email") or "", form.get("phone") or ""
    if not ws.csrf_ok(form.get("csrf_token")):
        return _csrf_refused(
            request, "contact.html", title="Contact details", email=email[:254], phone=phone[:16]
        )
    try:
        async with db(request) as session:
            user = await codes.confirm_contact_details(session, user.username, email, phone)
    except ValidationFailed as exc:
        return render(
            request,
            "contact.html",
            status=422,
            title="Contact details",
            error=_fields_message(exc),
            email=email[:254],
            phone=phone[:16],
        )
    return await _advance(request, user)


def _fields_message(exc: ValidationFailed) -> str:
    labels = {"email": "E-mail address", "phoneNumber": "Mobile phone"}
    errors = exc.details.get("errors") or []
    parts = [
        f"{labels.get(e['field'], e['field'])} {e['message']}"
        for e in errors  # type: ignore[attr-defined]
    ]
    return "; ".join(parts) + "." if parts else exc.message


async def totp_form(request: Request, error: str | None = None, status: int = 200) -> Response:
    user = await _at_stage(request, "totp_enrol")
    if isinstance(user, Response):
        return user
    return render(
        request,
        "totp_enrol.html",
        status=status,
        title="Authenticator app",
        error=error,
        secret=user.totp_secret,
        uri=codes.totp_provisioning_uri(user),
        qr_svg=codes.totp_qr_svg(user),
    )


async def totp_submit(request: Request) -> Response:
    user = await _at_stage(request, "totp_enrol")
    if isinstance(user, Response):
        return user
    ws = web_session(request)
    form = await read_form(request)
    if not ws.csrf_ok(form.get("csrf_token")):
        return await totp_form(request, CSRF_MESSAGE, 403)
    code = (form.get("code") or "")[:12]
    async with db(request) as session:
        ok = await codes.confirm_totp_enrolment(session, user.username, code)
        user = await users.require_user(session, user.username)
    if not ok:
        if user.status == "locked":
            ws.end()
            return locked_page(request)
        return await totp_form(request, "That code is not correct. Try the current one.", 422)
    ws.set("factor_done", True)
    return await _advance(request, user)


def _code_page(
    request: Request,
    user: User,
    *,
    status: int = 200,
    error: str | None = None,
    info: str | None = None,
) -> Response:
    ws = web_session(request)
    pending = ws.data.get("code") or {}
    return render(
        request,
        "code.html",
        status=status,
        title="Verification",
        channel=pending.get("channel") or codes.second_factor_channel(user),
        destination=pending.get("destination"),
        remember_allowed=codes.may_remember_device(user),
        error=error,
        info=info,
    )


async def code_form(request: Request) -> Response:
    user = await _at_stage(request, "code")
    if isinstance(user, Response):
        return user
    return _code_page(request, user)


async def code_submit(request: Request) -> Response:
    user = await _at_stage(request, "code")
    if isinstance(user, Response):
        if web_session(request).logged_in:
            return _stale_code_page(request)
        return user
    ws = web_session(request)
    form = await read_form(request)
    if not ws.csrf_ok(form.get("csrf_token")):
        return _code_page(request, user, status=403, error=CSRF_MESSAGE)
    code = (form.get("code") or "").strip()
    if not code.isdigit() or len(code) != 6:
        return _code_page(request, user, status=422, error="Enter the 6-digit code.")
    async with db(request) as session:
        outcome = await codes.verify_one_time_code(session, user.username, code)
    if outcome == codes.CodeOutcome.LOCKED:
        ws.end()
        return locked_page(request)
    if outcome == codes.CodeOutcome.EXPIRED:
        return _code_page(
            request, user, status=422, error="That code has expired. Send a new code and try again."
        )
    if outcome != codes.CodeOutcome.OK:
        return _code_page(
            request, user, status=422, error="That code is not correct or has already been used."
        )
    ws.set("factor_done", True)
    response = _finish(request, user)
    if form.get("remember_device") == "1" and codes.may_remember_device(user):
        await _remember_device(request, response, user)
    return response


def _stale_code_page(request: Request) -> Response:
    from waycore.sandbox_bank.portal.render import error_page

    return error_page(
        request,
        409,
        "Code already used",
        "This one-time code was already used. You are logged in.",
        code="code_already_used",
        back_url="/accounts",
        back_label="Go to your accounts",
    )


async def code_resend(request: Request) -> Response:
    user = await _at_stage(request, "code")
    if isinstance(user, Response):
        return user
    ws = web_session(request)
    form = await read_form(request)
    if not ws.csrf_ok(form.get("csrf_token")):
        return _code_page(request, user, status=403, error=CSRF_MESSAGE)
    async with db(request) as session:
        issued = await codes.issue_one_time_code(session, user.username)
    ws.set("code", {"channel": issued.channel, "destination": issued.destination})
    return see_other("/login/code?resent=1")


async def logout(request: Request) -> Response:
    ws = web_session(request)
    form = await read_form(request)
    if ws.id is not None and not ws.csrf_ok(form.get("csrf_token")):
        from waycore.sandbox_bank.portal.render import error_page

        return error_page(
            request, 403, "Form expired", CSRF_MESSAGE, code="csrf", back_url="/accounts"
        )
    ws.end()
    return see_other("/login")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/admin/login", login_form, methods=["GET"]),
    Route("/admin/login", login_submit, methods=["POST"]),
    Route("/login/password", password_form, methods=["GET"]),
    Route("/login/password", password_submit, methods=["POST"]),
    Route("/login/contact", contact_form, methods=["GET"]),
    Route("/login/contact", contact_submit, methods=["POST"]),
    Route("/login/totp", totp_form, methods=["GET"]),
    Route("/login/totp", totp_submit, methods=["POST"]),
    Route("/login/code", code_form, methods=["GET"]),
    Route("/login/code", code_submit, methods=["POST"]),
    Route("/login/code/resend", code_resend, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
