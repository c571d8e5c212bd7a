"""Dead letters as an operator sees them: references, filters, replay decisions, audit records, output.

Pure (no I/O); ``dead_letter_store`` reads and writes Kafka.

A replay is remembered by a marker record written into the dead-letter topic itself, in the dead letter's
partition, after it (header ``dlq-replayed``). There rather than in a topic of its own because the marker
then lives exactly as long as the dead letter it refers to (same topic, same retention, always written
later), one read of a dead-letter topic tells both what is in it and what was replayed, and the cluster
needs no extra topic. Consumers never read ``*.dlq`` topics, so a marker reaches no handler.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ValidationError

from customer_agent_shared.events.audit import AUDIT_RECORDED, AuditRecorded
from customer_agent_shared.events.envelope import (
    CLOUDEVENTS_JSON,
    CloudEvent,
    EventParseError,
    RawCloudEvent,
    as_utc,
    loads_message_body,
    make_event,
    parse_envelope,
)
from customer_agent_shared.topics import DEAD_LETTER_SUFFIX

REPLAY_MARKER_HEADER = "dlq-replayed"
REPLAYED_FROM_HEADER = "dlq-replayed-from"
# The audit account of a dead letter that is not a CloudEvent: account ids start with a letter or digit.
NO_ACCOUNT = "_no_account"
AUDIT_SOURCE = "customer-agent-cli"
AUDIT_ACTION = "replay"
AUDIT_TARGET_TYPE = "dead_letter"
_AUDIT_ID_NAMESPACE = uuid.UUID("6f1c1f0e-5d5a-4c47-9a3e-2f0b8d7c4e21")
ERROR_COLUMN_CHARS = 80


@dataclass(frozen=True, order=True)
class DeadLetterRef:
    """Where one dead letter is: ``<topic.dlq>:<partition>:<offset>``."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> DeadLetterRef:
        """Read a reference; ``ValueError`` says what is wrong with it."""
        parts = text.strip().rsplit(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{text!r} is not a dead-letter reference <topic.dlq>:<partition>:<offset>")
        topic, partition, offset = parts
        if not topic.endswith(DEAD_LETTER_SUFFIX):
            raise ValueError(f"{topic!r} is not a dead-letter topic (its name ends in {DEAD_LETTER_SUFFIX})")
        if not (_is_number(partition) and _is_number(offset)):
            raise ValueError(f"{text!r}: partition and offset must be whole numbers")
        return cls(topic, int(partition), int(offset))


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


@dataclass(frozen=True)
class Placement:
    """Where a record was written."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, with the headers ``dead_letter_message`` wrote."""

    ref: DeadLetterRef
    key: bytes | None
    value: bytes
    headers: Mapping[str, str]
    at: datetime

    @property
    def original_topic(self) -> str | None:
        """The topic the message was consumed from, if the header says."""
        return self.headers.get("dlq-original-topic") or None

    @property
    def error_type(self) -> str:
        """The failure's class, as the consumer recorded it."""
        return self.headers.get("dlq-error-type", "")

    @property
    def error(self) -> str:
        """The failure's message (at most 2000 characters)."""
        return self.headers.get("dlq-error", "")

    @cached_property
    def event(self) -> RawCloudEvent | None:
        """The CloudEvent envelope of the body, or None when the body is not one."""
        try:
            return parse_envelope(self.value)
        except EventParseError:
            return None


class ReplayMarker(BaseModel):
    """What a replay left in the dead-letter topic: who replayed which dead letter, and where it went."""

    ref: str
    actor: str
    at: datetime
    topic: str
    partition: int
    offset: int
    audit_event_id: str

    @classmethod
    def read(cls, value: bytes) -> ReplayMarker | None:
        """The marker in a record's value, or None if it is not one this tool wrote."""
        try:
            return cls.model_validate_json(value)
        except ValidationError:
            return None


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a listing or a replay takes (all conditions must hold)."""

    account_id: str | None = None
    error_type: str | None = None
    since: datetime | None = None

    @property
    def is_empty(self) -> bool:
        """True when no condition is set."""
        return self.account_id is None and self.error_type is None and self.since is None

    def matches(self, letter: DeadLetter) -> bool:
        """Whether ``letter`` meets every condition."""
        if self.since is not None and letter.at < self.since:
            return False
        if self.error_type is not None and letter.error_type != self.error_type:
            return False
        if self.account_id is not None:
            return letter.event is not None and letter.event.accountid == self.account_id
        return True


def select(letters: Iterable[DeadLetter], condition: DeadLetterFilter) -> list[DeadLetter]:
    """The dead letters that match, by topic, partition and offset."""
    return sorted((letter for letter in letters if condition.matches(letter)), key=lambda letter: letter.ref)


def dead_letter_topics(topic: str | None, registry: Iterable[str]) -> list[str]:
    """The dead-letter topics to read: every one of the registry, or that of ``topic`` (with or without .dlq)."""
    known = sorted(registry)
    if topic is None:
        return [name + DEAD_LETTER_SUFFIX for name in known]
    base = topic.removesuffix(DEAD_LETTER_SUFFIX)
    if base not in known:
        raise ValueError(f"unknown topic {topic!r}; the registry has: {', '.join(known)}")
    return [base + DEAD_LETTER_SUFFIX]


def parse_since(text: str) -> datetime:
    """An ISO 8601 date or time; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not an ISO 8601 date or time, e.g. 2026-05-01T12:00:00Z") from error
    return as_utc(moment)


class Verdict(StrEnum):
    """What a replay does with one dead letter."""

    REPLAY = "replay"
    ALREADY_REPLAYED = "already replayed"
    REFUSED = "refused"


@dataclass(frozen=True)
class ReplayDecision:
    """One dead letter, what the replay does with it, and why."""

    letter: DeadLetter
    verdict: Verdict
    reason: str = ""


def decide(letter: DeadLetter, *, replayed: bool, known_topics: frozenset[str], force: bool) -> ReplayDecision:
    """Replay, skip (already replayed) or refuse (unknown original topic; not a CloudEvent without --force)."""
    original = letter.original_topic
    if replayed:
        return ReplayDecision(letter, Verdict.ALREADY_REPLAYED)
    if original is None:
        return ReplayDecision(letter, Verdict.REFUSED, "no dlq-original-topic header: the original topic is unknown")
    if original not in known_topics:
        return ReplayDecision(letter, Verdict.REFUSED, f"original topic {original!r} is not in the topic registry")
    if original + DEAD_LETTER_SUFFIX != letter.ref.topic:
        return ReplayDecision(
            letter, Verdict.REFUSED, f"original topic {original!r} does not belong to {letter.ref.topic!r}"
        )
    if letter.event is None and not force:
        return ReplayDecision(letter, Verdict.REFUSED, "the body is not a CloudEvent (--force replays it anyway)")
    return ReplayDecision(letter, Verdict.REPLAY)


def replay_headers(letter: DeadLetter) -> dict[str, str]:
    """Headers of the re-published message: where it came from, and those of an event the outbox sends."""
    headers = {REPLAYED_FROM_HEADER: str(letter.ref)}
    if letter.event is not None:
        headers |= {"ce_id": letter.event.id, "content-type": CLOUDEVENTS_JSON}
    return headers


def audit_event_id(letter: DeadLetter) -> str:
    """The same id for every attempt to replay this dead letter, so admin-api keeps one audit row."""
    digest = hashlib.sha256(letter.value).hexdigest()
    return str(uuid.uuid5(_AUDIT_ID_NAMESPACE, f"{letter.ref}:{letter.at.isoformat()}:{digest}"))


def replay_audit_event(
    letter: DeadLetter, *, actor: str, replayed_to: Placement, at: datetime
) -> CloudEvent[AuditRecorded]:
    """The ``audit.recorded`` event of one replay, for the event's account (or ``NO_ACCOUNT``)."""
    account_id = letter.event.accountid if letter.event is not None else NO_ACCOUNT
    entry = AuditRecorded(
        account_id=account_id,
        actor=actor,
        action=AUDIT_ACTION,
        target_type=AUDIT_TARGET_TYPE,
        target_id=str(letter.ref),
        before={
            "topic": letter.ref.topic,
            "partition": letter.ref.partition,
            "offset": letter.ref.offset,
            "dead_lettered_at": letter.at.isoformat(),
            "consumer": letter.headers.get("dlq-consumer"),
            "error_type": letter.error_type,
            "error": letter.error,
        },
        after={
            "topic": replayed_to.topic,
            "partition": replayed_to.partition,
            "offset": replayed_to.offset,
            "event_id": letter.event.id if letter.event is not None else None,
        },
        at=at,
    )
    return make_event(
        AUDIT_RECORDED, entry, source=AUDIT_SOURCE, account_id=account_id, event_id=audit_event_id(letter), time=at
    )


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def describe(letter: DeadLetter, marker: ReplayMarker | None) -> dict[str, Any]:
    """Everything a listing says about one dead letter, as JSON-ready values."""
    event = letter.event
    return {
        "ref": str(letter.ref),
        "at": letter.at.isoformat(),
        "original_topic": letter.original_topic,
        "original_partition": _int_or_none(letter.headers.get("dlq-original-partition")),
        "original_offset": _int_or_none(letter.headers.get("dlq-original-offset")),
        "consumer": letter.headers.get("dlq-consumer"),
        "error_type": letter.error_type,
        "error": letter.error,
        "attempts": _int_or_none(letter.headers.get("dlq-attempts")),
        "event_id": event.id if event is not None else None,
        "event_type": event.type if event is not None else None,
        "account_id": event.accountid if event is not None else None,
        "replayed": marker is not None,
        "replay": marker.model_dump(mode="json") if marker is not None else None,
    }


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and _is_number(text) else None


TABLE_COLUMNS = (
    "REF",
    "WHEN (UTC)",
    "CONSUMER",
    "ERROR TYPE",
    "EVENT TYPE",
    "ACCOUNT",
    "EVENT ID",
    "REPLAYED",
    "ERROR",
)


def table_row(letter: DeadLetter, marker: ReplayMarker | None) -> tuple[str, ...]:
    """One line of the listing."""
    event = letter.event
    return (
        str(letter.ref),
        letter.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        letter.headers.get("dlq-consumer", "-"),
        letter.error_type or "-",
        event.type if event is not None else "(not a CloudEvent)",
        event.accountid if event is not None else "-",
        event.id if event is not None else "-",
        marker.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if marker is not None else "no",
        shorten(letter.error, ERROR_COLUMN_CHARS),
    )


def format_table(rows: Iterable[tuple[str, ...]], header: tuple[str, ...] = TABLE_COLUMNS) -> str:
    """Rows as left-aligned columns; the last column is not padded."""
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)), line[-1]]).rstrip()
        for line in lines
    )


def format_show(letter: DeadLetter, marker: ReplayMarker | None) -> str:
    """One dead letter in full: its place, key, headers, body (pretty JSON when it is JSON) and replay."""
    lines = [
        f"dead letter  {letter.ref}",
        f"written at   {letter.at.isoformat()}",
        f"key          {_text(letter.key) if letter.key is not None else '(none)'}",
        "headers:",
        *(f"  {name}: {value}" for name, value in sorted(letter.headers.items())),
        "replayed:    "
        + (
            f" {marker.at.isoformat()} by {marker.actor} to {marker.topic}:{marker.partition}:{marker.offset}"
            if marker is not None
            else " no"
        ),
        "body:",
        pretty_body(letter.value),
    ]
    return "\n".join(lines)


def pretty_body(value: bytes) -> str:
    """The body as indented JSON, or as text when it is not JSON."""
    try:
        return json.dumps(loads_message_body(value), indent=2, ensure_ascii=False, sort_keys=False)
    except EventParseError:
        return _text(value)


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="backslashreplace")
