"""Redacted evidence of a page the connector did not recognise (DESIGN.md section 4).

``redact(html)`` removes scripts (and ``noscript``, ``template``, ``iframe``), empties every
input value and textarea, drops inline event handlers, and masks each run of four or more
digits (account numbers, balances, codes) unless it is in the safe list: ISO dates, the
times of day and the strings the caller names. Planted secrets (the caller passes the
password, username ...) are replaced wherever they appear. ``save`` writes the redacted HTML
and a PNG screenshot (inputs emptied first) under ``<state_dir>/snapshots/``.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets as secrets_lib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from waycore.connectors.html import Node, parse

DROPPED = frozenset({"script", "noscript", "template", "iframe", "object", "embed"})
SAFE_PATTERNS = (
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),  # ISO dates
    re.compile(r"\b\d{4}-\d{2}\b"),  # statement months
    re.compile(r"\b(?:19|20)\d{2}\b"),  # a year on its own
)
_DIGITS = re.compile(r"\d+(?:[,. ]\d+)*")
_MASK = "\u2022"  # •


# Before the screenshot: empty inputs, mask long digit runs in visible text (dates kept).
_BLANK_SCRIPT = r"""() => {
  for (const el of document.querySelectorAll('input, textarea')) {
    if (el.type !== 'hidden') el.value = '';
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    n.nodeValue = n.nodeValue.replace(/\d+(?:[,. ]\d+)*/g, (run) =>
      /^(19|20)\d{2}$/.test(run) || (run.match(/\d/g) || []).length < 4
        ? run : run.replace(/\d/g, '\u2022'));
  }
}"""


@dataclass(frozen=True)
class Snapshot:
    html_path: Path
    screenshot_path: Path | None


def _mask_digits(text: str, safe: Iterable[str]) -> str:
    keep: list[tuple[int, int]] = []
    for pattern in SAFE_PATTERNS:
        keep.extend(m.span() for m in pattern.finditer(text))
    for word in safe:
        if word:
            keep.extend(m.span() for m in re.finditer(re.escape(word), text))

    def replace(m: re.Match[str]) -> str:
        run = m.group(0)
        if sum(c.isdigit() for c in run) < 4:
            return run
        start, end = m.span()
        if any(a <= start and end <= b for a, b in keep):
            return run
        return re.sub(r"\d", _MASK, run)

    return _DIGITS.sub(replace, text)


def redact(html: str, *, secrets: Iterable[str] = (), safe: Iterable[str] = ()) -> str:
    """The page with values, scripts, long digit runs and ``secrets`` removed."""
    planted = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)
    safe = tuple(safe)
    doc = parse(html)
    for node in list(doc.elements()):
        if node.tag in DROPPED:
            node.remove()
            continue
        if node.tag == "input":
            node.attrs.pop("value", None)
        if node.tag == "textarea":
            node.children = []
        for name in list(node.attrs):
            if name.startswith("on") or name in ("srcdoc",):
                del node.attrs[name]
            else:
                node.attrs[name] = _scrub(node.attrs[name], planted, safe)
        node.children = [
            _scrub(c, planted, safe) if isinstance(c, str) else c for c in node.children
        ]
    return doc.html()


def _scrub(text: str, planted: list[str], safe: tuple[str, ...]) -> str:
    for secret in planted:
        text = text.replace(secret, "[redacted]")
    return _mask_digits(text, safe)


def snapshot_dir(state_dir: Path) -> Path:
    return state_dir / "snapshots"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


async def save(
    folder: Path,
    *,
    html: str,
    page: Any | None = None,
    label: str = "page",
    secrets: Iterable[str] = (),
    safe: Iterable[str] = (),
) -> Snapshot:
    """Write ``<stamp>-<label>.html`` (redacted) and ``.png`` (when ``page`` is given)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = re.sub(r"[^a-z0-9_-]+", "-", label.lower())[:40]
    base = f"{stamp}-{name}-{secrets_lib.token_hex(3)}"
    html_path = folder / f"{base}.html"
    redacted = redact(html, secrets=secrets, safe=safe).encode()
    await asyncio.to_thread(_write, html_path, redacted)
    png_path: Path | None = None
    if page is not None:
        png_path = folder / f"{base}.png"
        try:
            await page.evaluate(_BLANK_SCRIPT)
            data = await page.screenshot(full_page=True, timeout=10_000)
            await asyncio.to_thread(_write, png_path, data)
        except Exception:  # a screenshot is best effort; the HTML is the evidence
            png_path = None
    return Snapshot(html_path, png_path)


__all__ = ["Node", "Snapshot", "redact", "save", "snapshot_dir"]
