"""Which socket paths open a chat: the ids must fit the inbound contract."""

from __future__ import annotations

import pytest
from webchat_service.domain.sessions import MAX_ACCOUNT_CHARS, MAX_ID_CHARS, valid_path_ids


def test_ids_within_the_contracts_limits_open_a_chat() -> None:
    assert valid_path_ids("acme", "website")
    assert valid_path_ids("a" * MAX_ACCOUNT_CHARS, "c" * MAX_ID_CHARS)


@pytest.mark.parametrize(
    ("account_id", "channel_id"),
    [
        ("", "web"),
        ("acme", ""),
        ("a" * (MAX_ACCOUNT_CHARS + 1), "web"),
        ("acme", "c" * (MAX_ID_CHARS + 1)),
        ("acme\x01", "web"),
        ("acme", "web\x00"),
        ("acme", "web\x7f"),
    ],
)
def test_an_id_the_inbound_contract_would_refuse_opens_no_chat(account_id: str, channel_id: str) -> None:
    assert not valid_path_ids(account_id, channel_id)
