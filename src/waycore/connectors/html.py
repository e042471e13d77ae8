"""A small HTML tree with CSS selectors, on the standard library's parser.

Connector pages parse saved HTML strings (STYLE.md section 7), so this must work without a
browser. Supported selectors: ``tag``, ``#id``, ``.class``, ``[attr]``, ``[attr=v]``,
``[attr^=v]``, ``[attr$=v]``, ``[attr*=v]``, ``[attr~=v]``, ``*``, descendant and child
(``>``) combinators and comma-separated lists. Enough for portals; no pseudo-classes.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser

VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
RAW_TEXT = frozenset({"script", "style"})
_SPACE = re.compile(r"\s+")


@dataclass(eq=False)
class Node:
    """An element (``tag`` lower-case) or the document (``tag`` = ``#document``)."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list, repr=False)
    parent: Node | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ reading
    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def elements(self) -> Iterator[Node]:
        """Descendant elements in document order."""
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.elements()

    def raw_text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in RAW_TEXT:
                parts.append(child.raw_text())
        return "".join(parts)

    def text(self) -> str:
        """Text content with whitespace collapsed (scripts and styles left out)."""
        return _SPACE.sub(" ", self.raw_text()).strip()

    def css(self, selector: str) -> list[Node]:
        alternatives = _compile(selector)
        return [e for e in self.elements() if any(_matches(e, alt) for alt in alternatives)]

    def css_first(self, selector: str) -> Node | None:
        alternatives = _compile(selector)
        for element in self.elements():
            if any(_matches(element, alt) for alt in alternatives):
                return element
        return None

    # ------------------------------------------------------------------ writing
    def html(self) -> str:
        """Serialise back to HTML (attribute values and text escaped)."""
        out: list[str] = []
        self._write(out)
        return "".join(out)

    def _write(self, out: list[str]) -> None:
        if self.tag != "#document":
            attrs = "".join(
                f' {k}="{html_lib.escape(v, quote=True)}"' if v != "" else f" {k}"
                for k, v in self.attrs.items()
            )
            out.append(f"<{self.tag}{attrs}>")
        for child in self.children:
            if isinstance(child, str):
                raw = self.tag in RAW_TEXT
                out.append(child if raw else html_lib.escape(child, quote=False))
            else:
                child._write(out)
        if self.tag != "#document" and self.tag not in VOID:
            out.append(f"</{self.tag}>")

    def remove(self) -> None:
        if self.parent is not None:
            self.parent.children = [c for c in self.parent.children if c is not self]
            self.parent = None


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(markup: str) -> Node:
    """The document tree of ``markup`` (never raises on malformed HTML)."""
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


# ---------------------------------------------------------------------- selectors

_TOKEN = re.compile(
    r"""\s*(?P<comb>[>,])\s*|(?P<space>\s+)|(?P<tag>\*|[a-zA-Z][\w-]*)|\#(?P<id>[\w-]+)
    |\.(?P<cls>[\w-]+)|\[\s*(?P<attr>[\w:-]+)\s*(?:(?P<op>[~^$*]?=)\s*
    (?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\]\s]+)))?\s*\]""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Compound:
    tag: str | None = None
    id: str | None = None
    classes: tuple[str, ...] = ()
    attrs: tuple[tuple[str, str | None, str], ...] = ()


# A complex selector, rightmost compound first: [(compound, combinator to the left)].
_Complex = list[tuple[_Compound, str]]


@lru_cache(maxsize=512)
def _compile(selector: str) -> tuple[_Complex, ...]:
    alternatives: list[_Complex] = []
    parts: list[tuple[_Compound, str]] = []  # (compound, combinator to its left)
    current: dict[str, object] = {}
    pending = " "
    pos = 0
    text = selector.strip()

    def close() -> None:
        nonlocal current, pending
        if current:
            parts.append((_Compound(**current), pending))  # type: ignore[arg-type]
            current, pending = {}, " "

    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"unsupported selector: {selector!r}")
        pos = m.end()
        if m["comb"] == ",":
            close()
            alternatives.append(parts[::-1])
            parts = []
        elif m["comb"] == ">":
            close()
            pending = ">"
        elif m["space"]:
            close()
        elif m["tag"]:
            current["tag"] = None if m["tag"] == "*" else m["tag"].lower()
        elif m["id"]:
            current["id"] = m["id"]
        elif m["cls"]:
            current["classes"] = (*current.get("classes", ()), m["cls"])  # type: ignore[misc]
        else:
            value = m["dq"] if m["dq"] is not None else m["sq"] or m["bare"] or ""
            attr = (m["attr"].lower(), m["op"], value)
            current["attrs"] = (*current.get("attrs", ()), attr)  # type: ignore[misc]
    close()
    alternatives.append(parts[::-1])
    if not all(alternatives):
        raise ValueError(f"empty selector: {selector!r}")
    return tuple(alternatives)


def _compound_matches(node: Node, c: _Compound) -> bool:
    if c.tag is not None and node.tag != c.tag:
        return False
    if c.id is not None and node.attrs.get("id") != c.id:
        return False
    if c.classes:
        have = node.classes
        if any(cls not in have for cls in c.classes):
            return False
    for name, op, value in c.attrs:
        actual = node.attrs.get(name)
        if actual is None:
            return False
        if op is None:
            continue
        if op == "=" and actual != value:
            return False
        if op == "^=" and not actual.startswith(value):
            return False
        if op == "$=" and not actual.endswith(value):
            return False
        if op == "*=" and value not in actual:
            return False
        if op == "~=" and value not in actual.split():
            return False
    return True


def _matches(node: Node, complex_: _Complex, index: int = 0) -> bool:
    compound, combinator = complex_[index]
    if not _compound_matches(node, compound):
        return False
    if index + 1 == len(complex_):
        return True
    parent = node.parent
    if combinator == ">":
        return (
            parent is not None
            and parent.tag != "#document"
            and _matches(parent, complex_, index + 1)
        )
    while parent is not None and parent.tag != "#document":
        if _matches(parent, complex_, index + 1):
            return True
        parent = parent.parent
    return False
