"""Unit tests of portal URL normalization and portal-URL resolution (API.md sections 7, 8.2)."""

from __future__ import annotations

import pytest

from waycore.config import Settings
from waycore.domain.institutions import service
from waycore.domain.institutions.urls import normalize_portal_url


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("https://Bank.example:443/login/#a", "https://bank.example/login"),
        ("HTTPS://BANK.EXAMPLE", "https://bank.example"),
        ("https://bank.example/", "https://bank.example"),
        ("https://bank.example/Path/Case/", "https://bank.example/Path/Case"),
        ("https://bank.example/?a=1&B=2#frag", "https://bank.example?a=1&B=2"),
        ("https://bank.example/login?x=Y", "https://bank.example/login?x=Y"),
        ("https://bank.example:8443/", "https://bank.example:8443"),
        ("http://bank.example:80/x", "http://bank.example/x"),
        ("http://bank.example:443/x", "http://bank.example:443/x"),
        ("https://bank.example:80", "https://bank.example:80"),
        ("https://bücher.example/", "https://xn--bcher-kva.example"),
        ("https://BÜCHER.example", "https://xn--bcher-kva.example"),
        ("https://bank.example./", "https://bank.example"),
        ("http://localhost:8100", "http://localhost:8100"),
        ("http://127.0.0.1:8100/", "http://127.0.0.1:8100"),
        ("http://[::1]:8100/x/", "http://[::1]:8100/x"),
    ],
)
def test_normalize(raw: str, normalized: str) -> None:
    assert normalize_portal_url(raw) == normalized
    assert normalize_portal_url(normalized) == normalized  # idempotent


@pytest.mark.parametrize(
    "raw", ["", "bank.example", "ftp://bank.example", "https://", "https://bank.example:99999"]
)
def test_normalize_refuses_non_urls(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_portal_url(raw)


def test_resolve_portal_url() -> None:
    settings = Settings(sandbox_bank_url="http://127.0.0.1:8100")  # type: ignore[call-arg]
    resolve = service.resolve_portal_url

    def resolved_id(environment: str, url: str) -> str | None:
        found = resolve(settings, environment, url)
        return found.institution_id if found else None

    assert resolved_id("live", "https://online.chase.com/x") == "jpmorgan_chase"
    assert resolved_id("live", "https://chase.com") == "jpmorgan_chase"
    assert resolved_id("live", "https://access.jpmorgan.com") == "jpmorgan_chase"
    assert resolve(settings, "live", "https://notchase.com") is None
    assert resolve(settings, "live", "https://chase.com.evil.example") is None
    assert resolve(settings, "test", "https://online.chase.com") is None
    sandbox = resolve(settings, "test", "http://127.0.0.1:8100/login")
    assert sandbox is not None and sandbox.institution_id == "sandbox_bank"
    assert sandbox.domains == ("127.0.0.1",)
    assert resolve(settings, "live", "http://127.0.0.1:8100") is None


def test_get_institution() -> None:
    settings = Settings()
    assert service.get_institution(settings, "test", "sandbox_bank") is not None
    assert service.get_institution(settings, "live", "sandbox_bank") is None
    assert service.get_institution(settings, "live", "barclays_uk") is not None
    assert service.get_institution(settings, "test", "barclays_uk") is None
    assert service.get_institution(settings, "nowhere", "barclays_uk") is None
