"""CloudEvent envelope and contract models: pure parsing rules."""

from __future__ import annotations

import gc
import json
import weakref
from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.channels import (
    ChannelRef,
    ChannelType,
    MessageReceived,
    MessageSend,
    Sender,
)
from customer_agent_shared.events.conversations import ConversationEvent, KnowledgeGapDrafted
from customer_agent_shared.events.envelope import (
    EventParseError,
    envelope_class,
    make_event,
    parse_envelope,
    parse_event,
    require_one_account,
    serialize_event,
)
from customer_agent_shared.events.inbox import ThreadClosed, ThreadReassigned
from customer_agent_shared.events.preview import PreviewRequested
from pydantic import BaseModel, ValidationError


def inbound(**overrides: object) -> MessageReceived:
    """A valid inbound message, with overrides."""
    fields: dict[str, object] = {
        "account_id": "acc-1",
        "channel": ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        "thread_id": "t-1",
        "message_id": "m-1",
        "sender": Sender(id="v-1", locale="da-DK"),
        "text": "Hvor er min pakke?",
        "sent_at": datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return MessageReceived.model_validate(fields)


def test_event_round_trips_through_bytes() -> None:
    event = make_event("message.received", inbound(), source="test", account_id="acc-1")
    parsed = parse_event(serialize_event(event), MessageReceived, expected_types=("message.received",))
    assert parsed.id == event.id
    assert parsed.data == event.data
    assert parsed.data.sender.locale == "da-DK"


def test_envelope_has_the_cloudevents_attributes() -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    assert {"specversion", "id", "source", "type", "time", "datacontenttype", "accountid", "data"} <= set(body)
    assert body["specversion"] == "1.0"
    assert body["datacontenttype"] == "application/json"


def test_a_channel_provider_may_add_fields() -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    body["data"]["attachments"] = []
    body["traceparent"] = "00-abc"
    parsed = parse_event(json.dumps(body), MessageReceived)
    assert parsed.data.model_extra == {"attachments": []}


def test_control_characters_a_visitor_or_admin_typed_become_replacement_characters() -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    body["data"]["text"] = "Hvor\x00 er\tmin\r\npakke\x1b?\x7f"
    body["data"]["sender"]["name"] = "Ada\x00"
    parsed = parse_event(json.dumps(body), MessageReceived)
    assert parsed.data.text == "Hvor\ufffd er\tmin\r\npakke\ufffd?\x7f"  # PostgreSQL text refuses NUL
    assert parsed.data.sender.name == "Ada\ufffd"
    preview = PreviewRequested(account_id="acc-1", correlation_id="c-1", text="a\x00b")
    assert preview.text == "a\ufffdb"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("thread_id",), "t-\x00"),
        (("message_id",), "m\x1b1"),
        (("sender", "id"), "v\x00"),
        (("channel", "id"), "web\x7f"),
        (("account_id",), "acc-1\n"),
    ],
)
def test_an_id_with_control_characters_is_refused_when_read(path: tuple[str, ...], value: str) -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    target = body["data"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(EventParseError):
        parse_event(json.dumps(body), MessageReceived)


def test_inbox_events_refuse_ids_with_control_characters() -> None:
    with pytest.raises(ValidationError, match="thread_id"):
        ThreadClosed.model_validate(
            {"account_id": "a", "thread_id": "t\x00", "closed_by": {"kind": "user", "id": "u"}, "resolved": True}
        )


def test_a_reassigned_threads_assignee_id_is_refused_with_control_characters_or_too_long() -> None:
    base = {"account_id": "a", "thread_id": "t"}
    for assignee_id in ("u\x00", "u" * 201):
        with pytest.raises(ValidationError, match="assignee"):
            ThreadReassigned.model_validate({**base, "assignee": {"kind": "user", "id": assignee_id}})
    assert ThreadReassigned.model_validate({**base, "assignee": {"kind": "unassigned"}}).assignee.id is None


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_a_json_content_type_with_parameters_is_json(content_type: str) -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    body["datacontenttype"] = content_type
    assert parse_event(json.dumps(body), MessageReceived).datacontenttype == "application/json"
    body["datacontenttype"] = "application/xml"
    with pytest.raises(EventParseError, match="datacontenttype"):
        parse_event(json.dumps(body), MessageReceived)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda body: body.pop("id"), "id"),
        (lambda body: body["data"].pop("thread_id"), "thread_id"),
        (lambda body: body["data"]["channel"].update(type="pigeon"), "channel.type"),
        (lambda body: body.update(specversion="0.3"), "specversion"),
    ],
)
def test_invalid_events_are_refused_with_the_field_named(mutate: object, reason: str) -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    mutate(body)  # type: ignore[operator]
    with pytest.raises(EventParseError, match=reason):
        parse_event(json.dumps(body), MessageReceived)


