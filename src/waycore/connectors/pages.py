"""Page helpers: a page is a description of what it looks like (STYLE.md section 7).

``Page`` parses an HTML string (so pages are tested on saved snapshots, no browser);
``is_here`` is the CSS selector that recognises it. ``Table`` finds columns by header
text, never by position, and turns each row into an item (a dataclass, or a dict)::

    class AccountsPage(Page):
        is_here = "main#accounts"
        accounts = Table("table.accounts", item=dict, fields={
            "bank_id": Attr("data-account-id"),
            "name": Cell("Account name"),
            "balance": AmountCell("Current balance", attr="data-value"),
        })

A table, cell or amount that does not parse raises ``PageParseError``; ``BankSession``
turns that into ``UnknownPage`` with a snapshot (never guess, never return nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Generic, TypeVar, overload

from waycore.connectors.html import Node, parse

T = TypeVar("T")
_NUMBER = re.compile(r"^\d{1,3}(?:[,\s]\d{3})*(?:\.\d+)?$|^\d+(?:\.\d+)?$")
_CURRENCY = re.compile(r"[£€$¥]|\b(?:GBP|EUR|USD|CHF|JPY|CAD|AUD)\b")
_SPACES = re.compile(r"\s+")


class PageParseError(ValueError):
    """The page is the expected one but its content does not parse."""


def parse_amount(text: str) -> Decimal:
    """A signed Decimal from a displayed amount.

    Accepts ``1,234.56``, ``-1,234.56``, ``(1,234.56)``, ``−12.00`` (minus sign), ``+5``,
    ``£1,234.56``, ``-€12.00``, ``€ -12.00``, ``1 234.56``, ``12.00 CR`` / ``12.00 DR``,
    ``12.00-``. Raises ``PageParseError`` on anything else (empty included).
    """
    raw = _SPACES.sub(" ", text.replace("\u2212", "-").replace("\u00a0", " ")).strip()
    s = _CURRENCY.sub("", raw).strip()
    negative = False
    if s.upper().endswith(" DR") or s.upper().endswith(" CR"):
        negative = s.upper().endswith("DR")
        s = s[:-3].strip()
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
        s = _CURRENCY.sub("", s).strip()
    if s.endswith("-"):
        negative, s = True, s[:-1].strip()
    if s[:1] in "+-" and s:
        negative, s = negative or s[0] == "-", s[1:].strip()
        s = _CURRENCY.sub("", s).strip()
    if not _NUMBER.match(s):
        raise PageParseError(f"not an amount: {text!r}")
    try:
        value = Decimal(s.replace(",", "").replace(" ", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already refused it
        raise PageParseError(f"not an amount: {text!r}") from exc
    return -value if negative else value


class Field:
    """How one item field is read from a table row."""

    def read(self, row: Node, columns: Mapping[str, int]) -> Any:
        raise NotImplementedError


class Attr(Field):
    """An attribute of the row itself (``data-account-id``)."""

    def __init__(self, name: str, *, required: bool = True) -> None:
        self.name, self.required = name, required

    def read(self, row: Node, columns: Mapping[str, int]) -> str | None:
        value = row.get(self.name)
        if value is None and self.required:
            raise PageParseError(f"row without {self.name}")
        return value


class Cell(Field):
    """The text (or ``attr``) of the cell under the column headed ``header``.

    ``pattern``: keep its first group (or the whole match); empty text gives None.
    ``optional``: a missing column gives None (columns shown only with some permission).
    """

    def __init__(
        self,
        header: str,
        *,
        pattern: str | None = None,
        attr: str | None = None,
        optional: bool = False,
    ) -> None:
        self.header = header
        self.optional = optional
        self.key = _header_key(header)
        self.pattern = re.compile(pattern) if pattern else None
        self.attr = attr

    def cell(self, row: Node, columns: Mapping[str, int]) -> Node:
        if self.key not in columns:
            raise PageParseError(f"no column {self.header!r}")
        cells = [c for c in row.children if isinstance(c, Node) and c.tag in ("td", "th")]
        index = columns[self.key]
        if index >= len(cells):
            raise PageParseError(f"row has no cell for {self.header!r}")
        return cells[index]

    def read(self, row: Node, columns: Mapping[str, int]) -> Any:
        if self.optional and self.key not in columns:
            return None
        cell = self.cell(row, columns)
        value = cell.get(self.attr) if self.attr else cell.text()
        if not value:
            return None
        if self.pattern:
            m = self.pattern.search(value)
            if m is None:
                raise PageParseError(f"{self.header!r} does not match {self.pattern.pattern}")
            return m.group(1) if m.groups() else m.group(0)
        return value


class AmountCell(Cell):
    """A signed ``Decimal`` from the column's text (or ``attr``); empty gives None."""

    def read(self, row: Node, columns: Mapping[str, int]) -> Decimal | None:
        text = super().read(row, columns)
        return None if text is None else parse_amount(text)


