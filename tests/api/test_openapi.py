"""``/openapi.json`` (issue 8 item 9): valid 3.1, the pipeline's errors on every operation,
zero errors under Redocly's recommended rules, a client generated with no warnings; ``/docs``
served without any CDN."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.api.conftest import MakeKey

REDOCLY = "@redocly/cli@2.77.0"
OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]*$")
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
async def document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()  # type: ignore[no-any-return]


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_document_is_valid_openapi_3_1(document, settings) -> None:  # type: ignore[no-untyped-def]
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document["servers"] == [{"url": settings.public_url.rstrip("/")}]
    assert not document["servers"][0]["url"].endswith("/v1")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_security_and_error_responses(document) -> None:  # type: ignore[no-untyped-def]
    seen_ids: set[str] = set()
    for path, method, op in _operations(document):
        where = f"{method.upper()} {path}"
        assert OPERATION_ID.match(op["operationId"]), where
        assert op["operationId"] not in seen_ids, where
        seen_ids.add(op["operationId"])
        assert op.get("summary"), where
        if not path.startswith("/v1"):
            assert op["security"] == [], where
            continue
        assert op["security"] == [{"bearerAuth": []}], where
        codes = set(op["responses"])
        assert {"401", "403", "422", "429"} <= codes, where
        if "requestBody" in op:
            assert {"413", "415", "422"} <= codes, where
        if method == "post":
            assert "409" in codes, where
            names = [p["name"] for p in op.get("parameters", [])]
            assert "Idempotency-Key" in names, where
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", where
        for name in re.findall(r"{([^}]+)}", path):
            params = [p for p in op.get("parameters", []) if p["in"] == "path"]
            assert name in {p["name"] for p in params}, where
            assert "_" not in name, where
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert document["paths"][path]["get"]["security"] == []


def test_contract_names(document) -> None:  # type: ignore[no-untyped-def]
    paths = document["paths"]
    assert "/v1/apiKeys/{keyId}" in paths
    schemas = document["components"]["schemas"]
    created, plain = schemas["ApiKeyCreated"], schemas["ApiKey"]
    assert "key" in created["required"] and "key" not in plain["properties"]
    ok = paths["/v1/apiKeys"]["post"]["responses"]["201"]["content"]["application/json"]
    assert ok["schema"]["$ref"] == "#/components/schemas/ApiKeyCreated"
    ok = paths["/v1/apiKeys/{keyId}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"] == "#/components/schemas/ApiKey"
    listed = paths["/v1/apiKeys"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["$ref"] == "#/components/schemas/ApiKeyList"
    request = paths["/v1/apiKeys"]["post"]["requestBody"]["content"]["application/json"]
    assert request["schema"]["$ref"] == "#/components/schemas/ApiKeyCreate"
    assert set(schemas["ApiKeyCreate"]["required"]) == {"name", "scopes"}
    names = set(schemas)
    assert not any(n.endswith("Out") or "_" in n for n in names), names
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(names)
    assert schemas["ApiKey"]["properties"]["status"]["enum"] == ["active", "expired", "revoked"]


def test_redocly_recommended_rules_find_no_error(document, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    npx = shutil.which("npx")
    assert npx, "npx (Node.js) is required: .ci/run installs it"
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    result = subprocess.run(
        [npx, "--yes", REDOCLY, "lint", "--extends=recommended", "--format=json", str(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    report = json.loads(result.stdout[result.stdout.index("{") :])
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == [], json.dumps(errors, indent=1)[:4000]
    assert result.returncode == 0, result.stderr[-2000:]


def _generate_client(document: dict[str, Any], folder: Path, package: str) -> str:
    """Run openapi-python-client on the document; its combined output."""
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(document))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"), "generate", "--path", str(spec),
            "--output-path", str(folder / package), "--meta", "none",
        ],
        capture_output=True, text=True, timeout=300, cwd=folder, env=env,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture
def generated(document: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The generated client's models module, and what the generator printed."""
    package = f"waycore_client_{os.getpid()}_{tmp_path.name}"
    output = _generate_client(document, tmp_path, package)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(f"{package}.models"), output
    finally:
        sys.path.remove(str(tmp_path))


def test_generated_client_has_no_warnings(generated: tuple[Any, str], tmp_path: Path) -> None:
    _, output = generated
    assert "warning" not in output.lower(), output
    assert "error" not in output.lower(), output
    assert next(tmp_path.glob("waycore_client_*/api/api_keys/create_api_key.py"))


async def test_generated_client_parses_api_key_responses(  # type: ignore[no-untyped-def]
    client, generated: tuple[Any, str], make_key: MakeKey
) -> None:
    models, _ = generated
    key = await make_key()
    created = await client.post(
        "/v1/apiKeys", headers=key.headers, json={"name": "gen", "scopes": ["apiKeys:read"]}
    )
    parsed = models.ApiKeyCreated.from_dict(created.json())
    assert parsed.key == created.json()["key"]
    listed = models.ApiKeyList.from_dict(
        (await client.get("/v1/apiKeys", headers=key.headers)).json()
    )
    assert {k.id for k in listed.data} == {key.key_id, created.json()["id"]}
    error = models.Error.from_dict((await client.get("/v1/apiKeys")).json())
    assert error.error.code == "authentication_required"
    health = models.Readiness.from_dict((await client.get("/readyz")).json())
    assert health.status == "ready"


async def test_generated_client_parses_the_onboarding_walkthrough(  # type: ignore[no-untyped-def]
    client, generated: tuple[Any, str], make_key: MakeKey
) -> None:
    """API.md section 15, steps 3-6: every response parses with the generated models."""
    models, _ = generated
    key = await make_key()
    h = key.headers

    institutions = await client.get("/v1/institutions?query=sandbox", headers=h)
    listed = models.InstitutionList.from_dict(institutions.json())
    assert [i.institution_id for i in listed.data] == ["sandbox_bank"]

    entity = await client.post(
        "/v1/entities", headers=h, json={"externalEntityId": "cust_42", "name": "Acme LLC"}
    )
    assert entity.status_code == 201
    parsed_entity = models.Entity.from_dict(entity.json())
    assert parsed_entity.external_entity_id == "cust_42"

    created = await client.post(
        "/v1/connections",
        headers=h,
        json={"entityId": str(parsed_entity.entity_id), "institutionId": "sandbox_bank"},
    )
    assert created.status_code == 201
    connection = models.Connection.from_dict(created.json())
    assert (
        connection.setup.instructions.username
        == created.json()["setup"]["instructions"]["username"]
    )

    credentials = await client.put(
        f"/v1/connections/{connection.id}/credentials",
        headers=h,
        json={"bankUsername": "demo+hardware", "password": "demo-password"},
    )
    assert credentials.status_code == 200
    assert models.Connection.from_dict(credentials.json()).setup.credentials_present is True

    completed = await client.put(
        f"/v1/connections/{connection.id}/setupCompletion",
        headers=h,
        json={"delegatedUserActive": True, "termsAccepted": True},
    )
    assert completed.status_code == 200
    after = models.Connection.from_dict(completed.json())
    assert str(after.status) == "pendingActivation"
    assert (
        models.ConnectionList.from_dict((await client.get("/v1/connections", headers=h)).json())
        .data[0]
        .id
        == connection.id
    )


async def test_docs_work_offline(client) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "/openapi.json" in page.text
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 1000
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/docs/assets/nothing.js")).status_code == 404
