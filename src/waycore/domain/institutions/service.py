"""The institution catalogue, shipped as package data (``catalogue.json``).

``test`` is exactly ``sandbox_bank`` (its portal URL from ``WAYCORE_SANDBOX_BANK_URL``); ``live``
is the list of real commercial banks. Lookups are in memory; nothing here touches the database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlsplit

from waycore.config import Settings
from waycore.domain.institutions.urls import host_of, normalize_portal_url

Automation = Literal["connector", "operatorAssisted"]
ENVIRONMENTS = ("test", "live")
INSTITUTION_ID = re.compile(r"^[a-z0-9_]{2,64}$")
GENERIC_GUIDE = "generic"


@dataclass(frozen=True)
class Capabilities:
    accounts: bool
    transactions: bool
    statements: bool
    transfers: bool


@dataclass(frozen=True)
class Institution:
    institution_id: str
    name: str
    country: str
    default_portal_url: str
    portal_urls: tuple[str, ...]
    domains: tuple[str, ...]
    guide_url: str
    automation: Automation
    capabilities: Capabilities
    environment: str

    def matches_host(self, host: str) -> bool:
        """``host`` equals, or is a subdomain of, one of the institution's domains."""
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def matches_query(self, needle: str) -> bool:
        """``needle`` (casefolded) is a substring of the name, id, a portal URL or a domain."""
        fields = (self.name, self.institution_id, self.default_portal_url, *self.portal_urls)
        return any(needle in f.casefold() for f in (*fields, *self.domains))


@cache
def _raw_catalogue() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _build(
    entry: dict[str, Any], environment: str, public_url: str, sandbox_url: str
) -> Institution:
    institution_id = entry["institutionId"]
    if not INSTITUTION_ID.fullmatch(institution_id) or institution_id == GENERIC_GUIDE:
        raise ValueError(f"bad institution id in catalogue: {institution_id!r}")
    default = entry["defaultPortalUrl"]
    domains = [d.lower() for d in entry["domains"]]
    if institution_id == "sandbox_bank":
        default = sandbox_url
        domains = [urlsplit(normalize_portal_url(sandbox_url)).hostname or "localhost"]
    caps = entry["capabilities"]
    return Institution(
        institution_id=institution_id,
        name=entry["name"],
        country=entry["country"],
        default_portal_url=normalize_portal_url(default),
        portal_urls=tuple(normalize_portal_url(u) for u in entry["portalUrls"]),
        domains=tuple(domains),
        guide_url=f"{public_url.rstrip('/')}/guides/{institution_id}",
        automation=entry["automation"],
        capabilities=Capabilities(
            accounts=bool(caps["accounts"]),
            transactions=bool(caps["transactions"]),
            statements=bool(caps["statements"]),
            transfers=bool(caps["transfers"]),
        ),
        environment=environment,
    )


@cache
def _catalogue(public_url: str, sandbox_url: str) -> dict[str, tuple[Institution, ...]]:
    raw = _raw_catalogue()
    built: dict[str, tuple[Institution, ...]] = {}
    for environment in ENVIRONMENTS:
        items = [_build(e, environment, public_url, sandbox_url) for e in raw[environment]]
        items.sort(key=lambda i: (i.name, i.institution_id))
        built[environment] = tuple(items)
    return built


def list_institutions(settings: Settings, environment: str) -> tuple[Institution, ...]:
    """The environment's catalogue, ordered by name then id."""
    return _catalogue(settings.public_url, settings.sandbox_bank_url).get(environment, ())


def search_institutions(
    settings: Settings, environment: str, *, query: str | None = None, country: str | None = None
) -> list[Institution]:
    """``query``: case-insensitive substring of name, id, portal URL or host; ``country``."""
    needle = query.casefold() if query else None
    return [
        i
        for i in list_institutions(settings, environment)
        if (country is None or i.country == country) and (needle is None or i.matches_query(needle))
    ]


def get_institution(
    settings: Settings, environment: str, institution_id: str
) -> Institution | None:
    """The institution with this id in this environment's catalogue, else ``None``."""
    for institution in list_institutions(settings, environment):
        if institution.institution_id == institution_id:
            return institution
    return None


def find_in_any_environment(settings: Settings, institution_id: str) -> Institution | None:
    """For the setup guides, which serve both catalogues."""
    for environment in ENVIRONMENTS:
        found = get_institution(settings, environment, institution_id)
        if found is not None:
            return found
    return None


def resolve_portal_url(
    settings: Settings, environment: str, normalized_url: str
) -> Institution | None:
    """The institution whose domains cover the URL's host (the most specific domain wins)."""
    host = host_of(normalized_url)
    if not host:
        return None
    best: tuple[int, Institution] | None = None
    for institution in list_institutions(settings, environment):
        for domain in institution.domains:
            if (host == domain or host.endswith("." + domain)) and (
                best is None or len(domain) > best[0]
            ):
                best = (len(domain), institution)
    return best[1] if best else None


def catalogue_note() -> str:
    return str(_raw_catalogue().get("note", ""))
