"""The draft replay on a fake unit of work: which questions it judges, in what order, and what it reports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from conversation_service.domain.composer import ComposedAnswer, SourceRef
from conversation_service.domain.model import AskedQuestion
from conversation_service.handlers.answering import AnswerEngine, Attempt, ExpectedQuestion, Judgement
from conversation_service.handlers.replay import DraftReplay, threads_newest_first
from conversation_service.settings import ConversationSettings
from customer_agent_shared.events.channels import OutboundKind
from customer_agent_shared.events.config import AgentConfigSnapshot, AgentProfile
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.replay import REPLAY_REQUESTED, ReplayRequested
from pydantic import ValidationError

from .fakes import FakeDatabase, FakeUnitOfWork

ACCOUNT = "acc-1"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REF = SourceRef(title="Passwords", url="https://example.test/passwords")


class ConfidenceEngine:
    """Each question has a fixed confidence; a judgement answers when it reaches its threshold (0.54 by default)."""

    def __init__(self, confidence: dict[str, float]) -> None:
        self.confidence = confidence
        self.judged: list[tuple[str, tuple[str, ...]]] = []

    async def prefetch(self, questions: Sequence[ExpectedQuestion]) -> None:
        """Nothing ahead."""

    async def replay(
        self, account_id: str, question: str, *, previous_questions: Sequence[str], judgements: Sequence[Judgement]
    ) -> list[Attempt]:
        """One attempt per judgement."""
        self.judged.append((question, tuple(previous_questions)))
        confidence = self.confidence[question]
        attempts = []
        for judgement in judgements:
            threshold = 0.54 if judgement.min_confidence is None else judgement.min_confidence
            if confidence < threshold:
                attempts.append(Attempt(False, None, confidence, (REF,)))
                continue
            answer = ComposedAnswer(text="Open Settings.", language=judgement.language, citations=(REF,), passage="")
            attempts.append(Attempt(True, answer, confidence, (REF,)))
        return attempts


def _question(thread: str, text: str, minutes: int) -> AskedQuestion:
    return AskedQuestion(
        account_id=ACCOUNT,
        thread_id=thread,
        message_id=f"m-{minutes}",
        text=text,
        language="en",
        locale="en-GB",
        channel_type="live_chat",
        channel_id="web",
        asked_at=START + timedelta(minutes=minutes),
    )


def _request(threshold: float | None, limit: int = 200) -> ReplayRequested:
    live = AgentConfigSnapshot(account_id=ACCOUNT, version=3, updated_at=START)
    draft = live.model_copy(update={"agent": AgentProfile(answer_threshold=threshold)})
    return ReplayRequested(account_id=ACCOUNT, replay_id="rpl-1", limit=limit, live=live, draft=draft)


def _replay(
    database: FakeDatabase,
    engine: ConfidenceEngine,
    clock: list[float] | None = None,
    *,
    budget: float = 10,
    concurrency: int = 1,
) -> DraftReplay:
    """A replay on the fake database; ``clock``: the readings it takes (the last one repeats), else the real one."""
    ticks = clock
    return DraftReplay(
        lambda: FakeUnitOfWork(database),
        cast(AnswerEngine, engine),
        consumer="conversation:agent.replay.v1",
        budget_seconds=budget,
        concurrency=concurrency,
        clock=time.monotonic if ticks is None else (lambda: ticks.pop(0) if len(ticks) > 1 else ticks[0]),
    )


def _log(database: FakeDatabase, *questions: AskedQuestion) -> None:
    for question in questions:
        database.tables.questions[(question.account_id, question.thread_id, question.message_id)] = question


def test_threads_come_newest_first_and_each_thread_in_the_order_it_was_asked() -> None:
    a1, b1, a2 = _question("a", "a1", 1), _question("b", "b1", 2), _question("a", "a2", 3)

    assert threads_newest_first([a2, b1, a1]) == [[a1, a2], [b1]]


async def test_each_thread_is_replayed_in_order_and_a_second_miss_in_a_row_asks_for_a_person() -> None:
    database = FakeDatabase()
    _log(
        database,
        _question("a", "How do I reset my password?", 1),
        _question("b", "Do you ship to Mars?", 2),
        _question("a", "And my email address?", 3),
    )
    engine = ConfidenceEngine(
        {"How do I reset my password?": 0.7, "And my email address?": 0.6, "Do you ship to Mars?": 0.1}
    )
    request = _request(0.9)

    answered = await _replay(database, engine).handle(
        make_event(REPLAY_REQUESTED, request, source="t", account_id=ACCOUNT)
    )

    assert answered is not None
    assert [q.text for q in answered.questions] == [
        "And my email address?",
        "Do you ship to Mars?",
        "How do I reset my password?",
    ]
    assert [q.position for q in answered.questions] == [0, 1, 2]
    assert engine.judged[:2] == [
        ("How do I reset my password?", ()),
        ("And my email address?", ("How do I reset my password?",)),
    ]
    email, mars, password = answered.questions
    assert (password.live.kind, password.live.citations[0].url) == (OutboundKind.ANSWER, REF.url)
    assert (password.draft.kind, password.draft.handoff_reason) == (OutboundKind.REPHRASE_REQUEST, None)
    assert (email.live.answered, email.draft.answered, email.draft.handoff_reason) == (True, False, "cannot_answer")
    assert mars.live.handoff_reason is None
    assert mars.draft.handoff_reason is None
    assert (answered.available, answered.complete, answered.note) == (3, True, None)
    published = [(topic, event.type) for topic, _, event in database.published]
    assert published == [("agent.replay-results.v1", "replay.answered")]


async def test_a_replay_out_of_time_reports_the_newest_questions_it_finished() -> None:
    database = FakeDatabase()
    _log(
        database,
        _question("old", "Old question?", 1),
        _question("new", "New question?", 2),
        _question("new", "Newer question?", 3),
    )
    engine = ConfidenceEngine({"Old question?": 0.9, "New question?": 0.9, "Newer question?": 0.9})
    # The clock: the start, the replay slot, the search ahead, the first question within the budget, the
    # second past it.
    replay = _replay(database, engine, clock=[0.0, 0.2, 0.5, 1.0, 11.0])

    answered = await replay.handle(make_event(REPLAY_REQUESTED, _request(None), source="t", account_id=ACCOUNT))

    assert answered is not None
    assert [q.text for q in answered.questions] == ["New question?"]
    assert (answered.available, answered.complete) == (3, False)
    assert answered.note is not None
    assert "1 of the 3" in answered.note
    assert [event.data.complete for _, _, event in database.published] == [False]


class SlowEngine(ConfidenceEngine):
    """Searching ahead never ends; the question named ``stuck`` never finishes being judged."""

    def __init__(self, confidence: dict[str, float], *, stuck: str) -> None:
        super().__init__(confidence)
        self.stuck = stuck

    async def prefetch(self, questions: Sequence[ExpectedQuestion]) -> None:
        """Hangs."""
        await asyncio.sleep(3600)

    async def replay(
        self, account_id: str, question: str, *, previous_questions: Sequence[str], judgements: Sequence[Judgement]
    ) -> list[Attempt]:
        """Hangs on the stuck question."""
        if question == self.stuck:
            await asyncio.sleep(3600)
        return await super().replay(account_id, question, previous_questions=previous_questions, judgements=judgements)


async def test_a_slow_search_is_cut_at_the_budget_and_the_replay_reports_what_it_finished() -> None:
    database = FakeDatabase()
    _log(database, _question("a", "First?", 1), _question("a", "Stuck?", 2), _question("a", "Never?", 3))
    engine = SlowEngine({"First?": 0.9, "Stuck?": 0.9, "Never?": 0.9}, stuck="Stuck?")
    replay = _replay(database, engine, budget=0.3)
    started = time.monotonic()

    answered = await replay.handle(make_event(REPLAY_REQUESTED, _request(None), source="t", account_id=ACCOUNT))

    assert time.monotonic() - started < 2
    assert answered is not None
    assert [q.text for q in answered.questions] == []
    assert (answered.available, answered.complete) == (3, False)
    assert [topic for topic, _, _ in database.published] == ["agent.replay-results.v1"]


async def test_the_search_ahead_gets_only_what_is_left_of_the_budget() -> None:
    database = FakeDatabase()
    _log(database, _question("a", "First?", 1), _question("a", "Stuck?", 2))
    engine = SlowEngine({"First?": 0.9, "Stuck?": 0.9}, stuck="Stuck?")
    # The clock: the start and the replay slot, then 0.2 s left of 10 for searching ahead, then the questions.
    replay = _replay(database, engine, clock=[0.0, 0.0, 9.8, 9.9])
    started = time.monotonic()

    answered = await replay.handle(make_event(REPLAY_REQUESTED, _request(None), source="t", account_id=ACCOUNT))

    # The search ahead was cut after 0.2 s; the first question is judged, the stuck one cut after 0.1 s.
    assert time.monotonic() - started < 2
    assert answered is not None
    assert [q.text for q in answered.questions] == ["First?"]
    assert answered.complete is False


async def test_a_handled_request_is_not_replayed_again() -> None:
    database = FakeDatabase()
    _log(database, _question("a", "First?", 1))
    engine = ConfidenceEngine({"First?": 0.9})
    event = make_event(REPLAY_REQUESTED, _request(None), source="t", account_id=ACCOUNT)
    replay = _replay(database, engine)
    await replay.handle(event)
    engine.judged.clear()

    again = await replay.handle(event)

    assert again is None
    assert engine.judged == []


def test_a_replay_budget_the_handler_timeout_would_cut_off_is_refused() -> None:
    ConversationSettings(replay_seconds=40, handler_timeout_seconds=60)
    with pytest.raises(ValidationError, match="CONVERSATION_REPLAY_SECONDS"):
        ConversationSettings(replay_seconds=55, handler_timeout_seconds=60)


async def test_the_limit_takes_the_latest_questions_and_a_repeat_is_answered_once() -> None:
    database = FakeDatabase()
    _log(database, *(_question(f"t{minute}", f"Question {minute}?", minute) for minute in range(5)))
    engine = ConfidenceEngine({f"Question {minute}?": 0.9 for minute in range(5)})
    event = make_event(REPLAY_REQUESTED, _request(None, limit=2), source="t", account_id=ACCOUNT)
    replay = _replay(database, engine)

    answered = await replay.handle(event)
    again = await replay.handle(event)

    assert answered is not None
    assert [q.text for q in answered.questions] == ["Question 4?", "Question 3?"]
    assert again is None
    assert len(database.published) == 1


class CountingEngine(ConfidenceEngine):
    """Records how many questions are being judged at once (each takes a little while)."""

    def __init__(self, confidence: dict[str, float]) -> None:
        super().__init__(confidence)
        self.at_once = 0
        self.most_at_once = 0

    async def replay(
        self, account_id: str, question: str, *, previous_questions: Sequence[str], judgements: Sequence[Judgement]
    ) -> list[Attempt]:
        """Judged after a short wait."""
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        await asyncio.sleep(0.02)
        self.at_once -= 1
        return await super().replay(account_id, question, previous_questions=previous_questions, judgements=judgements)


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_a_process_runs_at_most_its_number_of_replays_at_once(concurrency: int) -> None:
    database = FakeDatabase()
    _log(database, _question("a", "First?", 1), _question("b", "Second?", 2))
    engine = CountingEngine({"First?": 0.9, "Second?": 0.9})
    replay = _replay(database, engine, concurrency=concurrency)
    events = [make_event(REPLAY_REQUESTED, _request(None), source="t", account_id=ACCOUNT) for _ in range(3)]

    answered = await asyncio.gather(*(replay.handle(event) for event in events))

    assert [a.complete for a in answered if a is not None] == [True, True, True]
    assert engine.most_at_once == concurrency
