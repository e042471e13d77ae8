"""Where a connector's paths land for portal URLs with and without a path."""

from __future__ import annotations

import pytest

from waycore.connectors.session import portal_path_url


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
    assert portal_path_url(portal_url, path) == expected
