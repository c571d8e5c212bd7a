"""Which page and socket paths open a chat: the ids must fit the inbound contract, as admin-api's do."""

from __future__ import annotations

import pytest
from webchat_service.domain.sessions import MAX_ACCOUNT_CHARS, MAX_ID_CHARS, path_ids_refusal


@pytest.mark.parametrize(
    "channel_id", ["website", "+4512345678", "support@acme.example", "site/main", "/pricing/", "c" * MAX_ID_CHARS]
)
def test_any_channel_id_admin_api_accepts_opens_a_chat(channel_id: str) -> None:
    assert path_ids_refusal("acme", channel_id) is None
    assert path_ids_refusal("a" * MAX_ACCOUNT_CHARS, channel_id) is None


@pytest.mark.parametrize(
    ("account_id", "channel_id", "reason"),
    [
        ("", "web", "account id must be 1-100 characters long (got 0)"),
        ("acme", "", "channel id must be 1-200 characters long (got 0)"),
        ("a" * (MAX_ACCOUNT_CHARS + 1), "web", "account id must be 1-100 characters long (got 101)"),
        ("acme", "c" * (MAX_ID_CHARS + 1), "channel id must be 1-200 characters long (got 201)"),
        ("acme\x01", "web", "account id must not contain control characters"),
        ("acme", "web\x00", "channel id must not contain control characters"),
        ("acme", "web\x7f", "channel id must not contain control characters"),
        ("acme", "site/\nmain", "channel id must not contain control characters"),
    ],
)
def test_an_id_the_inbound_contract_would_refuse_opens_no_chat(account_id: str, channel_id: str, reason: str) -> None:
    assert path_ids_refusal(account_id, channel_id) == reason
