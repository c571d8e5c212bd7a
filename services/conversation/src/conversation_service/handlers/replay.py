"""Use case: replay an account's recent real questions against its live and its draft configuration.

The questions come from the question log, newest first. Each thread's questions are judged in the order they
were asked, so a second miss in a row asks for a person as it would live; threads are taken newest first, and
the time budget is checked before each question and bounds each search, so a replay that runs out of it
reports the questions it finished (marked partial) well within the consumer's handler timeout instead of
being cancelled and retried. Only the extractive answer is composed (no model call), nothing is sent to a
channel, nothing is billed: the verdicts go back to admin-api.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from customer_agent_shared.events.channels import OutboundKind
from customer_agent_shared.events.envelope import CloudEvent, derived_event_id, make_event
from customer_agent_shared.events.replay import (
    REPLAY_ANSWERED,
    ReplayAnswered,
    ReplayedQuestion,
    ReplayRequested,
    ReplayVerdict,
)
from customer_agent_shared.messaging.failures import TransientHandlerError
from customer_agent_shared.topics import AGENT_REPLAY_RESULTS

from conversation_service import metrics
from conversation_service.domain.intents import Intent
from conversation_service.domain.language import choose_language
from conversation_service.domain.model import AskedQuestion, ConversationThread, channel_ref
from conversation_service.domain.retrieval import ContentUnavailableError
from conversation_service.handlers.answering import AnswerEngine, ExpectedQuestion, Judgement
from conversation_service.handlers.profiles import AgentProfile, profile_of_snapshot
from conversation_service.handlers.replies import citations_of, reply_for
from conversation_service.handlers.types import UnitOfWorkFactory

logger = logging.getLogger(__name__)
SOURCE = "conversation"
PREFETCH_THREADS = 25


@dataclass
class _Side:
    """One configuration's profile and its view of the thread being replayed (misses in a row)."""

    profile: AgentProfile
    thread: ConversationThread | None = None

    def language(self, question: AskedQuestion) -> str:
        """The language this configuration would answer ``question`` in."""
        profile = self.profile
        return choose_language(question.locale, question.text, profile.default_language, profile.languages)


def threads_newest_first(asked: Sequence[AskedQuestion]) -> list[list[AskedQuestion]]:
    """The questions (newest first) grouped by thread, each thread oldest question first, the threads by
    their newest question."""
    threads: dict[str, list[AskedQuestion]] = {}
    for question in asked:
        threads.setdefault(question.thread_id, []).append(question)
    return [list(reversed(questions)) for questions in threads.values()]


