"""What a run leaves for the checker: every recorded Kafka record, the final stores' state, the traffic's log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.faults.traffic import Purchase, SentMessage


@dataclass(frozen=True)
class Record:
    """One Kafka record as it sits in the log (every copy, before any dedup)."""

    topic: str
    partition: int
    offset: int
    timestamp: float
    """Seconds since the epoch (the producer's create time)."""
    key: str
    value: str

    @property
    def event(self) -> dict[str, Any]:
        """The CloudEvent, or {} for a value that is not one."""
        try:
            decoded = json.loads(self.value)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}

    @property
    def event_id(self) -> str | None:
        """The CloudEvent id."""
        value = self.event.get("id")
        return str(value) if value is not None else None

    @property
    def event_type(self) -> str | None:
        """The CloudEvent type."""
        value = self.event.get("type")
        return str(value) if value is not None else None

    @property
    def data(self) -> dict[str, Any]:
        """The CloudEvent's data."""
        data = self.event.get("data")
        return data if isinstance(data, dict) else {}

    def cite(self) -> str:
        """Where it is and what it says, shortened, for a failure message."""
        return f"{self.topic}[{self.partition}]@{self.offset} id={self.event_id} {self.value[:400]}"


@dataclass(frozen=True)
class LedgerRow:
    """One entry of billing's ledger, read at the end."""

    entry_id: int
    kind: str
    cause: str
    amount: int
    balance_after: int


@dataclass
class FinalState:
    """The stores and REST state once the run is over and the stack is back."""

    credits: dict[str, dict[str, Any]] = field(default_factory=dict)
    """GET /credits of each account."""
    ledger: dict[str, list[LedgerRow]] = field(default_factory=dict)
    """billing.ledger_entries of each account, in id order."""
    pending_outbox: list[str] = field(default_factory=list)
    dead_outbox: list[str] = field(default_factory=list)
    routing_threads: dict[tuple[str, str], str] = field(default_factory=dict)
    """(account, thread) → routing's ownership state."""
    conversation_threads: dict[tuple[str, str], bool] = field(default_factory=dict)
    """(account, thread) → conversation's handed_off flag."""


@dataclass
class RunHistory:
    """Everything the checker reads."""

    seed: int
    accounts: list[str]
    sent: list[SentMessage]
    purchases: list[Purchase]
    records: list[Record]
    final: FinalState
    unavailable_wait_seconds: float
    """Conversation's CONVERSATION_UNAVAILABLE_WAIT_SECONDS: only a reply delayed this long may be a handoff."""

    def on(self, topic: str) -> list[Record]:
        """The records of one topic, in log order per partition."""
        return sorted((r for r in self.records if r.topic == topic), key=lambda r: (r.partition, r.offset))


@dataclass(frozen=True)
class Violation:
    """An invariant the run broke, with the records that show it."""

    invariant: str
    message: str
    evidence: tuple[str, ...] = ()

    def render(self) -> str:
        """The violation and up to five records."""
        lines = [f"[{self.invariant}] {self.message}", *(f"    {line}" for line in self.evidence[:5])]
        if len(self.evidence) > 5:
            lines.append(f"    … {len(self.evidence) - 5} more")
        return "\n".join(lines)