class Const(Field):
    def __init__(self, value: Any) -> None:
        self.value = value

    def read(self, row: Node, columns: Mapping[str, int]) -> Any:
        return self.value


def _header_key(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


class Table(Generic[T]):
    """Rows of the table matched by ``selector`` as ``item(**fields)``; a descriptor."""

    def __init__(
        self,
        selector: str,
        *,
        item: Callable[..., T],
        fields: Mapping[str, Field],
        rows: str = "tbody tr",
        skip: str = "empty",
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.selector, self.item, self.fields = selector, item, dict(fields)
        self.rows, self.skip, self.transform = rows, skip, transform
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, page: None, owner: type) -> Table[T]: ...
    @overload
    def __get__(self, page: Page, owner: type) -> list[T]: ...
    def __get__(self, page: Page | None, owner: type) -> Table[T] | list[T]:
        if page is None:
            return self
        cached = page._parsed.get(self.name)
        if cached is None:
            cached = page._parsed[self.name] = self.parse(page.doc)
        return cached  # type: ignore[no-any-return]

    def parse(self, doc: Node) -> list[T]:
        table = doc.css_first(self.selector)
        if table is None:
            raise PageParseError(f"no table {self.selector!r}")
        headers = table.css("thead th") or (table.css("tr") or [Node("tr")])[0].css("th")
        columns = {_header_key(th.text()): i for i, th in enumerate(headers)}
        items: list[T] = []
        for row in table.css(self.rows):
            if self.skip and self.skip in row.classes:
                continue
            values = {name: f.read(row, columns) for name, f in self.fields.items()}
            if self.transform is not None:
                values = self.transform(values)
            try:
                items.append(self.item(**values))
            except (TypeError, ValueError) as exc:
                raise PageParseError(f"{self.name}: {exc}") from exc
        return items


class Page:
    """One kind of page: how to recognise it (``is_here``) and what it shows."""

    is_here: ClassVar[str] = ""

    def __init__(self, html: str, url: str = "", *, doc: Node | None = None) -> None:
        self.url = url
        self.source = html
        self.doc = doc if doc is not None else parse(html)
        self._parsed: dict[str, Any] = {}

    @classmethod
    def recognise(cls, doc: Node) -> bool:
        return bool(cls.is_here) and doc.css_first(cls.is_here) is not None

    def validate(self) -> None:
        """Parse every table now, so a broken page fails where it is navigated to."""
        for klass in type(self).__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, Table):
                    getattr(self, name)

    # small readers for page-specific properties
    def first(self, selector: str) -> Node:
        node = self.doc.css_first(selector)
        if node is None:
            raise PageParseError(f"no {selector!r} on {type(self).__name__}")
        return node

    def text_of(self, selector: str, default: str | None = None) -> str | None:
        node = self.doc.css_first(selector)
        return node.text() if node is not None else default

    def attr_of(self, selector: str, name: str, default: str | None = None) -> str | None:
        node = self.doc.css_first(selector)
        return node.get(name, default) if node is not None else default

    def definitions(self, selector: str) -> dict[str, str]:
        """A ``<dl>`` as {term: definition}, terms case-folded."""
        found: dict[str, str] = {}
        term: str | None = None
        for node in self.first(selector).children:
            if isinstance(node, Node) and node.tag == "dt":
                term = _header_key(node.text())
            elif isinstance(node, Node) and node.tag == "dd" and term is not None:
                found[term] = node.text()
                term = None
        return found

    def has(self, selector: str) -> bool:
        return self.doc.css_first(selector) is not None


def recognise(html: str, candidates: tuple[type[Page], ...], url: str = "") -> Page | None:
    """The first candidate whose ``is_here`` matches ``html``, parsed, or None."""
    doc = parse(html)
    for candidate in candidates:
        if candidate.recognise(doc):
            return candidate(html, url, doc=doc)
    return None
