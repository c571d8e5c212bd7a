"""Which requests the limits middleware refuses from their headers alone, which limit a body gets, and
rate limits written in a notation the limits library reads."""

from __future__ import annotations

import re

import pytest
from admin_api.entrypoints.http.limits import BodyLimits
from admin_api.entrypoints.http.security import (
    OPERATOR_DISABLED,
    SEND_API_KEY,
    SEND_OPERATOR_TOKEN,
    missing_credentials_refusal,
)
from admin_api.settings import AdminSettings
from pydantic import ValidationError


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
