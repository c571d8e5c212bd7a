"""Invariants over what visitors got: one reply or handoff per accepted message, the right one, in order, re-sends
recognisable by their id."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from customer_agent_shared.topics import CHANNELS_OUTBOUND, DEAD_LETTER_SUFFIX, INBOX_HANDOFFS

from tests.faults.history import Record, RunHistory, Violation
from tests.faults.traffic import Expect, SentMessage

ThreadKey = tuple[str, str]
Copies = dict[str, list[Record]]
"""CloudEvent id → every copy of that event, in log order."""

ALLOWED_REPLY_KINDS: dict[Expect, frozenset[str]] = {
    Expect.ANSWER: frozenset({"answer"}),
    Expect.REPHRASE: frozenset({"rephrase_request"}),
    Expect.CANNOT_ANSWER: frozenset(),
    Expect.TRIGGER: frozenset(),
    Expect.ANSWER_OR_EXHAUSTED: frozenset({"answer"}),
}
"""The agent's reply each message may get (a handoff notice aside: it comes with a handoff)."""
HANDOFF_REASONS: dict[Expect, str] = {
    Expect.TRIGGER: "trigger",
    Expect.CANNOT_ANSWER: "cannot_answer",
    Expect.ANSWER_OR_EXHAUSTED: "credits_exhausted",
}
"""Messages that call for a handoff, and its reason. Any other message may only be handed off (for
cannot_answer) once the agent waited out a content outage: CONVERSATION_UNAVAILABLE_WAIT_SECONDS."""
NOTICE = "handoff_notice"
CLOCK_TOLERANCE_SECONDS = 2.0


@dataclass
class ReplyIndex:
    """The recorded replies, forwards and handoffs, grouped by what they answer."""

    agent_replies: dict[str, Copies] = field(default_factory=lambda: defaultdict(dict))
    system_notices: dict[tuple[str, str], Copies] = field(default_factory=lambda: defaultdict(dict))
    forwards: dict[str, Copies] = field(default_factory=lambda: defaultdict(dict))
    handoffs: dict[ThreadKey, Copies] = field(default_factory=lambda: defaultdict(dict))
    outbound_by_thread: dict[ThreadKey, Copies] = field(default_factory=lambda: defaultdict(dict))

    @classmethod
    def build(cls, history: RunHistory) -> ReplyIndex:
        """Index every copy of every outbound message and inbox event of the run."""
        index = cls()
        for record in history.on(CHANNELS_OUTBOUND):
            data, event_id = record.data, str(record.event_id)
            thread = (str(data.get("account_id")), str(data.get("thread_id")))
            index.outbound_by_thread[thread].setdefault(event_id, []).append(record)
            if (data.get("author") or {}).get("kind") == "ai_agent":
                index.agent_replies[str(data.get("reply_to"))].setdefault(event_id, []).append(record)
            else:
                notice = (str(data.get("reply_to")), str(data.get("kind")))
                index.system_notices[notice].setdefault(event_id, []).append(record)
        for record in history.on(INBOX_HANDOFFS):
            data, event_id = record.data, str(record.event_id)
            if record.event_type == "message.forwarded":
                message_id = str((data.get("message") or {}).get("message_id"))
                index.forwards[message_id].setdefault(event_id, []).append(record)
            elif record.event_type == "thread.handed_off":
                thread = (str(data.get("account_id")), str(data.get("thread_id")))
                index.handoffs[thread].setdefault(event_id, []).append(record)
        return index

    def handoff_reason(self, thread: ThreadKey) -> str | None:
        """The reason of the thread's (first) handoff, if it was handed off."""
        for copies in self.handoffs.get(thread, {}).values():
            return str(copies[0].data.get("reason"))
        return None


def _cite(copies: Copies) -> list[str]:
    return [record.cite() for records in copies.values() for record in records]


def _thread_evidence(index: ReplyIndex, thread: ThreadKey) -> tuple[str, ...]:
    return (*_cite(index.outbound_by_thread.get(thread, {})), *_cite(index.handoffs.get(thread, {})))


def _label(sent: SentMessage) -> str:
    return f"{sent.account_id}/{sent.thread_id} message {sent.message_id} #{sent.index} ({sent.expect.value})"


def _threads(history: RunHistory) -> dict[ThreadKey, list[SentMessage]]:
    threads: dict[ThreadKey, list[SentMessage]] = defaultdict(list)
    for sent in sorted(history.sent, key=lambda sent: sent.index):
        threads[(sent.account_id, sent.thread_id)].append(sent)
    return threads


def _replies(index: ReplyIndex, sent: SentMessage, *, notices: bool) -> Copies:
    """The agent's distinct replies to a message: its handoff notices, or every other reply."""
    replies = index.agent_replies.get(sent.message_id, {})
    return {key: copies for key, copies in replies.items() if (copies[0].data.get("kind") == NOTICE) == notices}


def handoff_cause(index: ReplyIndex, messages: list[SentMessage]) -> SentMessage | None:
    """The message a thread's handoff answers: the first one the agent did not reply to and routing did not
    forward (those before it were answered or asked to be rephrased)."""
    for sent in messages:
        if not _replies(index, sent, notices=False) and not index.forwards.get(sent.message_id):
            return sent
    return None


def _in_transcript(handoffs: Copies, sent: SentMessage) -> bool:
    """True when the person the thread went to got the message in the handoff's transcript (a message sent
    while the agent still worked on the one that caused the handoff)."""
    for copies in handoffs.values():
        for turn in copies[0].data.get("transcript") or []:
            at = datetime.fromisoformat(str(turn.get("at"))).timestamp()
            if turn.get("role") == "visitor" and turn.get("text") == sent.text and abs(at - sent.sent_at) < 1:
                return True
    return False


