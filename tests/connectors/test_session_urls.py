"""Where a connector's paths land for portal URLs with and without a path."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from waycore.connectors.session import BankSession


@pytest.mark.parametrize(
    ("portal_url", "path", "expected"),
    [
        ("http://localhost:8100", "/login", "http://localhost:8100/login"),
        ("http://localhost:8100/login", "/login", "http://localhost:8100/login"),
        ("http://localhost:8100/login", "/accounts/7", "http://localhost:8100/accounts/7"),
        ("https://bank.example/treasury/", "home", "https://bank.example/treasury/home"),
    ],
)
def test_root_paths_resolve_on_the_site_root(portal_url: str, path: str, expected: str) -> None:
    bank = BankSession(SimpleNamespace(retry=None), None, portal_url)  # type: ignore[arg-type]
    assert bank.url(path) == expected
