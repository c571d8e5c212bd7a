"""The pure side of ``customer-agent dlq``: references, filters, replay decisions, audit records, output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.events.audit import AUDIT_RECORDED, AuditRecorded
from customer_agent_shared.events.envelope import make_event, parse_event, serialize_event
from customer_agent_shared.messaging.dead_letter import FailedMessage, dead_letter_message
from customer_agent_shared.operations.cli import build_parser
from customer_agent_shared.operations.dead_letter_store import Scan
from customer_agent_shared.operations.dead_letters import (
    NO_ACCOUNT,
    REPLAY_MARKER_HEADER,
    REPLAYED_FROM_HEADER,
    DeadLetter,
    DeadLetterFilter,
    DeadLetterRef,
    Placement,
    ReplayMarker,
    Verdict,
    dead_letter_topics,
    decide,
    describe,
    format_show,
    format_table,
    parse_since,
    replay_audit_event,
    replay_headers,
    select,
    shorten,
    table_row,
)
from pydantic import BaseModel

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
KNOWN = frozenset({"billing.commands.v1", "channels.inbound.v1"})


class Payload(BaseModel):
    """Test payload."""

    credits: int


def event_body(account: str = "acme", event_id: str = "evt-1") -> bytes:
    return serialize_event(
        make_event(
            "credits.purchase", Payload(credits=-5), source="test", account_id=account, event_id=event_id, time=AT
        )
    )


def letter(
    value: bytes | None = None,
    *,
    offset: int = 7,
    topic: str = "billing.commands.v1",
    error_type: str = "PermanentHandlerError",
    at: datetime = AT,
) -> DeadLetter:
    """A dead letter exactly as ``dead_letter_message`` writes it."""
    message = dead_letter_message(
        FailedMessage(
            topic=topic,
            partition=2,
            offset=40 + offset,
            key=b"acme",
            value=event_body() if value is None else value,
            error_type=error_type,
            error="credits.purchase needs a positive 'credits'\n  (second line)",
            attempts=4,
            consumer="billing",
        )
    )
    ref = DeadLetterRef(message.topic, 0, offset)
    return DeadLetter(ref=ref, key=message.key, value=message.value, headers=message.headers, at=at)


def marker_for(dead: DeadLetter) -> ReplayMarker:
    return ReplayMarker(
        ref=str(dead.ref), actor="ops", at=AT, topic="billing.commands.v1", partition=1, offset=9, audit_event_id="a"
    )


# --- references, topics, times -----------------------------------------------------------


def test_a_reference_reads_back_as_it_prints() -> None:
    ref = DeadLetterRef.parse("conversations.preview-replies.v1.dlq:0:1234")
    assert ref == DeadLetterRef("conversations.preview-replies.v1.dlq", 0, 1234)
    assert DeadLetterRef.parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("billing.commands.v1.dlq:0", "is not a dead-letter reference"),
        ("billing.commands.v1.dlq::3", "is not a dead-letter reference"),
        ("billing.commands.v1:0:3", "is not a dead-letter topic"),
        ("billing.commands.v1.dlq:zero:3", "whole numbers"),
        ("billing.commands.v1.dlq:0:-3", "whole numbers"),
        ("billing.commands.v1.dlq:0:²", "whole numbers"),
    ],
)
def test_a_malformed_reference_is_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        DeadLetterRef.parse(text)


def test_the_topics_read_are_every_dead_letter_topic_of_the_registry_or_the_one_named() -> None:
    assert dead_letter_topics(None, KNOWN) == ["billing.commands.v1.dlq", "channels.inbound.v1.dlq"]
    assert dead_letter_topics("billing.commands.v1", KNOWN) == ["billing.commands.v1.dlq"]
    assert dead_letter_topics("billing.commands.v1.dlq", KNOWN) == ["billing.commands.v1.dlq"]
    with pytest.raises(ValueError, match=r"unknown topic 'billing\.v2'; the registry has: billing\.commands"):
        dead_letter_topics("billing.v2", KNOWN)


def test_since_takes_iso_times_and_reads_a_time_without_zone_as_utc() -> None:
    assert parse_since("2026-05-01T12:00:00Z") == AT
    assert parse_since("2026-05-01T14:00:00+02:00") == AT
    assert parse_since("2026-05-01T12:00") == AT
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_since("yesterday")


# --- filters -----------------------------------------------------------------------------


def test_filters_keep_only_what_matches_every_condition() -> None:
    acme = letter(offset=1)
    other = letter(event_body(account="globex"), offset=2)
    garbage = letter(b"not json", offset=3, error_type="EventParseError")
    old = letter(offset=4, at=AT - timedelta(days=2))
    everything = [garbage, old, other, acme]
    assert select(everything, DeadLetterFilter()) == [acme, other, garbage, old]
    assert select(everything, DeadLetterFilter(account_id="acme")) == [acme, old]
    assert select(everything, DeadLetterFilter(error_type="EventParseError")) == [garbage]
    assert select(everything, DeadLetterFilter(since=AT - timedelta(hours=1))) == [acme, other, garbage]
    assert select(everything, DeadLetterFilter(account_id="acme", since=AT)) == [acme]
    assert DeadLetterFilter().is_empty
    assert not DeadLetterFilter(error_type="x").is_empty


# --- replay decisions --------------------------------------------------------------------


def test_a_dead_letter_of_a_known_topic_is_replayed_once() -> None:
    dead = letter()
    assert decide(dead, replayed=False, known_topics=KNOWN, force=False).verdict is Verdict.REPLAY
    assert decide(dead, replayed=True, known_topics=KNOWN, force=True).verdict is Verdict.ALREADY_REPLAYED


def test_an_unknown_or_missing_original_topic_is_refused_even_with_force() -> None:
    unknown = letter(topic="billing.v0")
    decision = decide(unknown, replayed=False, known_topics=KNOWN, force=True)
    assert decision.verdict is Verdict.REFUSED
    assert decision.reason == "original topic 'billing.v0' is not in the topic registry"
    headless = DeadLetter(ref=letter().ref, key=None, value=event_body(), headers={}, at=AT)
    assert "no dlq-original-topic header" in decide(headless, replayed=False, known_topics=KNOWN, force=True).reason
    elsewhere = DeadLetter(
        ref=DeadLetterRef("channels.inbound.v1.dlq", 0, 1),
        key=None,
        value=event_body(),
        headers=letter().headers,
        at=AT,
    )
    assert "does not belong to" in decide(elsewhere, replayed=False, known_topics=KNOWN, force=True).reason


def test_a_body_that_is_not_a_cloudevent_needs_force() -> None:
    garbage = letter(b'{"id": "no envelope"}')
    refused = decide(garbage, replayed=False, known_topics=KNOWN, force=False)
    assert refused.verdict is Verdict.REFUSED
    assert "--force" in refused.reason
    assert decide(garbage, replayed=False, known_topics=KNOWN, force=True).verdict is Verdict.REPLAY


def test_the_replayed_message_says_where_it_came_from_and_carries_the_event_headers() -> None:
    assert replay_headers(letter()) == {
        REPLAYED_FROM_HEADER: "billing.commands.v1.dlq:0:7",
        "ce_id": "evt-1",
        "content-type": "application/cloudevents+json",
    }
    assert replay_headers(letter(b"garbage")) == {REPLAYED_FROM_HEADER: "billing.commands.v1.dlq:0:7"}


# --- audit -------------------------------------------------------------------------------


def test_the_audit_event_is_what_admin_api_keeps_for_the_event_account() -> None:
    dead = letter()
    event = replay_audit_event(dead, actor="ada", replayed_to=Placement("billing.commands.v1", 1, 99), at=AT)
    parsed = parse_event(serialize_event(event), AuditRecorded, expected_types=(AUDIT_RECORDED,))
    assert parsed.accountid == parsed.data.account_id == "acme"
    entry = parsed.data
    assert (entry.actor, entry.action, entry.target_type, entry.target_id) == (
        "ada",
        "replay",
        "dead_letter",
        "billing.commands.v1.dlq:0:7",
    )
    assert entry.before is not None
    assert entry.before["error_type"] == "PermanentHandlerError"
    assert entry.after == {"topic": "billing.commands.v1", "partition": 1, "offset": 99, "event_id": "evt-1"}
    # admin-api's audit_log columns: action 40, target_type 60, target_id 300, account_id 100 characters.
    assert len(entry.action) <= 40
    assert len(entry.target_type) <= 60
    assert len(entry.target_id) <= 300


def test_an_unparsable_dead_letter_is_audited_under_no_account() -> None:
    event = replay_audit_event(letter(b"garbage"), actor="ada", replayed_to=Placement("t", 0, 1), at=AT)
    parsed = parse_event(serialize_event(event), AuditRecorded)
    assert parsed.accountid == parsed.data.account_id == NO_ACCOUNT
    assert parsed.data.after is not None
    assert parsed.data.after["event_id"] is None


def test_every_attempt_at_one_replay_has_one_audit_id_and_another_dead_letter_another() -> None:
    placement = Placement("billing.commands.v1", 0, 1)
    first = replay_audit_event(letter(), actor="ada", replayed_to=placement, at=AT)
    again = replay_audit_event(letter(), actor="bob", replayed_to=placement, at=AT + timedelta(minutes=1))
    assert first.id == again.id
    assert replay_audit_event(letter(offset=8), actor="ada", replayed_to=placement, at=AT).id != first.id
    assert replay_audit_event(letter(b"other"), actor="ada", replayed_to=placement, at=AT).id != first.id


# --- reading records ---------------------------------------------------------------------


@dataclass
class Record:
    """The fields of an aiokafka ConsumerRecord the scan reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def test_a_scan_tells_dead_letters_from_replay_markers() -> None:
    dead = letter()
    marker = marker_for(dead)
    scan = Scan()
    millis = int(AT.timestamp() * 1000)
    headers = tuple((name, value.encode()) for name, value in dead.headers.items())
    scan.add(Record(dead.ref.topic, 0, 7, millis, dead.key, dead.value, headers))
    scan.add(
        Record(
            dead.ref.topic,
            0,
            8,
            millis,
            None,
            marker.model_dump_json().encode(),
            ((REPLAY_MARKER_HEADER, b"billing.commands.v1.dlq:0:7"),),
        )
    )
    scan.add(
        Record(dead.ref.topic, 0, 9, millis, None, b"?", ((REPLAY_MARKER_HEADER, b"billing.commands.v1.dlq:0:3"),))
    )
    assert scan.letters == [dead]
    assert scan.markers[dead.ref] == marker
    assert DeadLetterRef("billing.commands.v1.dlq", 0, 3) in scan.markers  # unreadable, still "replayed"