def one_reply_per_message(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """Every accepted message has exactly one reply, forward or handoff (copies of one event count once)."""
    violations = []
    for thread, messages in _threads(history).items():
        handoffs = index.handoffs.get(thread, {})
        cause = handoff_cause(index, messages) if handoffs else None
        for sent in messages:
            responses = {**_replies(index, sent, notices=False), **index.forwards.get(sent.message_id, {})}
            responses.update(_replies(index, sent, notices=True))
            if sent is cause or (
                cause and sent.index > cause.index and not responses and _in_transcript(handoffs, sent)
            ):
                responses = {**handoffs, **_replies(index, sent, notices=False)}
            if len(responses) != 1:
                problem = "no reply and no handoff" if not responses else f"{len(responses)} different replies"
                evidence = _thread_evidence(index, thread) if not responses else tuple(_cite(responses))
                violations.append(Violation("one_reply_per_message", f"{_label(sent)}: {problem}", evidence))
    return violations


def reply_fits_message(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """The agent's reply is what the message asks for; a forward only follows a handoff."""
    violations = []
    for sent in history.sent:
        thread = (sent.account_id, sent.thread_id)
        for copies in _replies(index, sent, notices=False).values():
            kind = str(copies[0].data.get("kind"))
            if kind not in ALLOWED_REPLY_KINDS[sent.expect]:
                message = f"{_label(sent)}: the agent replied {kind}"
                violations.append(Violation("reply_fits_message", message, _thread_evidence(index, thread)))
        if index.forwards.get(sent.message_id) and thread not in index.handoffs:
            message = f"{_label(sent)}: forwarded to the inbox, but the thread was never handed off"
            violations.append(Violation("reply_fits_message", message, _thread_evidence(index, thread)))
    return violations


def _handoff_problem(history: RunHistory, index: ReplyIndex, messages: list[SentMessage]) -> str | None:
    thread = (messages[0].account_id, messages[0].thread_id)
    handoffs = index.handoffs.get(thread, {})
    if len(handoffs) > 1:
        return f"handed off {len(handoffs)} times (different event ids)"
    cause = handoff_cause(index, messages)
    expected = HANDOFF_REASONS.get(cause.expect) if cause else None
    if not handoffs:
        needed = any(sent.expect in (Expect.TRIGGER, Expect.CANNOT_ANSWER) for sent in messages)
        return f"its messages call for a handoff ({expected}); none came" if needed else None
    first = next(iter(handoffs.values()))[0]
    reason = str(first.data.get("reason"))
    if cause is None:
        return f"handed off for {reason}, but the agent replied to every message"
    waited = first.timestamp - cause.sent_at
    outlasted = reason == "cannot_answer" and waited >= history.unavailable_wait_seconds - CLOCK_TOLERANCE_SECONDS
    if reason != expected and not outlasted:
        return (
            f"handed off for {reason} {waited:.1f} s after {cause.message_id} ({cause.expect.value}); only a "
            f"content outage longer than {history.unavailable_wait_seconds:.0f} s may hand off such a message"
        )
    return None


def one_handoff_per_thread(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """A thread is handed off at most once, exactly when its messages call for it, for their reason."""
    violations = []
    for thread, messages in _threads(history).items():
        problem = _handoff_problem(history, index, messages)
        if problem:
            message = f"{thread[0]}/{thread[1]}: {problem}"
            violations.append(Violation("one_handoff_per_thread", message, _thread_evidence(index, thread)))
    return violations


def resends_are_the_same_event(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """Copies sharing a CloudEvent id carry the same data, and no reply kind is sent twice under two ids."""
    by_id: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in history.records:
        if not record.topic.endswith(DEAD_LETTER_SUFFIX) and record.event_id is not None:
            by_id[(record.topic, record.event_id)].append(record)
    violations = []
    for (topic, event_id), copies in by_id.items():
        if any(copy.data != copies[0].data for copy in copies[1:]):
            message = f"{topic}: {len(copies)} copies of event {event_id} differ"
            violations.append(Violation("resends_are_the_same_event", message, tuple(c.cite() for c in copies)))
    for (reply_to, kind), notices in index.system_notices.items():
        if len(notices) > 1:
            message = f"{len(notices)} different {kind} notices reply to {reply_to}"
            violations.append(Violation("resends_are_the_same_event", message, tuple(_cite(notices))))
    return violations


def order_per_thread(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """The first copies of a thread's replies follow the order of the messages they answer."""
    position = {sent.message_id: sent.index for sent in history.sent}
    violations = []
    for thread, copies in index.outbound_by_thread.items():
        firsts = sorted((records[0] for records in copies.values()), key=lambda r: (r.partition, r.offset))
        indexes = [position[str(r.data.get("reply_to"))] for r in firsts if str(r.data.get("reply_to")) in position]
        if indexes != sorted(indexes):
            message = f"{thread[0]}/{thread[1]}: replies answer messages in the order {indexes}"
            violations.append(Violation("order_per_thread", message, tuple(r.cite() for r in firsts)))
    return violations


def count_resends(history: RunHistory) -> int:
    """How many records are extra copies of an event already recorded (allowed: same id)."""
    seen: set[tuple[str, str | None]] = set()
    copies = 0
    for record in history.records:
        key = (record.topic, record.event_id)
        copies += key in seen
        seen.add(key)
    return copies
