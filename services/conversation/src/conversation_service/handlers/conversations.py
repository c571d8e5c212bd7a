"""Use cases: answer a message routing assigned to the agent, and answer an admin's preview question."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from customer_agent_shared.events.channels import (
    MESSAGE_SEND,
    Author,
    AuthorKind,
    HandoffReason,
    MessageSend,
    OutboundKind,
)
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    CONVERSATION_FEEDBACK,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_KNOWLEDGE_GAP,
    ConversationAssigned,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.events.preview import PREVIEW_ANSWERED, PreviewAnswered, PreviewRequested
from customer_agent_shared.topics import CHANNELS_OUTBOUND, CONVERSATIONS_EVENTS, CONVERSATIONS_PREVIEW_REPLIES

from conversation_service import metrics
from conversation_service.adapters.repositories import ThreadRecord, Turn
from conversation_service.adapters.unit_of_work import ConversationUnitOfWork
from conversation_service.domain import texts
from conversation_service.domain.intents import Intent, classify
from conversation_service.domain.language import choose_language
from conversation_service.domain.policy import MissOutcome, misses_after, on_miss
from conversation_service.domain.retrieval import ContentUnavailableError, content_terms, is_follow_up
from conversation_service.handlers.answering import AnswerEngine, Attempt, ExpectedQuestion
from conversation_service.handlers.profiles import AgentProfile, ProfileCache
from conversation_service.handlers.replies import (
    Reply,
    citations_of,
    count_reply,
    system_reply,
    turn_pairs,
    with_fields,
)
from conversation_service.handlers.types import UnitOfWorkFactory

logger = logging.getLogger(__name__)
SOURCE = "conversation"
PREVIEW_THREAD_PREFIX = "preview:"
_INTENTS_WITHOUT_SEARCH = (Intent.HUMAN_REQUEST, Intent.POSITIVE_FEEDBACK, Intent.NEGATIVE_FEEDBACK)


@dataclass(frozen=True)
class ConversationOptions:
    """Behaviour switches of the use cases."""

    recent_turns: int = 6
    send_handoff_notice: bool = True


class ConversationHandler:
    """Answers assigned messages and previews; every state change and event in one transaction."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        engine: AnswerEngine,
        profiles: ProfileCache,
        *,
        consumer_prefix: str,
        options: ConversationOptions,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._engine = engine
        self._profiles = profiles
        self._consumer_prefix = consumer_prefix
        self._options = options

    @property
    def assigned_inbox_consumer(self) -> str:
        """The name ``handle_assigned`` claims its events under in the inbox."""
        return f"{self._consumer_prefix}:conversations.assigned.v1"

    async def prepare_assigned(self, events: Sequence[CloudEvent[ConversationAssigned]]) -> None:
        """Ahead of a batch of assigned messages, inside its transaction: lock all their threads in one
        statement and search for all their questions in one request.

        A follow-up question's search depends on the thread's earlier questions, so the batch's own earlier
        messages are added as ``handle_assigned`` will add them. This is only a guess: a message whose
        search differs (or one already handled) simply searches on its own. When no question of the batch
        is a follow-up, the searches need nothing from the threads' rows and run while they are locked.
        """
        now = datetime.now(UTC)
        keys = {(event.data.account_id, event.data.thread_id) for event in events}
        async with self._unit_of_work() as uow:
            profiles = {account: await self._profiles.get(uow, account) for account, _ in keys}
            live = [key for key in keys if not profiles[key[0]].deleted]  # a deleted account's thread stays unmade
            if not any(
                is_follow_up(event.data.message.text, content_terms(event.data.message.text)) for event in events
            ):
                # The lock runs in its own task (joined to the batch's transaction all the same), the search
                # in this one, whose context keeps the results for ``handle_assigned``.
                locking = asyncio.create_task(self._lock_threads(live, now))
                try:
                    await self._search_ahead(self._expected_questions(events, {key: [] for key in live}, profiles, now))
                finally:
                    await locking
                return
            threads = await uow.threads.lock_many(live, now)
        history = {key: list(record.turns) for key, record in threads.items()}
        await self._search_ahead(self._expected_questions(events, history, profiles, now))

    async def _lock_threads(self, keys: list[tuple[str, str]], now: datetime) -> None:
        async with self._unit_of_work() as uow:
            await uow.threads.lock_many(keys, now)

    async def _search_ahead(self, questions: list[ExpectedQuestion]) -> None:
        try:
            await self._engine.prefetch(questions)
        except Exception:  # an optimisation only: the messages are then handled as they would be without it
            logger.warning("searching ahead failed; each message searches alone", exc_info=True)

    def _expected_questions(
        self,
        events: Sequence[CloudEvent[ConversationAssigned]],
        history: dict[tuple[str, str], list[Turn]],
        profiles: dict[str, AgentProfile],
        now: datetime,
    ) -> list[ExpectedQuestion]:
        expected: list[ExpectedQuestion] = []
        for event in events:
            assigned = event.data
            message = assigned.message
            profile = profiles[assigned.account_id]
            turns = history.get((assigned.account_id, assigned.thread_id))
            if turns is None:  # a deleted account: not answered
                continue
            if classify(message.text) not in _INTENTS_WITHOUT_SEARCH:
                expected.append(
                    ExpectedQuestion(
                        account_id=assigned.account_id,
                        text=message.text,
                        language=choose_language(
                            message.sender.locale, message.text, profile.default_language, profile.languages
                        ),
                        previous_questions=tuple(turn.text for turn in turns if turn.role == "visitor"),
                    )
                )
            # as handle_assigned remembers it when the agent replies (the usual case)
            turns[:] = [*turns, Turn("visitor", message.text, now), Turn("agent", "", now)][
                -self._options.recent_turns :
            ]
        return expected

    async def handle_assigned(self, event: CloudEvent[ConversationAssigned]) -> Reply | None:
        """Answer (or not) one message routing gave to the agent; None for a duplicate or a deleted account."""
        started = time.perf_counter()
        assigned = event.data
        message = assigned.message
        now = datetime.now(UTC)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self.assigned_inbox_consumer, event.id):
                logger.info("message already handled")
                return None
            profile = await self._profiles.get(uow, assigned.account_id)
            if profile.deleted:
                logger.info("account deleted; message not answered")
                await uow.commit()
                return None
            thread = await uow.threads.lock(assigned.account_id, assigned.thread_id, now)
            history = list(thread.turns)
            language = choose_language(message.sender.locale, message.text, profile.default_language, profile.languages)
            thread.channel_type = assigned.channel.type.value
            thread.channel_id = assigned.channel.id
            thread.language = language
            thread.last_message_at = now  # our clock, not the visitor's: the resolution rule compares with it
            thread.resolved_at = None
            reply = await self._decide(uow, assigned, thread, profile, language, history, greet=assigned.new_thread)
            if reply.kind is not None:
                await uow.publish(
                    CHANNELS_OUTBOUND,
                    f"{assigned.account_id}:{assigned.thread_id}",
                    make_event(
                        MESSAGE_SEND,
                        MessageSend(
                            account_id=assigned.account_id,
                            channel=assigned.channel,
                            thread_id=assigned.thread_id,
                            reply_to=message.message_id,
                            text=reply.text,
                            language=reply.language,
                            kind=reply.kind,
                            author=Author(kind=AuthorKind.AI_AGENT, name=profile.persona.name),
                            citations=citations_of(reply.citations),
                            powered_by_ai=assigned.powered_by_ai,
                        ),
                        source=SOURCE,
                        account_id=assigned.account_id,
                    ),
                )
            new_turns = [Turn("visitor", message.text, now)]
            if reply.kind is not None:
                new_turns.append(Turn("agent", reply.text, now))
            thread.remember(new_turns, keep=self._options.recent_turns)
            await uow.threads.save(thread)
            elapsed = time.perf_counter() - started
            uow.after_commit(partial(count_reply, reply, elapsed))
            await uow.commit()
        logger.info(
            "message handled",
            extra={"outcome": reply.outcome, "language": reply.language, "elapsed_ms": round(elapsed * 1000, 1)},
        )
        return reply

    async def _decide(
        self,
        uow: ConversationUnitOfWork,
        assigned: ConversationAssigned,
        thread: ThreadRecord,
        profile: AgentProfile,
        language: str,
        history: list[Turn],
        *,
        greet: bool,
    ) -> Reply:
        message = assigned.message
        base = ConversationEvent(
            account_id=assigned.account_id,
            thread_id=assigned.thread_id,
            channel=assigned.channel,
            message_id=message.message_id,
            occurred_at=datetime.now(UTC),
            question=message.text,
            language=language,
        )
        intent = classify(message.text)
        if intent is Intent.HUMAN_REQUEST:
            thread.handed_off = True
            thread.consecutive_misses = 0
            await self._event(
                uow, CONVERSATION_HANDOFF_REQUESTED, with_fields(base, reason=HandoffReason.VISITOR_REQUEST)
            )
            return self._handoff_reply("handoff", language)
        if intent in (Intent.POSITIVE_FEEDBACK, Intent.NEGATIVE_FEEDBACK):
            positive = intent is Intent.POSITIVE_FEEDBACK
            thread.negative_feedback = thread.negative_feedback or not positive
            await self._event(
                uow, CONVERSATION_FEEDBACK, with_fields(base, feedback="positive" if positive else "negative")
            )
            if positive:
                return system_reply("feedback", OutboundKind.ANSWER, texts.FEEDBACK_THANKS, language)
            return system_reply("feedback", OutboundKind.REPHRASE_REQUEST, texts.REPHRASE_REQUEST, language)
        previous = [turn.text for turn in history if turn.role == "visitor"]
        try:
            attempt = await self._engine.answer(
                assigned.account_id,
                message.text,
                language=language,
                previous_questions=previous,
                persona=profile.persona,
                greet=greet,
                min_confidence=profile.answer_threshold,
                recent_turns=turn_pairs(history),
            )
        except ContentUnavailableError:
            # Without its content the agent must not guess: hand the visitor to a person now.
            logger.warning("content index unavailable; handing off")
            thread.handed_off = True
            await self._event(uow, CONVERSATION_CANNOT_ANSWER, with_fields(base, reason=HandoffReason.CANNOT_ANSWER))
            return self._handoff_reply("content_unavailable", language)
        if attempt.supported and attempt.answer is not None:
            thread.agent_replied = True
            thread.consecutive_misses = misses_after(None, thread.consecutive_misses)
            answer = attempt.answer
            await self._event(
                uow,
                CONVERSATION_ANSWERED,
                with_fields(
                    base,
                    answer=answer.text,
                    citations=citations_of(answer.citations),
                    confidence=round(attempt.confidence, 3),
                ),
            )
            return Reply("answered", OutboundKind.ANSWER, answer.text, answer.language, answer.citations)
        return await self._miss(uow, thread, attempt, base, language)

    async def _miss(
        self,
        uow: ConversationUnitOfWork,
        thread: ThreadRecord,
        attempt: Attempt,
        base: ConversationEvent,
        language: str,
    ) -> Reply:
        outcome = on_miss(thread.consecutive_misses)
        miss_count = thread.consecutive_misses + 1
        thread.consecutive_misses = misses_after(outcome, thread.consecutive_misses)
        await self._event(
            uow,
            CONVERSATION_KNOWLEDGE_GAP,
            with_fields(
                base,
                confidence=round(attempt.confidence, 3),
                miss_count=miss_count,
                nearest_content=citations_of(attempt.nearest),
            ),
        )
        if outcome is MissOutcome.REPHRASE:
            return system_reply("rephrase", OutboundKind.REPHRASE_REQUEST, texts.REPHRASE_REQUEST, language)
        thread.handed_off = True
        await self._event(
            uow,
            CONVERSATION_CANNOT_ANSWER,
            with_fields(base, reason=HandoffReason.CANNOT_ANSWER, miss_count=miss_count),
        )
        return self._handoff_reply("cannot_answer", language)

    def _handoff_reply(self, outcome: str, language: str) -> Reply:
        if self._options.send_handoff_notice:
            return system_reply(outcome, OutboundKind.HANDOFF_NOTICE, texts.HANDOFF_NOTICE, language)
        return Reply(outcome=outcome, kind=None, text="", language=texts.text_language(language))

    async def _event(self, uow: ConversationUnitOfWork, event_type: str, data: ConversationEvent) -> None:
        await uow.publish(
            CONVERSATIONS_EVENTS,
            f"{data.account_id}:{data.thread_id}",
            make_event(event_type, data, source=SOURCE, account_id=data.account_id),
        )

    async def handle_preview(self, event: CloudEvent[PreviewRequested]) -> PreviewAnswered | None:
        """Answer a preview question the way a live thread would; never billed, never sent to a channel."""
        started = time.perf_counter()
        request = event.data
        now = datetime.now(UTC)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(f"{self._consumer_prefix}:conversations.preview.v1", event.id):
                return None
            profile = await self._profiles.get(uow, request.account_id)
            language = choose_language(request.locale, request.text, profile.default_language, profile.languages)
            thread: ThreadRecord | None = None
            history: list[Turn] = []
            if request.thread_id:
                thread_key = PREVIEW_THREAD_PREFIX + request.thread_id
                thread = await uow.threads.lock(request.account_id, thread_key, now)
                history = list(thread.turns)
            reply = await self._preview_reply(request, thread, profile, language, history)
            if thread is not None:
                thread.last_message_at = now
                thread.remember(
                    [Turn("visitor", request.text, now), Turn("agent", reply.text, now)],
                    keep=self._options.recent_turns,
                )
                await uow.threads.save(thread)  # agent_replied stays False: previews never resolve
            answered = PreviewAnswered(
                account_id=request.account_id,
                correlation_id=request.correlation_id,
                text=reply.text,
                kind=reply.kind or OutboundKind.HANDOFF_NOTICE,
                language=reply.language,
                citations=citations_of(reply.citations),
            )
            await uow.publish(
                CONVERSATIONS_PREVIEW_REPLIES,
                request.account_id,
                make_event(PREVIEW_ANSWERED, answered, source=SOURCE, account_id=request.account_id),
            )
            await uow.commit()
        metrics.REPLIES.labels(outcome=f"preview_{reply.outcome}").inc()
        metrics.ANSWER_SECONDS.labels(kind="preview").observe(time.perf_counter() - started)
        return answered

    async def _preview_reply(
        self,
        request: PreviewRequested,
        thread: ThreadRecord | None,
        profile: AgentProfile,
        language: str,
        history: list[Turn],
    ) -> Reply:
        if classify(request.text) is Intent.HUMAN_REQUEST:
            return system_reply("handoff", OutboundKind.HANDOFF_NOTICE, texts.HANDOFF_NOTICE, language)
        attempt = await self._engine.answer(
            request.account_id,
            request.text,
            language=language,
            previous_questions=[turn.text for turn in history if turn.role == "visitor"],
            persona=profile.persona,
            greet=not history,
            min_confidence=profile.answer_threshold,
            recent_turns=turn_pairs(history),
        )
        if attempt.supported and attempt.answer is not None:
            if thread is not None:
                thread.consecutive_misses = 0
            answer = attempt.answer
            return Reply("answered", OutboundKind.ANSWER, answer.text, answer.language, answer.citations)
        misses = thread.consecutive_misses if thread is not None else 0
        outcome = on_miss(misses)
        if thread is not None:
            thread.consecutive_misses = misses_after(outcome, misses)
        if outcome is MissOutcome.REPHRASE:
            return system_reply("rephrase", OutboundKind.REPHRASE_REQUEST, texts.REPHRASE_REQUEST, language)
        return system_reply("cannot_answer", OutboundKind.HANDOFF_NOTICE, texts.HANDOFF_NOTICE, language)