class DraftReplay:
    """Answers replay requests from the question log (read only)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        engine: AnswerEngine,
        *,
        consumer: str,
        budget_seconds: float,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._engine = engine
        self._consumer = consumer
        self._budget = budget_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock

    async def handle(self, event: CloudEvent[ReplayRequested]) -> ReplayAnswered | None:
        """Replay and stage the verdicts; None for a repeat."""
        request = event.data
        deadline = self._clock() + self._budget
        async with self._unit_of_work() as uow:
            # A look only: this claim is never committed (leaving rolls it back), so a redelivery of a handled
            # request skips the replay's work; the claim that counts goes with the outbox row below.
            if not await uow.claim_event(self._consumer, event.id):
                return None
            asked = await uow.questions.latest(request.account_id, request.limit)
        sides = (_Side(profile_of_snapshot(request.live)), _Side(profile_of_snapshot(request.draft)))
        async with self._slot(deadline):
            replayed = await self._replay(request.account_id, asked, sides, deadline)
        answered = ReplayAnswered(
            account_id=request.account_id,
            replay_id=request.replay_id,
            questions=sorted(replayed, key=lambda item: item.position),
            available=len(asked),
            complete=len(replayed) == len(asked),
            note=self._partial_note(len(replayed), len(asked)),
        )
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return None
            reply = make_event(
                REPLAY_ANSWERED,
                answered,
                source=SOURCE,
                account_id=request.account_id,
                event_id=derived_event_id(event.id, REPLAY_ANSWERED),
            )
            await uow.publish(AGENT_REPLAY_RESULTS, request.account_id, reply)
            await uow.commit()
        metrics.REPLAYED_QUESTIONS.inc(len(replayed))
        logger.info("draft replayed", extra={"questions": len(replayed), "available": len(asked)})
        return answered

    @contextlib.asynccontextmanager
    async def _slot(self, deadline: float) -> AsyncIterator[None]:
        """One of the process's replay slots (so replays leave the live answers their share), waited for at most
        until ``deadline``; the request is retried later when none came free."""
        try:
            async with asyncio.timeout(max(deadline - self._clock(), 0)):
                await self._slots.acquire()
        except TimeoutError as error:
            raise TransientHandlerError("every replay slot of this process is busy") from error
        try:
            yield
        finally:
            self._slots.release()

    def _partial_note(self, replayed: int, available: int) -> str | None:
        if replayed == available:
            return None
        return (
            f"Replayed {replayed} of the {available} latest questions within the {self._budget:g} s a replay "
            "may take; the newest threads come first."
        )

    async def _replay(
        self, account_id: str, asked: Sequence[AskedQuestion], sides: tuple[_Side, _Side], deadline: float
    ) -> list[ReplayedQuestion]:
        """The verdicts of the questions finished before ``deadline`` (never raises for running out of time)."""
        positions = {(q.thread_id, q.message_id): index for index, q in enumerate(asked)}
        threads = threads_newest_first(asked)
        replayed: list[ReplayedQuestion] = []
        for index, questions in enumerate(threads):
            if index % PREFETCH_THREADS == 0:
                ahead = threads[index : index + PREFETCH_THREADS]
                await self._search_ahead(account_id, ahead, sides[0], deadline - self._clock())
            for side in sides:
                side.thread = ConversationThread.new(account_id, questions[0].thread_id, at=questions[0].asked_at)
            for turn, question in enumerate(questions):
                await asyncio.sleep(0)  # judging may not wait for anything: let live answers in between questions
                verdicts = await self._judge_in_time(account_id, question, questions[:turn], sides, deadline)
                if verdicts is None:
                    return replayed
                position = positions[(question.thread_id, question.message_id)]
                replayed.append(self._replayed(position, question, sides[0].language(question), *verdicts))
        return replayed

    async def _judge_in_time(
        self,
        account_id: str,
        question: AskedQuestion,
        earlier: Sequence[AskedQuestion],
        sides: tuple[_Side, _Side],
        deadline: float,
    ) -> tuple[ReplayVerdict, ReplayVerdict] | None:
        """Both verdicts, or None when the budget ran out before or while judging."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            return None
        scope = asyncio.timeout(remaining)
        try:
            async with scope:
                return await self._judge(account_id, question, [q.text for q in earlier], sides)
        except TimeoutError:
            if scope.expired():
                return None
            raise
        except ContentUnavailableError as error:
            raise TransientHandlerError(f"content index unavailable during a replay: {error}") from error

    async def _search_ahead(
        self, account_id: str, threads: Sequence[list[AskedQuestion]], side: _Side, remaining: float
    ) -> None:
        if remaining <= 0:
            return
        expected = [
            ExpectedQuestion(account_id, question.text, side.language(question), tuple(q.text for q in thread[:index]))
            for thread in threads
            for index, question in enumerate(thread)
        ]
        try:
            async with asyncio.timeout(remaining):
                await self._engine.prefetch(expected)
        except Exception:  # an optimisation only: each question then searches alone
            logger.warning("searching ahead for a replay failed", exc_info=True)

    async def _judge(
        self, account_id: str, question: AskedQuestion, earlier: list[str], sides: tuple[_Side, _Side]
    ) -> tuple[ReplayVerdict, ReplayVerdict]:
        judgements = [
            Judgement(side.language(question), side.profile.persona, side.profile.answer_threshold) for side in sides
        ]
        attempts = await self._engine.replay(
            account_id, question.text, previous_questions=earlier, judgements=judgements
        )
        verdicts = []
        for side, judgement, attempt in zip(sides, judgements, attempts, strict=True):
            assert side.thread is not None
            answered = attempt.supported and attempt.answer is not None
            decision = side.thread.take_turn(Intent.QUESTION, answered=answered)
            reply = reply_for(decision, attempt, judgement.language, handoff_notice=True)
            verdicts.append(
                ReplayVerdict(
                    kind=reply.kind or OutboundKind.HANDOFF_NOTICE,
                    answered=answered,
                    citations=citations_of(reply.citations),
                    confidence=round(attempt.confidence, 3),
                    handoff_reason=decision.handoff_reason,
                )
            )
        return verdicts[0], verdicts[1]

    @staticmethod
    def _replayed(
        position: int, question: AskedQuestion, language: str, live: ReplayVerdict, draft: ReplayVerdict
    ) -> ReplayedQuestion:
        return ReplayedQuestion(
            position=position,
            thread_id=question.thread_id,
            message_id=question.message_id,
            channel=channel_ref(question.channel_type, question.channel_id),
            text=question.text,
            language=language,
            asked_at=question.asked_at,
            live=live,
            draft=draft,
        )
