"""Error bodies, request ids, body rules and the order of checks (API.md sections 1-3)."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.conftest import MakeKey, assert_error

GENERATED = re.compile(r"^req_[a-z2-7]{24}$")
TWO_MIB = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("path", ["/v1/nothing", "/nothing", "/v1/apiKeys/a/b", "/v1"])
async def test_unknown_route_is_404_error_body(client, path) -> None:
    response = await client.get(path)
    assert_error(response, 404, "not_found")


async def test_wrong_method_is_405_with_allow(client) -> None:
    response = await client.put("/v1/apiKeys")  # route before authentication
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    response = await client.post("/v1/apiKeys/abc")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "DELETE"}
    response = await client.post("/healthz")
    assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v1/apiKeys", "/v1/nothing"])
async def test_request_id_is_echoed_or_generated(client, path) -> None:
    for valid in ("abc", "A1._:-z", "x" * 128, "0"):
        response = await client.get(path, headers={"X-Request-Id": valid})
        assert response.headers["x-request-id"] == valid
        if response.status_code >= 400:
            assert response.json()["meta"]["requestId"] == valid
    for invalid in ("", "-abc", "a b", "x" * 129, "a/b", "ä".encode()):
        response = await client.get(path, headers={"X-Request-Id": invalid})
        assert GENERATED.match(response.headers["x-request-id"]), response.headers
        if response.status_code >= 400:
            assert response.json()["meta"]["requestId"] == response.headers["x-request-id"]
    first = await client.get(path)
    second = await client.get(path)
    assert GENERATED.match(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_list_meta_carries_the_request_id(client, make_key: MakeKey) -> None:
    key = await make_key()
    response = await client.get("/v1/apiKeys", headers={**key.headers, "X-Request-Id": "trace-1"})
    assert response.json()["meta"] == {"requestId": "trace-1"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "malformed JSON"),
        (b'{"name": "x",}', "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b'"text"', "the body must be a JSON object"),
        (b"null", "the body must be a JSON object"),
    ],
)
async def test_bad_json_is_422_for_the_whole_body(client, make_key: MakeKey, raw, message) -> None:
    key = await make_key()
    response = await client.post("/v1/apiKeys", headers={**key.headers, **JSON}, content=raw)
    err = assert_error(response, 422, "validation_error")
    assert err["error"]["details"]["errors"] == [{"field": "", "message": message}]  # type: ignore[index]


async def test_body_over_one_mib_is_413(client, make_key: MakeKey) -> None:
    key = await make_key()
    response = await client.post("/v1/apiKeys", headers={**key.headers, **JSON}, content=TWO_MIB)
    err = assert_error(response, 413, "payload_too_large")
    assert err["error"]["details"] == {"maxBytes": 1048576}  # type: ignore[index]

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(32):
            yield b" " * 65536
        yield b"{}"

    response = await client.post("/v1/apiKeys", headers={**key.headers, **JSON}, content=chunks())
    assert_error(response, 413, "payload_too_large")
    response = await client.request(
        "DELETE", f"/v1/apiKeys/{key.key_id}", headers={**key.headers, **JSON}, content=TWO_MIB
    )
    assert_error(response, 413, "payload_too_large")


async def test_exactly_one_mib_is_not_too_large(client, make_key: MakeKey) -> None:
    key = await make_key()
    body = json.dumps({"name": "ok", "scopes": ["apiKeys:read"]}).encode()
    body += b" " * (1048576 - len(body))
    response = await client.post("/v1/apiKeys", headers={**key.headers, **JSON}, content=body)
    assert response.status_code == 201, response.text


async def test_media_type(client, make_key: MakeKey) -> None:
    key = await make_key()
    body = json.dumps({"name": "x", "scopes": ["apiKeys:read"]}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
        response = await client.post(
            "/v1/apiKeys", headers={**key.headers, "Content-Type": content_type}, content=body
        )
        assert_error(response, 415, "unsupported_media_type")
    response = await client.post("/v1/apiKeys", headers=key.headers, content=body)
    assert_error(response, 415, "unsupported_media_type")
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        response = await client.post(
            "/v1/apiKeys", headers={**key.headers, "Content-Type": content_type}, content=body
        )
        assert response.status_code == 201, response.text


async def test_unknown_query_parameters_are_422(client, make_key: MakeKey) -> None:
    key = await make_key()
    response = await client.post(
        "/v1/apiKeys?dryRun=1&b=2",
        headers=key.headers,
        json={"name": "x", "scopes": ["apiKeys:read"]},
    )
    err = assert_error(response, 422, "validation_error")
    assert [e["field"] for e in err["error"]["details"]["errors"]] == ["query.b", "query.dryRun"]  # type: ignore[index]
    response = await client.get(f"/v1/apiKeys/{key.key_id}?verbose=1", headers=key.headers)
    assert_error(response, 422, "validation_error")
    response = await client.delete(f"/v1/apiKeys/{key.key_id}?force=1", headers=key.headers)
    assert_error(response, 422, "validation_error")
    assert (await client.get("/v1/apiKeys", headers=key.headers)).status_code == 200


async def test_order_of_checks(client, make_key: MakeKey) -> None:
    reader = await make_key(scopes=["apiKeys:read"])
    writer = await make_key()
    # 401 before 413 / 415 / 422
    response = await client.post("/v1/apiKeys", headers=JSON, content=TWO_MIB)
    assert_error(response, 401, "authentication_required")
    response = await client.post(
        "/v1/apiKeys", headers={"Content-Type": "text/plain"}, content=b"x"
    )
    assert_error(response, 401, "authentication_required")
    # 403 before 413 / 415 / 422
    response = await client.post("/v1/apiKeys", headers={**reader.headers, **JSON}, content=TWO_MIB)
    assert_error(response, 403, "insufficient_scope")
    response = await client.post(
        "/v1/apiKeys", headers={**reader.headers, "Content-Type": "text/plain"}, content=b"x"
    )
    assert_error(response, 403, "insufficient_scope")
    response = await client.post("/v1/apiKeys?bogus=1", headers=reader.headers, json={})
    assert_error(response, 403, "insufficient_scope")
    # 413 before 415 before 422
    response = await client.post(
        "/v1/apiKeys", headers={**writer.headers, "Content-Type": "text/plain"}, content=TWO_MIB
    )
    assert_error(response, 413, "payload_too_large")
    response = await client.post(
        "/v1/apiKeys?bogus=1",
        headers={**writer.headers, "Content-Type": "text/plain"},
        content=b"{",
    )
    assert_error(response, 415, "unsupported_media_type")
    # 409 (idempotency) before 422
    headers = {**writer.headers, "Idempotency-Key": "order-1"}
    first = await client.post(
        "/v1/apiKeys", headers=headers, json={"name": "a", "scopes": ["apiKeys:read"]}
    )
    assert first.status_code == 201
    response = await client.post("/v1/apiKeys", headers=headers, json={"name": ""})
    assert_error(response, 409, "idempotency_key_reused")
    # 405 before 401
    assert_error(await client.patch("/v1/apiKeys"), 405, "method_not_allowed")


async def test_validation_errors_never_echo_secrets(client, make_key: MakeKey) -> None:
    key = await make_key()
    secret = key.key.rsplit("_", 1)[1]
    response = await client.post(
        "/v1/apiKeys", headers=key.headers, json={"name": key.key * 3, "scopes": [key.key]}
    )
    assert response.status_code == 422
    assert secret not in response.text


async def test_control_characters_in_query_and_path(client, make_key: MakeKey) -> None:
    key = await make_key()
    response = await client.get("/v1/apiKeys?status=active%00", headers=key.headers)
    err = assert_error(response, 422, "validation_error")
    assert err["error"]["details"]["errors"][0]["field"] == "query.status"  # type: ignore[index]
    response = await client.get("/v1/apiKeys?cursor=a%0Ab", headers=key.headers)
    assert_error(response, 422, "validation_error")
    for path in ("/v1/apiKeys/%00", "/v1/apiKeys/abc%7F", "/v1/apiKeys/a%0Ab"):
        assert_error(await client.get(path, headers=key.headers), 404, "not_found")
        assert_error(await client.delete(path, headers=key.headers), 404, "not_found")
