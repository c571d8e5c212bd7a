"""The checker fails on each kind of broken history it is there to catch (no stack needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.faults.checker import check
from tests.faults.history import FinalState, LedgerRow, Record, RunHistory
from tests.faults.schedule import FaultKind, plan_faults
from tests.faults.traffic import Expect, Purchase, SentMessage

ACCOUNT = "faults-test-0"
SENT_AT = 1_000.0


def message(thread: str, message_id: str, expect: Expect, index: int = 0) -> SentMessage:
    """An accepted visitor message."""
    return SentMessage(ACCOUNT, thread, message_id, f"evt-{message_id}", "text", expect, index, SENT_AT + index)


class Log:
    """Builds records as the services would publish them, in log order."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, topic: str, event_id: str, event_type: str, data: dict[str, Any], *, delay: float = 1.0) -> None:
        """Append a record to ``topic`` (one partition: one key per thread in these tests)."""
        value = json.dumps({"id": event_id, "type": event_type, "data": {"account_id": ACCOUNT, **data}})
        key = f"{ACCOUNT}:{data.get('thread_id', '')}"
        offset = sum(1 for record in self.records if record.topic == topic)
        self.records.append(Record(topic, 0, offset, SENT_AT + delay, key, value))

    def reply(self, thread: str, reply_to: str, kind: str, event_id: str | None = None, delay: float = 1.0) -> None:
        """The agent's reply to a message."""
        data = {"thread_id": thread, "reply_to": reply_to, "kind": kind, "author": {"kind": "ai_agent"}}
        self.add("channels.outbound.v1", event_id or f"reply-{reply_to}", "message.send", data, delay=delay)

    def handoff(self, thread: str, reason: str, event_id: str | None = None, delay: float = 1.0) -> None:
        """Routing's handoff of a thread."""
        data = {"thread_id": thread, "reason": reason}
        self.add("inbox.handoffs.v1", event_id or f"handoff-{thread}", "thread.handed_off", data, delay=delay)

    def answered(self, thread: str) -> None:
        """Conversation's record of an answer (billing charges the thread for it)."""
        data = {"thread_id": thread, "billable": True}
        self.add("conversations.events.v1", f"answered-{thread}", "conversation.answered", data)


def healthy_run() -> tuple[list[SentMessage], Log, FinalState]:
    """An answered thread of two messages, a thread missed twice, a triggered thread; all charged right."""
    sent = [
        message("t-a", "m1", Expect.ANSWER),
        message("t-a", "m2", Expect.ANSWER, 1),
        message("t-m", "m3", Expect.REPHRASE),
        message("t-m", "m4", Expect.CANNOT_ANSWER, 1),
        message("t-t", "m5", Expect.TRIGGER),
    ]
    log = Log()
    log.reply("t-a", "m1", "answer")
    log.reply("t-a", "m2", "answer")
    log.answered("t-a")
    log.reply("t-m", "m3", "rephrase_request")
    log.handoff("t-m", "cannot_answer")
    log.handoff("t-t", "trigger")
    ledger = [LedgerRow(1, "allotment", "period:x", 10, 10), LedgerRow(2, "usage", "thread:t-a", -1, 9)]
    final = FinalState(
        credits={ACCOUNT: {"known": True, "balance": 9}},
        ledger={ACCOUNT: ledger},
        routing_threads={(ACCOUNT, "t-a"): "agent", (ACCOUNT, "t-m"): "unassigned", (ACCOUNT, "t-t"): "unassigned"},
        conversation_threads={(ACCOUNT, "t-a"): False, (ACCOUNT, "t-m"): True},
    )
    return sent, log, final


def failures(sent: list[SentMessage], log: Log, final: FinalState, **extra: Any) -> set[str]:
    """The invariants the run violates."""
    history = RunHistory(7, [ACCOUNT], sent, extra.get("purchases", []), log.records, final, 60.0)
    return {name for name, found in check(history).items() if found}


def test_a_healthy_run_passes() -> None:
    assert failures(*healthy_run()) == set()


def test_a_relay_resend_with_the_same_id_passes() -> None:
    sent, log, final = healthy_run()
    log.reply("t-a", "m2", "answer")  # the same event id again
    assert failures(sent, log, final) == set()


def test_a_second_reply_under_another_id_fails() -> None:
    sent, log, final = healthy_run()
    log.reply("t-a", "m1", "answer", event_id="another-id")
    assert failures(sent, log, final) == {"one_reply_per_message", "order_per_thread"}


def test_a_missing_reply_fails() -> None:
    sent, log, final = healthy_run()
    sent.append(message("t-lost", "m9", Expect.ANSWER))
    assert "one_reply_per_message" in failures(sent, log, final)


def test_a_copy_that_differs_fails() -> None:
    sent, log, final = healthy_run()
    log.add("channels.outbound.v1", "reply-m1", "message.send", {"thread_id": "t-a", "text": "changed"})
    assert "resends_are_the_same_event" in failures(sent, log, final)


def test_a_handoff_notice_from_the_agent_comes_with_the_handoff() -> None:
    sent, log, final = healthy_run()
    log.reply("t-m", "m4", "handoff_notice")  # CONVERSATION_SEND_HANDOFF_NOTICE=true
    assert failures(sent, log, final) == set()


