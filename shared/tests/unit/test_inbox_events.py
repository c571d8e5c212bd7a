"""The inbox.events.v1 contract: each type's data, and the account of the envelope and the data agree."""

from __future__ import annotations

import json
from typing import Any

import pytest
from customer_agent_shared.events.channels import AssigneeKind
from customer_agent_shared.events.envelope import EventParseError, parse_envelope
from customer_agent_shared.events.inbox import (
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
    UserAvailability,
    inbox_event,
    inbox_event_key,
)


def envelope(event_type: str, data: dict[str, Any], account: str = "acc") -> bytes:
    return (
        b'{"specversion":"1.0","id":"e1","source":"inbox","type":"%s","time":"2026-11-20T10:00:00Z",'
        b'"accountid":"%s","data":%s}' % (event_type.encode(), account.encode(), json.dumps(data).encode())
    )


@pytest.mark.parametrize(
    ("event_type", "data", "model"),
    [
        (
            "thread.closed",
            {"account_id": "acc", "thread_id": "t", "closed_by": {"kind": "user", "id": "ada"}, "resolved": True},
            ThreadClosed,
        ),
        (
            "thread.reassigned",
            {"account_id": "acc", "thread_id": "t", "assignee": {"kind": "unassigned"}},
            ThreadReassigned,
        ),
        ("thread.returned", {"account_id": "acc", "thread_id": "t"}, ThreadReturned),
        ("user.availability", {"account_id": "acc", "user_id": "ada", "available": False}, UserAvailability),
    ],
)
def test_each_type_is_read_with_its_own_model(event_type: str, data: dict[str, Any], model: type[Any]) -> None:
    event = inbox_event(parse_envelope(envelope(event_type, data)))
    assert isinstance(event.data, model)
    assert event.id == "e1"
    assert event.type == event_type


def test_the_key_is_per_thread_or_per_user() -> None:
    assert inbox_event_key(ThreadReturned(account_id="acc", thread_id="t")) == "acc:t"
    assert inbox_event_key(UserAvailability(account_id="acc", user_id="ada", available=True)) == "acc:ada"


def test_a_reassignment_to_nobody_has_no_id() -> None:
    data = {"account_id": "acc", "thread_id": "t", "assignee": {"kind": "unassigned"}}
    event = inbox_event(parse_envelope(envelope("thread.reassigned", data)))
    assert isinstance(event.data, ThreadReassigned)
    assert event.data.assignee.kind is AssigneeKind.UNASSIGNED
    assert event.data.assignee.id is None


@pytest.mark.parametrize(
    ("event_type", "data", "problem"),
    [
        ("thread.returned", {"account_id": "other", "thread_id": "t"}, "differs from data.account_id"),
        ("thread.closed", {"account_id": "acc", "thread_id": "t", "resolved": True}, "closed_by"),
        (
            "thread.closed",
            {"account_id": "acc", "thread_id": "t", "closed_by": {"kind": "bot", "id": "x"}, "resolved": True},
            "kind",
        ),
        ("thread.opened", {"account_id": "acc", "thread_id": "t"}, "unexpected event type"),
        ("user.availability", {"account_id": "acc", "user_id": "ada"}, "available"),
        # Every consumer refuses it alike, whether or not it knows the thread.
        ("thread.reassigned", {"account_id": "acc", "thread_id": "t", "assignee": {"kind": "user"}}, "user's id"),
        (
            "thread.reassigned",
            {"account_id": "acc", "thread_id": "t", "assignee": {"kind": "team", "id": ""}},
            "team's id",
        ),
    ],
)
def test_a_bad_event_is_refused_with_the_reason(event_type: str, data: dict[str, Any], problem: str) -> None:
    with pytest.raises(EventParseError, match=problem):
        inbox_event(parse_envelope(envelope(event_type, data)))