def test_unexpected_type_is_refused() -> None:
    event = make_event("message.received", inbound(), source="s", account_id="acc-1")
    with pytest.raises(EventParseError, match="unexpected event type"):
        parse_event(serialize_event(event), MessageReceived, expected_types=("message.send",))


def test_not_json_is_refused() -> None:
    with pytest.raises(EventParseError, match="invalid"):
        parse_event(b"\x00\x01garbage", MessageReceived)


def test_outbound_contract_fields() -> None:
    fields = set(MessageSend.model_fields)
    assert fields == {
        "account_id",
        "channel",
        "thread_id",
        "reply_to",
        "text",
        "language",
        "kind",
        "author",
        "citations",
        "powered_by_ai",
    }


def test_the_envelope_class_of_a_payload_is_built_once_and_kept() -> None:
    class Reading(BaseModel):
        value: int

    event = make_event("reading.taken", Reading(value=1), source="test", account_id="a")
    survivor = weakref.ref(type(event))
    del event
    gc.collect()  # pydantic's own cache of parametrized models is weak: this used to drop the class
    assert survivor() is not None
    assert type(make_event("reading.taken", Reading(value=2), source="test", account_id="a")) is survivor()
    assert envelope_class(Reading) is survivor()


def test_an_event_naming_two_accounts_is_refused() -> None:
    require_one_account("acc-1", "acc-1")
    require_one_account("acc-1", None)  # a payload without an account of its own
    with pytest.raises(EventParseError, match="differs"):
        require_one_account("acc-1", "acc-2")


def test_a_gap_draft_decodes_as_a_conversation_event_for_every_consumer_of_the_topic() -> None:
    drafted = KnowledgeGapDrafted(
        account_id="acc",
        thread_id="t-1",
        occurred_at=datetime.now(UTC),
        gap_event_id="gap-event",
        language="da",
        recommended_answer="Ja, vi tager MobilePay.",
    )
    decoded = ConversationEvent.model_validate_json(drafted.model_dump_json())
    assert (decoded.account_id, decoded.thread_id, decoded.recommended_answer) == (
        "acc",
        "t-1",
        drafted.recommended_answer,
    )
    assert KnowledgeGapDrafted.model_validate(decoded.model_dump(exclude_unset=True)) == drafted


@pytest.mark.parametrize("where", ["envelope", "data"])
def test_a_time_without_a_utc_offset_is_read_as_utc(where: str) -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    if where == "envelope":
        body["time"] = "2026-12-06T10:00:00"
    else:
        body["data"]["sent_at"] = "2026-12-06T10:00:00"
    parsed = parse_event(json.dumps(body), MessageReceived)
    decoded = envelope_class(MessageReceived).model_validate_json(json.dumps(body))  # a batch subscriber's decoder
    for event in (parsed, decoded):
        moment = event.time if where == "envelope" else event.data.sent_at
        assert moment == datetime(2026, 12, 6, 10, tzinfo=UTC)


def test_an_inbox_event_whose_time_has_no_offset_compares_with_aware_times() -> None:
    body = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "helpdesk",
        "type": "thread.reassigned",
        "time": "2026-12-06T10:00:00",
        "accountid": "acc-1",
        "data": {"account_id": "acc-1", "thread_id": "t-1", "assignee": {"kind": "user", "id": "bob"}},
    }
    assert parse_envelope(json.dumps(body)).time < datetime(2026, 12, 6, 10, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2026-12-06T10:00:00Z", datetime(2026, 12, 6, 10, tzinfo=UTC)),
        ("2026-12-06T11:00:00.5+01:00", datetime(2026, 12, 6, 10, 0, 0, 500_000, tzinfo=UTC)),
    ],
)
def test_a_time_with_its_offset_is_read_as_that_instant(written: str, instant: datetime) -> None:
    body = json.loads(serialize_event(make_event("message.received", inbound(), source="s", account_id="acc-1")))
    body["time"] = body["data"]["sent_at"] = written
    parsed = parse_event(json.dumps(body), MessageReceived)
    assert parsed.time == parsed.data.sent_at == instant


def test_a_producers_time_without_an_offset_is_taken_as_utc() -> None:
    event = make_event("message.received", inbound(), source="s", account_id="acc-1", time=datetime(2026, 12, 6, 10))
    assert event.time.tzinfo is not None
    assert inbound(sent_at=datetime(2026, 12, 6, 10)).sent_at == datetime(2026, 12, 6, 10, tzinfo=UTC)