@pytest.mark.parametrize(("delay", "expected"), [(3.0, {"one_handoff_per_thread"}), (61.0, set())])
def test_only_a_content_outage_longer_than_the_wait_hands_off_a_question(delay: float, expected: set[str]) -> None:
    sent, log, final = healthy_run()
    sent.append(message("t-os", "m6", Expect.ANSWER))
    log.handoff("t-os", "cannot_answer", delay=delay)
    assert failures(sent, log, final) == expected


@pytest.mark.parametrize(("in_transcript", "expected"), [(True, set()), (False, {"one_reply_per_message"})])
def test_a_message_sent_before_a_slow_handoff_reaches_the_person_in_its_transcript(
    in_transcript: bool, expected: set[str]
) -> None:
    sent, log, final = healthy_run()
    sent += [message("t-os", "m6", Expect.ANSWER), message("t-os", "m7", Expect.ANSWER, 1)]
    at = datetime.fromtimestamp(SENT_AT + 1, UTC).isoformat()
    turns = [{"role": "visitor", "text": "text", "at": at}] if in_transcript else []
    data = {"thread_id": "t-os", "reason": "cannot_answer", "transcript": turns}
    log.add("inbox.handoffs.v1", "handoff-t-os", "thread.handed_off", data, delay=70.0)
    assert failures(sent, log, final) == expected


def test_a_lost_handoff_request_fails() -> None:
    sent, log, final = healthy_run()
    log.records = [r for r in log.records if r.event_id != "handoff-t-m"]
    assert "one_handoff_per_thread" in failures(sent, log, final)


def test_replies_out_of_order_fail() -> None:
    sent, log, final = healthy_run()
    first, second = (i for i, r in enumerate(log.records) if r.key.endswith("t-a") and r.topic.endswith("outbound.v1"))
    log.records[first], log.records[second] = (
        Record(**{**vars(log.records[second]), "offset": log.records[first].offset}),
        Record(**{**vars(log.records[first]), "offset": log.records[second].offset}),
    )
    assert failures(sent, log, final) == {"order_per_thread"}


def test_a_dead_letter_fails() -> None:
    sent, log, final = healthy_run()
    log.records.append(Record("channels.inbound.v1.dlq", 0, 0, SENT_AT, f"{ACCOUNT}:t-x", "{}"))
    assert failures(sent, log, final) == {"dlq_empty"}


@pytest.mark.parametrize(
    ("ledger", "balance", "expected"),
    [
        ([LedgerRow(1, "allotment", "period:x", 10, 10)], 10, {"ledger_matches_billable_threads"}),
        (
            [LedgerRow(1, "allotment", "period:x", 10, 10), *(LedgerRow(2, "usage", "thread:t-a", -1, 9),) * 2],
            8,
            {"ledger_matches_billable_threads", "ledger_sums_to_balance"},
        ),
        ([LedgerRow(1, "allotment", "period:x", 10, 10), LedgerRow(2, "usage", "thread:t-a", -1, 9)], 10, None),
    ],
)
def test_a_ledger_that_disagrees_fails(ledger: list[LedgerRow], balance: int, expected: set[str] | None) -> None:
    sent, log, final = healthy_run()
    final.ledger = {ACCOUNT: ledger}
    final.credits = {ACCOUNT: {"known": True, "balance": balance}}
    assert failures(sent, log, final) == (expected or {"ledger_sums_to_balance"})


def test_an_accepted_purchase_missing_from_the_ledger_fails() -> None:
    sent, log, final = healthy_run()
    purchases = [Purchase(ACCOUNT, 5, "cmd-1")]
    assert failures(sent, log, final, purchases=purchases) == {"purchases_credited_once"}
    final.ledger[ACCOUNT].append(LedgerRow(3, "purchase", "command:cmd-1", 5, 14))
    final.credits[ACCOUNT]["balance"] = 14
    assert failures(sent, log, final, purchases=purchases) == set()


def test_exhaustion_announced_twice_for_one_crossing_fails() -> None:
    sent, log, final = healthy_run()
    final.ledger[ACCOUNT] = [
        LedgerRow(1, "allotment", "period:x", 2, 2),
        LedgerRow(2, "usage", "thread:t-a", -1, 1),
        LedgerRow(3, "usage", "thread:t-b", -1, 0),
    ]
    final.credits[ACCOUNT]["balance"] = 0
    log.answered("t-b")
    for event_id in ("state-3", "state-3-again"):
        log.add("billing.credit-state.v1", event_id, "credits.exhausted", {"balance": 0})
    assert failures(sent, log, final) == {"one_exhaustion_per_crossing"}


def test_pending_outbox_rows_and_disagreeing_owners_fail() -> None:
    sent, log, final = healthy_run()
    final.pending_outbox = ["routing.outbox id=1 channels.outbound.v1 key=faults-test-0:t-a"]
    final.conversation_threads[(ACCOUNT, "t-a")] = True
    assert failures(sent, log, final) == {"outboxes_drained", "owners_agree"}


def test_the_plan_is_a_function_of_the_seed_and_starts_with_a_postgres_stop() -> None:
    plan = plan_faults(27, decks=2)
    assert plan == plan_faults(27, decks=2)
    assert plan != plan_faults(28, decks=2)
    assert plan.stores[0].fault.kind is FaultKind.STOP_POSTGRES
    assert 10 <= plan.stores[0].fault.hold_seconds <= 30
    kinds = {planned.fault.kind for planned in (*plan.stores, *plan.processes)}
    assert kinds == set(FaultKind)