# --- output ------------------------------------------------------------------------------


def test_a_listing_row_and_its_json_say_why_it_failed_and_whether_it_was_replayed() -> None:
    dead = letter()
    row = table_row(dead, None)
    assert row[:8] == (
        "billing.commands.v1.dlq:0:7",
        "2026-05-01 12:00:00",
        "billing",
        "PermanentHandlerError",
        "credits.purchase",
        "acme",
        "evt-1",
        "no",
    )
    assert row[8] == "credits.purchase needs a positive 'credits' (second line)"
    assert table_row(letter(b"garbage"), marker_for(dead))[4:8] == ("(not a CloudEvent)", "-", "-", "2026-05-01 12:00")
    described = describe(dead, marker_for(dead))
    assert json.loads(json.dumps(described)) == described
    assert described["original_topic"] == "billing.commands.v1"
    assert described["original_offset"] == 47
    assert described["replayed"] is True
    assert described["replay"]["actor"] == "ops"


def test_a_table_aligns_its_columns_and_errors_are_shortened_to_one_line() -> None:
    table = format_table([("a", "bb", "last column"), ("ccc", "d", "x")], header=("ONE", "TWO", "THREE"))
    assert table.splitlines() == ["ONE  TWO  THREE", "a    bb   last column", "ccc  d    x"]
    assert shorten("one\ntwo   three", 9) == "one two …"
    assert shorten("short", 9) == "short"


def test_show_prints_the_headers_and_the_body_as_indented_json() -> None:
    shown = format_show(letter(), marker_for(letter()))
    assert "dlq-original-topic: billing.commands.v1" in shown
    assert '  "accountid": "acme",' in shown
    assert "by ops to billing.commands.v1:1:9" in shown
    assert format_show(letter(b"\xffnot json"), None).endswith("\\xffnot json")


# --- command line ------------------------------------------------------------------------


def test_the_command_line_reads_a_replay_and_refuses_a_bad_reference() -> None:
    args = build_parser().parse_args(["dlq", "replay", "billing.commands.v1.dlq:0:7", "--yes", "--actor", "ada"])
    assert (args.ref, args.yes, args.actor, args.dry_run) == (
        DeadLetterRef("billing.commands.v1.dlq", 0, 7),
        True,
        "ada",
        False,
    )
    listing = build_parser().parse_args(["dlq", "list", "--since", "2026-05-01T12:00:00Z", "--error-type", "E"])
    assert (listing.since, listing.error_type, listing.limit, listing.json) == (AT, "E", 100, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dlq", "show", "billing.commands.v1:0:7"])
