"""Reading a posted form: strings only, bounded field count and size."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

MAX_FIELDS = 80
MAX_FIELD = 16 * 1024


class FormRefused(Exception):
    """The form broke the bank's limits (too many or too large fields)."""


class Form:
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.items:
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]


async def read_form(request: Request) -> Form:
    """The form's text fields; files are refused."""
    if request.method != "POST":
        return Form(list(request.query_params.multi_items()))
    try:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD)
    except HTTPException as exc:
        raise FormRefused(str(exc.detail)) from None
    return Form([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
