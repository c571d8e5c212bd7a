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
    MessageSend,
    OutboundKind,
)
from customer_agent_shared.events.conversations import (
    CONVERSATION_KNOWLEDGE_GAP,
    ConversationAssigned,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent, derived_event_id, make_event
from customer_agent_shared.events.preview import PREVIEW_ANSWERED, PreviewAnswered, PreviewRequested
from customer_agent_shared.messaging.failures import TransientHandlerError
from customer_agent_shared.topics import CHANNELS_OUTBOUND, CONVERSATIONS_EVENTS, CONVERSATIONS_PREVIEW_REPLIES

from conversation_service import metrics
from conversation_service.domain.intents import Intent, classify
from conversation_service.domain.language import choose_language
from conversation_service.domain.model import (
    INTENTS_WITHOUT_SEARCH,
    PREVIEW_THREAD_PREFIX,
    AskedQuestion,
    ConversationThread,
    Turn,
    TurnDecision,
)
from conversation_service.domain.retrieval import ContentUnavailableError, content_terms, is_follow_up
from conversation_service.handlers.answering import AnswerEngine, Attempt, ExpectedQuestion
from conversation_service.handlers.gap_drafts import queue_gap_draft
from conversation_service.handlers.profiles import AgentProfile, ProfileCache
from conversation_service.handlers.replies import (
    Reply,
    citations_of,
    count_reply,
    events_for,
    reply_for,
    turn_pairs,
)
from conversation_service.handlers.types import ConversationUnitOfWorkProtocol, UnitOfWorkFactory

logger = logging.getLogger(__name__)
SOURCE = "conversation"


class AnswerDelayedError(TransientHandlerError):
    """The content index is down and the message is young: the consumer retries it later."""


@dataclass(frozen=True)
class ConversationOptions:
    """Behaviour switches of the use cases."""

    recent_turns: int = 6
    send_handoff_notice: bool = True
    unavailable_wait_seconds: float = 60.0
    """How long a live message waits for the content index to come back before a person takes the thread."""
    draft_gaps: bool = False
    """Queue each knowledge gap for the LLM's recommended answer (``GapDrafter``)."""


@dataclass(frozen=True)
class Question:
    """A visitor's question with what answering it depends on."""

    account_id: str
    text: str
    language: str
    history: tuple[Turn, ...]
    greet: bool


@dataclass(frozen=True)
class FoundAnswer:
    """What searching for an answer found (``attempt`` is None when no search was due or content was down)."""

    attempt: Attempt | None
    content_available: bool

    @property
    def answered(self) -> bool:
        """The content supported an answer."""
        return self.attempt is not None and self.attempt.supported and self.attempt.answer is not None


def asked_question(assigned: ConversationAssigned, language: str, at: datetime) -> AskedQuestion:
    """A visitor's question as the question log keeps it."""
    message = assigned.message
    return AskedQuestion(
        account_id=assigned.account_id,
        thread_id=assigned.thread_id,
        message_id=message.message_id,
        text=message.text,
        language=language,
        locale=message.sender.locale,
        channel_type=assigned.channel.type.value,
        channel_id=assigned.channel.id,
        asked_at=at,
    )


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
            if classify(message.text) not in INTENTS_WITHOUT_SEARCH:
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
        """Answer (or not) one message routing gave to the agent; None for a duplicate or a deleted account.

        The answer is found between two transactions: the first reads the thread, the second claims the
        event, locks the thread, records the turn and stages its events. No row is locked and no
        connection held while the search (and the optional LLM) runs.
        """
        started = time.perf_counter()
        assigned = event.data
        message = assigned.message
        async with self._unit_of_work() as uow:
            profile = await self._profiles.get(uow, assigned.account_id)
            stored = None if profile.deleted else await uow.threads.peek(assigned.account_id, assigned.thread_id)
        history = list(stored.turns) if stored is not None else []
        language = choose_language(message.sender.locale, message.text, profile.default_language, profile.languages)
        intent = classify(message.text)
        found = FoundAnswer(None, content_available=True)
        if not profile.deleted:
            question = Question(assigned.account_id, message.text, language, tuple(history), assigned.new_thread)
            found = await self._find_answer(question, intent, profile, cause=event)
        now = datetime.now(UTC)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self.assigned_inbox_consumer, event.id):
                logger.info("message already handled")
                return None
            if profile.deleted:
                logger.info("account deleted; message not answered")
                await uow.commit()
                return None
            thread = await uow.threads.lock(assigned.account_id, assigned.thread_id, now)
            thread.receive(
                channel_type=assigned.channel.type.value, channel_id=assigned.channel.id, language=language, at=now
            )
            decision = thread.take_turn(intent, answered=found.answered, content_available=found.content_available)
            reply = reply_for(decision, found.attempt, language, handoff_notice=self._options.send_handoff_notice)
            await self._publish_turn(uow, event, decision, found.attempt, reply, profile=profile, language=language)
            if intent is Intent.QUESTION:
                await uow.questions.record(asked_question(assigned, language, now))
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

    async def _find_answer(
        self,
        question: Question,
        intent: Intent,
        profile: AgentProfile,
        *,
        cause: CloudEvent[ConversationAssigned] | None,
    ) -> FoundAnswer:
        """Search and compose (no transaction open); ``cause``: a live message, delayed while content is down."""
        if intent in INTENTS_WITHOUT_SEARCH:
            return FoundAnswer(None, content_available=True)
        try:
            attempt = await self._engine.answer(
                question.account_id,
                question.text,
                language=question.language,
                previous_questions=[turn.text for turn in question.history if turn.role == "visitor"],
                persona=profile.persona,
                greet=question.greet,
                min_confidence=profile.answer_threshold,
                recent_turns=turn_pairs(question.history),
            )
        except ContentUnavailableError as error:
            waited = (datetime.now(UTC) - cause.time).total_seconds() if cause is not None else None
            if waited is not None and waited < self._options.unavailable_wait_seconds:
                metrics.ANSWERS_DELAYED.inc()
                raise AnswerDelayedError(f"content index unavailable for {waited:.0f} s; retrying") from error
            logger.warning("content index unavailable; handing off", extra={"error": repr(error)[:300]})
            return FoundAnswer(None, content_available=False)
        return FoundAnswer(attempt, content_available=True)

    async def _publish_turn(
        self,
        uow: ConversationUnitOfWorkProtocol,
        event: CloudEvent[ConversationAssigned],
        decision: TurnDecision,
        attempt: Attempt | None,
        reply: Reply,
        *,
        profile: AgentProfile,
        language: str,
    ) -> None:
        """Stage the reply to the channel and the conversation events, with ids derived from the message's."""
        assigned = event.data
        message = assigned.message
        key = f"{assigned.account_id}:{assigned.thread_id}"
        if reply.kind is not None:
            outbound = MessageSend(
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
            )
            reply_event = make_event(
                MESSAGE_SEND,
                outbound,
                source=SOURCE,
                account_id=assigned.account_id,
                event_id=derived_event_id(event.id, "reply"),
            )
            await uow.publish(CHANNELS_OUTBOUND, key, reply_event)
        base = ConversationEvent(
            account_id=assigned.account_id,
            thread_id=assigned.thread_id,
            channel=assigned.channel,
            message_id=message.message_id,
            occurred_at=datetime.now(UTC),
            question=message.text,
            language=language,
        )
        for event_type, data in events_for(decision, attempt, base):
            conversation_event = make_event(
                event_type,
                data,
                source=SOURCE,
                account_id=assigned.account_id,
                event_id=derived_event_id(event.id, event_type),
            )
            await uow.publish(CONVERSATIONS_EVENTS, key, conversation_event)
            if event_type == CONVERSATION_KNOWLEDGE_GAP and self._options.draft_gaps:
                await queue_gap_draft(uow, conversation_event, attempt)

    async def handle_preview(self, event: CloudEvent[PreviewRequested]) -> PreviewAnswered | None:
        """Answer a preview question the way a live thread would; never billed, never sent to a channel."""
        started = time.perf_counter()
        request = event.data
        thread_key = PREVIEW_THREAD_PREFIX + request.thread_id if request.thread_id else None
        async with self._unit_of_work() as uow:
            profile = await self._profiles.get(uow, request.account_id)
            stored = await uow.threads.peek(request.account_id, thread_key) if thread_key else None
        history = list(stored.turns) if stored is not None else []
        language = choose_language(request.locale, request.text, profile.default_language, profile.languages)
        intent = classify(request.text)
        question = Question(request.account_id, request.text, language, tuple(history), greet=not history)
        # An admin waits for the preview: no delaying it while content is down.
        found = await self._find_answer(question, intent, profile, cause=None)
        now = datetime.now(UTC)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(f"{self._consumer_prefix}:conversations.preview.v1", event.id):
                return None
            if thread_key is not None:
                thread = await uow.threads.lock(request.account_id, thread_key, now)
            else:
                thread = ConversationThread.new(request.account_id, PREVIEW_THREAD_PREFIX, at=now)
            decision = thread.take_turn(intent, answered=found.answered, content_available=found.content_available)
            reply = reply_for(decision, found.attempt, language, handoff_notice=True)
            if thread_key is not None:
                thread.last_message_at = now
                thread.remember(
                    [Turn("visitor", request.text, now), Turn("agent", reply.text, now)],
                    keep=self._options.recent_turns,
                )
                await uow.threads.save(thread)
            answered = PreviewAnswered(
                account_id=request.account_id,
                correlation_id=request.correlation_id,
                text=reply.text,
                kind=reply.kind or OutboundKind.HANDOFF_NOTICE,
                language=reply.language,
                citations=citations_of(reply.citations),
            )
            reply_event = make_event(
                PREVIEW_ANSWERED,
                answered,
                source=SOURCE,
                account_id=request.account_id,
                event_id=derived_event_id(event.id, PREVIEW_ANSWERED),
            )
            await uow.publish(CONVERSATIONS_PREVIEW_REPLIES, request.account_id, reply_event)
            await uow.commit()
        metrics.REPLIES.labels(outcome=f"preview_{reply.outcome}").inc()
        metrics.ANSWER_SECONDS.labels(kind="preview").observe(time.perf_counter() - started)
        return answered
