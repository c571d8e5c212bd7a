"""Accounts, keys and access control on every endpoint: 401, 403, 404 (foreign account)."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from admin_api.adapters.orm import api_keys_table
from sqlalchemy import select

from .harness import OPERATOR, Account, Harness

pytestmark = pytest.mark.integration


class Upload:
    """A multipart body with one file, as POST /sources/files takes it."""

    files = {"file": ("faq.md", b"# FAQ\n\nWe ship to Norway.\n", "text/markdown")}


# (method, path under the account, body, status for a read-only key: 200, 403 (needs edit), 404, or 422 for
# a body refused once the key passed, where a valid one would wait for another service)
ENDPOINTS: list[tuple[str, str, object, int]] = [
    ("GET", "/agent", None, 200),
    ("PUT", "/agent", {"name": "A", "role": "customer_service", "personality": "witty"}, 403),
    ("GET", "/agent/status", None, 200),
    ("POST", "/agent/pause", None, 403),
    ("POST", "/agent/resume", None, 403),
    ("POST", "/agent/preview", {"text": ""}, 422),
    ("GET", "/sources", None, 200),
    ("POST", "/sources", {"kind": "short_answer", "question": "q", "answer": "a"}, 403),
    ("POST", "/sources/files", Upload(), 403),
    ("GET", "/sources/src_x", None, 404),
    ("PATCH", "/sources/src_x", {"citations_enabled": False}, 403),
    ("DELETE", "/sources/src_x", None, 403),
    ("POST", "/sources/src_x/resync", None, 403),
    ("GET", "/channels", None, 200),
    ("POST", "/channels", {"type": "live_chat", "id": "web"}, 403),
    ("GET", "/channels/web", None, 404),
    ("PUT", "/channels/web", {"handoff": {"mode": "handoff"}}, 403),
    ("DELETE", "/channels/web", None, 403),
    ("GET", "/handoff", None, 200),
    ("PUT", "/handoff", {"triggers": ["human"]}, 403),
    ("GET", "/users", None, 200),
    ("PUT", "/users", [], 403),
    ("GET", "/teams", None, 200),
    ("PUT", "/teams", {"teams": []}, 403),
    ("GET", "/credits", None, 200),
    ("GET", "/performance", None, 200),
    ("GET", "/knowledge-gaps", None, 200),
    ("POST", "/knowledge-gaps/gap_x/resolve", {"answer": "a"}, 403),
    ("GET", "/audit-log", None, 200),
]


async def test_operator_creates_accounts_and_keys_and_revokes_them(harness: Harness) -> None:
    client = harness.client
    account = await harness.new_account()
    again = await client.post("/v1/accounts", json={"id": account.id, "name": "Dup"}, headers=OPERATOR)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "account_exists"
    wrong = await client.post("/v1/accounts", json={"id": "x", "name": "x"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert set(wrong.json()["error"]) == {"code", "message"}
    # an account key is a valid key without the operator's permission
    refused = await client.post("/v1/accounts", json={"id": "y", "name": "y"}, headers=account.edit)
    assert refused.status_code == 403
    assert "bootstrap token" in refused.json()["error"]["message"]
    missing = await client.post(
        "/v1/accounts/nope-404/api-keys", json={"permissions": ["customer_agent:read"]}, headers=OPERATOR
    )
    assert missing.status_code == 404
    invalid = await client.post(f"/v1/accounts/{account.id}/api-keys", json={"permissions": ["root"]}, headers=OPERATOR)
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "validation_error"

    keys = (await client.get(f"/v1/accounts/{account.id}/api-keys", headers=OPERATOR)).json()
    assert len(keys) == 2
    assert all("key" not in key for key in keys)
    read_key_id = next(key["id"] for key in keys if key["permissions"] == ["customer_agent:read"])
    assert (await client.get(account.path("/agent"), headers=account.read)).status_code == 200
    revoked = await client.delete(f"/v1/accounts/{account.id}/api-keys/{read_key_id}", headers=OPERATOR)
    assert revoked.status_code == 204
    after = await client.get(account.path("/agent"), headers=account.read)
    assert after.status_code == 401
    assert "revoked" in after.json()["error"]["message"]
    assert (
        await client.delete(f"/v1/accounts/{account.id}/api-keys/{read_key_id}", headers=OPERATOR)
    ).status_code == 404

    audit = (await client.get(account.path("/audit-log?target_type=api_key"), headers=account.edit)).json()["items"]
    assert {(entry["action"], entry["actor"]) for entry in audit} == {("create", "bootstrap"), ("delete", "bootstrap")}


@pytest.mark.parametrize(
    ("method", "suffix", "body", "read_status"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
async def test_access_control(harness: Harness, method: str, suffix: str, body: object, read_status: int) -> None:
    client = harness.client
    mine, other = await _pair(harness)

    async def send(headers: dict[str, str] | None = None) -> httpx.Response:
        if isinstance(body, Upload):
            return await client.request(method, mine.path(suffix), headers=headers, files=body.files)
        return await client.request(method, mine.path(suffix), headers=headers, json=body)

    no_key = await send()
    assert no_key.status_code == 401, no_key.text
    assert no_key.json()["error"]["code"] == "unauthenticated"
    assert no_key.headers["WWW-Authenticate"] == "Bearer"

    bad_key = await send({"Authorization": "Bearer cak_forged"})
    assert bad_key.status_code == 401

    if body is not None and not isinstance(body, Upload):  # a body that is not JSON at all: FastAPI finds it
        broken = {"Content-Type": "application/json"}  # before any dependency runs
        not_json = await client.request(method, mine.path(suffix), headers=broken, content=b'{"name": ')
        assert not_json.status_code == 401, not_json.text
        assert not_json.json()["error"]["code"] == "unauthenticated"
        forged = {**broken, "Authorization": "Bearer cak_forged"}
        assert (await client.request(method, mine.path(suffix), headers=forged, content=b"{")).status_code == 401
        keyed = await client.request(method, mine.path(suffix), headers={**broken, **mine.edit}, content=b'{"a": 1,}')
        assert keyed.status_code == 422, keyed.text
        assert keyed.json()["error"]["message"].startswith("The request body is not valid JSON: ")

    # the operator's token is valid but manages accounts, keys and credits only: 403 saying what to use
    operator = await send(OPERATOR)
    assert operator.status_code == 403, operator.text
    assert f"API key of account {mine.id!r}" in operator.json()["error"]["message"]

    foreign = await send(other.edit)
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["error"]["code"] == "not_found"

    read_only = await send(mine.read)
    assert read_only.status_code == read_status, read_only.text
    if read_status == 403:
        assert "customer_agent:edit" in read_only.json()["error"]["message"]
    if read_status == 422:
        assert read_only.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("POST", "/credits/purchases", {"credits": 5}), ("PUT", "/credits/plan", {"monthly_allotment": 10})],
)
async def test_purchases_and_plan_take_the_operators_token(
    harness: Harness, method: str, suffix: str, body: object
) -> None:
    client = harness.client
    mine, _other = await _pair(harness)
    no_key = await client.request(method, mine.path(suffix), json=body)
    assert no_key.status_code == 401, no_key.text
    assert "bootstrap token" in no_key.json()["error"]["message"]
    for key in (mine.edit, mine.read):
        refused = await client.request(method, mine.path(suffix), headers=key, json=body)
        assert refused.status_code == 403, refused.text
        assert "bootstrap token" in refused.json()["error"]["message"]
    missing = await client.request(method, "/v1/accounts/nope-404" + suffix, headers=OPERATOR, json=body)
    assert missing.status_code == 404, missing.text
    accepted = await client.request(method, mine.path(suffix), headers=OPERATOR, json=body)
    assert accepted.status_code == 202, accepted.text


async def test_an_account_id_too_long_to_exist_is_unknown(harness: Harness) -> None:
    client = harness.client
    mine, _other = await _pair(harness)
    too_long = "a" * 101  # account ids have at most 100 characters
    for path, headers in (
        (f"/v1/accounts/{too_long}/agent", mine.read),
        (f"/v1/accounts/{too_long}/api-keys", OPERATOR),
    ):
        unknown = await client.get(path, headers=headers)
        assert unknown.status_code == 404, unknown.text
        assert set(unknown.json()["error"]) == {"code", "message"}
        assert unknown.json()["error"]["code"] == "not_found"
    assert (await client.get(f"/v1/accounts/{too_long}/agent")).status_code == 401


async def test_a_key_is_stored_only_as_its_digest(harness: Harness) -> None:
    created = await harness.client.post(
        f"/v1/accounts/{(await harness.new_account()).id}/api-keys",
        json={"permissions": ["customer_agent:read"]},
        headers=OPERATOR,
    )
    assert created.status_code == 201, created.text
    key_id, secret = created.json()["id"], created.json()["key"]
    async with harness.service.kernel.engine.connect() as connection:
        row = (await connection.execute(select(api_keys_table).where(api_keys_table.c.id == key_id))).one()
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    random_part = secret.split(f"{key_id}_", 1)[1]  # the secret after its public prefix and key id
    assert len(random_part) >= 40
    assert all(random_part not in str(value) for value in row)


_ACCOUNTS: list[Account] = []


async def _pair(harness: Harness) -> tuple[Account, Account]:
    """Two accounts shared by the parametrized cases (created once)."""
    if not _ACCOUNTS:
        _ACCOUNTS.extend([await harness.new_account(), await harness.new_account()])
    return _ACCOUNTS[0], _ACCOUNTS[1]


async def test_text_postgresql_cannot_store_is_a_validation_error(harness: Harness) -> None:
    account = await harness.new_account()
    body = {"name": "A\x00da", "role": "customer_service", "personality": "friendly"}
    in_body = await harness.client.put(account.path("/agent"), json=body, headers=account.edit)
    assert in_body.status_code == 422
    assert "NUL" in in_body.json()["error"]["message"]
    in_query = await harness.client.get(
        account.path("/audit-log"), params={"target_id": "a\x00b"}, headers=account.read
    )
    assert in_query.status_code == 422
    assert in_query.json()["error"]["code"] == "validation_error"
