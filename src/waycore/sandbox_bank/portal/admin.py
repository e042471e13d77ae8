"""The customer administrator: delegated users (create, list)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waycore.sandbox_bank.errors import DuplicateUsername, ValidationFailed
from waycore.sandbox_bank.portal.context import Viewer, db, page, signed_in
from waycore.sandbox_bank.portal.forms import read_form
from waycore.sandbox_bank.portal.render import see_other
from waycore.sandbox_bank.portal.sessions import web_session
from waycore.sandbox_bank.service import accounts as accounts_service
from waycore.sandbox_bank.service import users

PERMISSIONS = [
    ("viewBalances", "View balances"),
    ("viewTransactions", "View transactions"),
    ("downloadStatements", "Download statements"),
    ("initiatePayments", "Initiate payments"),
    ("approvePayments", "Approve payments"),
]
LABELS = {
    "firstName": "First name",
    "lastName": "Last name",
    "address": "Address",
    "email": "E-mail address",
    "username": "Username",
    "phoneNumber": "Phone number",
    "secondFactor": "Second factor",
}
FIELDS = (
    "first_name",
    "last_name",
    "address",
    "email",
    "username",
    "phone_number",
    "second_factor",
    "account_scope",
)


async def users_list(request: Request) -> Response:
    viewer = await signed_in(request, admin=True)
    if not isinstance(viewer, Viewer):
        return viewer
    async with db(request) as session:
        found = await users.list_users(session, viewer.user.customer_id)
    return page(request, "admin_users.html", viewer, title="Users", nav="users", users=found)


async def _form(
    request: Request,
    viewer: Viewer,
    *,
    values: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    async with db(request) as session:
        accounts = await accounts_service.visible_accounts(session, viewer.user)
    return page(
        request,
        "admin_new_user.html",
        viewer,
        status=status,
        title="New user",
        nav="new-user",
        accounts=accounts,
        permissions=PERMISSIONS,
        values=values
        or {"second_factor": "email", "account_scope": "all", "perms": [], "account_ids": []},
        errors=errors or [],
    )


async def new_user_form(request: Request) -> Response:
    viewer = await signed_in(request, admin=True)
    if not isinstance(viewer, Viewer):
        return viewer
    return await _form(request, viewer)


async def new_user_submit(request: Request) -> Response:
    viewer = await signed_in(request, admin=True)
    if not isinstance(viewer, Viewer):
        return viewer
    ws = web_session(request)
    form = await read_form(request)
    values: dict[str, Any] = {k: (form.get(k) or "")[:1000] for k in FIELDS}
    values["perms"] = [p for p in form.getlist("permissions") if p in dict(PERMISSIONS)]
    values["account_ids"] = form.getlist("account_ids")[:50]
    if not ws.csrf_ok(form.get("csrf_token")):
        return await _form(
            request,
            viewer,
            values=values,
            status=403,
            errors=[
                "Your session expired or the form was already used. "
                "Nothing was created; please submit again."
            ],
        )
    permissions: dict[str, Any] = {p: p in values["perms"] for p, _ in PERMISSIONS}
    permissions["accountIds"] = (
        None if values["account_scope"] != "selected" else sorted(set(values["account_ids"]))
    )
    try:
        async with db(request) as session:
            created = await users.create_delegated_user(
                session,
                viewer.user.customer_id,
                first_name=form.get("first_name") or "",
                last_name=form.get("last_name") or "",
                address=(form.get("address") or "").replace("\r\n", "\n"),
                email=form.get("email") or "",
                username=form.get("username") or "",
                phone_number=form.get("phone_number") or "",
                second_factor=form.get("second_factor") or "",
                permissions=permissions,
            )
    except ValidationFailed as exc:
        errors: Any = exc.details.get("errors") or []
        messages = [f"{LABELS.get(e['field'], e['field'])}: {e['message']}" for e in errors]
        return await _form(
            request, viewer, values=values, errors=messages or [exc.message], status=422
        )
    except DuplicateUsername:
        return await _form(
            request,
            viewer,
            values=values,
            status=409,
            errors=["Username: this username is already taken."],
        )
    ws.set(
        "created_user",
        {
            "username": created.user.username,
            "password": created.temporary_password,
            "email": created.user.email,
        },
    )
    return see_other("/admin/users/created")


async def user_created(request: Request) -> Response:
    viewer = await signed_in(request, admin=True)
    if not isinstance(viewer, Viewer):
        return viewer
    created = web_session(request).pop("created_user")
    if not created:
        return see_other("/admin/users")
    return page(
        request,
        "admin_user_created.html",
        viewer,
        title="User created",
        nav="users",
        created=created,
    )


routes = [
    Route("/admin", lambda request: see_other("/admin/users"), methods=["GET"]),
    Route("/admin/users", users_list, methods=["GET"]),
    Route("/admin/users", new_user_submit, methods=["POST"]),
    Route("/admin/users/new", new_user_form, methods=["GET"]),
    Route("/admin/users/created", user_created, methods=["GET"]),
]
