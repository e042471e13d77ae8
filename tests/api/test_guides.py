"""Setup guides: HTML outside ``/v1``, no key, not in OpenAPI (API.md section 16)."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error


async def test_institution_guides_for_both_environments(client, settings) -> None:
    for institution_id, name in (("sandbox_bank", "Sandbox Bank"), ("barclays_uk", "Barclays")):
        response = await client.get(f"/guides/{institution_id}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        html = response.text
        assert html.startswith("<!doctype html>")
        assert f"Set up {name} for Waycore" in html
        assert "View transaction history" in html  # the permissions list
        assert "setup.instructions" in html  # how to create the delegated user
        # both environments' catalogues, each linking to its guide
        assert f'href="{settings.public_url}/guides/sandbox_bank"' in html
        assert f'href="{settings.public_url}/guides/jpmorgan_chase"' in html
        assert "not verified online" in html.lower() or "NOT verified online" in html


async def test_generic_guide(client) -> None:
    response = await client.get("/guides/generic")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "portalUrl" in response.text and "Set up your bank for Waycore" in response.text


@pytest.mark.parametrize("institution_id", ["nope", "SANDBOX_BANK", "%3Cscript%3E"])
async def test_unknown_guide_is_404_json(client, institution_id: str) -> None:
    response = await client.get(f"/guides/{institution_id}")
    assert_error(response, 404, "not_found")
    assert response.headers["content-type"].startswith("application/json")


async def test_guides_need_no_key_and_are_not_in_openapi(client) -> None:
    bad_key = {"Authorization": "Bearer nonsense"}
    assert (await client.get("/guides/sandbox_bank", headers=bad_key)).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/guides")]
    assert "/v1/institutions" in paths and "/v1/institutions/{institutionId}" in paths
    assert "/v1/entities/{entityId}" in paths


async def test_guide_methods(client) -> None:
    response = await client.post("/guides/sandbox_bank")
    assert_error(response, 405, "method_not_allowed")
