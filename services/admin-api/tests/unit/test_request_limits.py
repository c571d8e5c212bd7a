"""Which requests the limits middleware refuses from their headers alone, which limit a body gets, what it
leaves the endpoint and counts, and rate limits written in a notation the limits library reads."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from admin_api.domain.access import Principal
from admin_api.domain.errors import AdminError, TooManyRequests, Unauthenticated
from admin_api.entrypoints.http.limits import (
    AUTHENTICATED,
    KEY_REUSE_SECONDS,
    BodyLimits,
    FoundKey,
    KeyVerdict,
    RequestLimits,
    principal_found,
)
from admin_api.entrypoints.http.security import (
    OPERATOR_DISABLED,
    SEND_API_KEY,
    SEND_OPERATOR_TOKEN,
    missing_credentials_refusal,
)
from admin_api.settings import AdminSettings
from prometheus_client import REGISTRY
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/accounts", SEND_OPERATOR_TOKEN),
        ("/v1/accounts/acme/api-keys", SEND_OPERATOR_TOKEN),
        ("/v1/accounts/acme/api-keys/key_1", SEND_OPERATOR_TOKEN),
        ("/v1/accounts/acme/credits/purchases", SEND_OPERATOR_TOKEN),
        ("/v1/accounts/acme/credits/plan", SEND_OPERATOR_TOKEN),
        ("/v1/accounts/acme/credits", SEND_API_KEY),
        ("/v1/accounts/acme/agent", SEND_API_KEY),
        ("/v1/accounts/acme/channels/api-keys", SEND_API_KEY),
        ("/healthz", None),
        ("/openapi.json", None),
    ],
)
def test_a_request_without_credentials_is_refused_with_the_message_of_its_endpoint(
    path: str, message: str | None
) -> None:
    refused = missing_credentials_refusal(path, operator_enabled=True)
    assert (refused.message if refused else None) == message


def test_operator_endpoints_say_they_are_disabled_without_a_bootstrap_token() -> None:
    refused = missing_credentials_refusal("/v1/accounts", operator_enabled=False)
    assert refused is not None
    assert refused.message == OPERATOR_DISABLED


def test_only_the_upload_endpoint_takes_the_upload_limit() -> None:
    limits = BodyLimits(json_bytes=10, upload_bytes=99, upload_path=re.compile(r"^/v1/accounts/[^/]+/sources/files/?$"))
    assert limits.for_request("POST", "/v1/accounts/acme/sources/files") == 99
    assert limits.for_request("PUT", "/v1/accounts/acme/sources/files") == 10
    assert limits.for_request("POST", "/v1/accounts/acme/channels/x/sources/files") == 10
    assert limits.for_request("POST", "/v1/accounts/acme/sources") == 10


def test_a_rate_limit_in_a_notation_limits_cannot_read_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="rate_limit_per_key"):
        AdminSettings(rate_limit_per_key="plenty")
    assert AdminSettings(rate_limit_per_key="50/second").rate_limit_per_key == "50/second"


KEY = "key-of-acme"
PRINCIPAL = Principal("acme", "key_1", frozenset({"edit"}))


class Endpoint:
    """The app behind the middleware: remembers the principal it finds for ``KEY`` and answers 204."""

    def __init__(self) -> None:
        self.called = False
        self.found: Principal | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        self.found = principal_found(scope, KEY)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _put_with_body(verdict: KeyVerdict, endpoint: Endpoint) -> tuple[Scope, list[Message]]:
    """One PUT with a two-byte body and ``KEY`` through the middleware, whose key check says ``verdict``."""
    checked: list[str] = []

    async def key_check(path: str, token: str, client: str) -> KeyVerdict:
        checked.append(token)
        return verdict

    limits = BodyLimits(json_bytes=10, upload_bytes=10, upload_path=re.compile("^/upload$"))
    middleware = RequestLimits(
        endpoint,
        limits=limits,
        credentials_refusal=lambda path: Unauthenticated("send a key"),
        key_check=key_check,
        upload_slots=1,
    )
    headers = [(b"authorization", f"Bearer {KEY}".encode()), (b"content-length", b"2")]
    scope: dict[str, Any] = {"type": "http", "method": "PUT", "path": "/v1/accounts/acme/agent", "headers": headers}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    assert checked == [KEY]
    return scope, sent


async def test_the_principal_of_a_key_checked_before_the_body_is_left_for_the_endpoint() -> None:
    endpoint = Endpoint()
    scope, sent = await _put_with_body(KeyVerdict(principal=PRINCIPAL), endpoint)
    assert endpoint.found is PRINCIPAL
    assert sent[0]["status"] == 204
    assert principal_found(scope, "another-key") is None  # only for the very token it was found for


async def test_a_key_found_longer_ago_than_its_reuse_is_to_be_looked_up_again() -> None:
    scope, _ = await _put_with_body(KeyVerdict(principal=PRINCIPAL), Endpoint())
    found: FoundKey = scope["state"][AUTHENTICATED]
    assert principal_found(scope, KEY) is PRINCIPAL
    scope["state"][AUTHENTICATED] = replace(found, at=found.at - KEY_REUSE_SECONDS - 0.1)  # a body that trickled
    assert principal_found(scope, KEY) is None


async def test_the_operators_token_leaves_no_principal() -> None:
    endpoint = Endpoint()
    await _put_with_body(KeyVerdict(), endpoint)
    assert endpoint.called
    assert endpoint.found is None


def _refused(reason: str) -> float:
    return REGISTRY.get_sample_value("customer_agent_admin_api_requests_refused_early_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(
    ("refusal", "status", "reason"),
    [
        (Unauthenticated("unknown key"), 401, "invalid_credentials"),
        (TooManyRequests("too many wrong keys", retry_after_seconds=30), 429, "auth_rate_limited"),
    ],
)
async def test_a_refused_key_is_counted_by_why_it_was_refused(refusal: AdminError, status: int, reason: str) -> None:
    before = {name: _refused(name) for name in ("invalid_credentials", "auth_rate_limited")}
    endpoint = Endpoint()
    _, sent = await _put_with_body(KeyVerdict(refusal=refusal), endpoint)
    assert not endpoint.called
    assert sent[0]["status"] == status
    after = {name: _refused(name) for name in before}
    assert {name: after[name] - before[name] for name in before} == {
        name: 1.0 if name == reason else 0.0 for name in before
    }
