"""Institution wire models (API.md section 7)."""

from __future__ import annotations

from typing import Literal

from waycore.api.schemas import ApiModel
from waycore.domain.institutions.service import Institution


class InstitutionCapabilities(ApiModel):
    accounts: bool
    transactions: bool
    statements: bool
    transfers: bool


class InstitutionOut(ApiModel):
    institution_id: str
    name: str
    country: str
    default_portal_url: str
    portal_urls: list[str]
    domains: list[str]
    guide_url: str
    automation: Literal["connector", "operatorAssisted"]
    capabilities: InstitutionCapabilities

    @classmethod
    def of(cls, institution: Institution) -> InstitutionOut:
        caps = institution.capabilities
        return cls(
            institution_id=institution.institution_id,
            name=institution.name,
            country=institution.country,
            default_portal_url=institution.default_portal_url,
            portal_urls=list(institution.portal_urls),
            domains=list(institution.domains),
            guide_url=institution.guide_url,
            automation=institution.automation,
            capabilities=InstitutionCapabilities(
                accounts=caps.accounts,
                transactions=caps.transactions,
                statements=caps.statements,
                transfers=caps.transfers,
            ),
        )
