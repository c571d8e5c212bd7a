"""Wires conversation: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

from customer_agent_shared.embeddings import Embedder, create_embedder
from customer_agent_shared.kernel import (
    ServiceKernel,
    build_kernel,
    create_operations_app,
    start_consumers_last,
)
from customer_agent_shared.topics import AGENT_REPLAY
from fastapi import FastAPI
from opensearchpy import AsyncOpenSearch

from conversation_service.adapters.bilingual_dictionary import load_dictionaries
from conversation_service.adapters.content_search import ContentSearch
from conversation_service.adapters.llm import ChatCompletionsClient
from conversation_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from conversation_service.adapters.unit_of_work import ConversationUnitOfWork
from conversation_service.domain.confidence import AnswerThresholds
from conversation_service.domain.fusion import FusionWeights
from conversation_service.domain.lexicon import GLOSSARY_ONLY, Lexicon
from conversation_service.domain.term_statistics import TermStatistics
from conversation_service.entrypoints.kafka_subscribers import register_subscribers
from conversation_service.handlers.answering import AnswerEngine, AnswerPolicy, ChatModel
from conversation_service.handlers.conversations import ConversationHandler, ConversationOptions
from conversation_service.handlers.gap_drafts import DraftOptions, GapDrafter, GapDraftRetention, LiveAnswers
from conversation_service.handlers.profiles import ConfigFolder, ProfileCache
from conversation_service.handlers.replay import DraftReplay
from conversation_service.handlers.resolution import QuestionLogRetention, ResolutionSweep
from conversation_service.handlers.types import UnitOfWorkFactory
from conversation_service.settings import ConversationSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent conversation"
DESCRIPTION = "Grounded answers with citations in the visitor's language."


@dataclass
class ConversationService:
    """Everything one conversation process holds."""

    kernel: ServiceKernel
    settings: ConversationSettings
    conversations: ConversationHandler
    config: ConfigFolder
    resolution: ResolutionSweep
    replay: DraftReplay

    def unit_of_work(self) -> ConversationUnitOfWork:
        """A new unit of work over conversation's schema."""
        return _unit_of_work(self.kernel)


def _unit_of_work(kernel: ServiceKernel) -> ConversationUnitOfWork:
    return ConversationUnitOfWork(kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=kernel.relay)


def build_service(settings: ConversationSettings | None = None) -> ConversationService:
    """Build (not start) a conversation process."""
    settings = settings or ConversationSettings()
    kernel = build_kernel(
        settings,
        schema=SCHEMA,
        outbox=outbox_table,
        inbox=inbox_table,
        migrations_dir=MIGRATIONS_DIR,
        use_opensearch=True,
    )
    assert kernel.opensearch is not None

    def unit_of_work() -> ConversationUnitOfWork:
        return _unit_of_work(kernel)

    live = LiveAnswers()
    llm = add_llm(kernel, settings, unit_of_work, live)
    engine = started_answer_engine(kernel, settings, llm=live.counting(llm) if llm is not None else None)
    profiles = ProfileCache(settings.config_cache_seconds)
    conversations = ConversationHandler(
        unit_of_work, engine, profiles, consumer_prefix=settings.consumer_group, options=conversation_options(settings)
    )
    config = ConfigFolder(unit_of_work, profiles, consumer=f"{settings.consumer_group}:agent.config.v1")
    resolution = ResolutionSweep(
        unit_of_work, default_hours=settings.resolution_hours, interval_seconds=settings.resolution_sweep_seconds
    )
    retention = QuestionLogRetention(unit_of_work, days=settings.question_log_days)
    replay = DraftReplay(
        unit_of_work,
        engine,
        consumer=f"{settings.consumer_group}:{AGENT_REPLAY}",
        budget_seconds=settings.replay_seconds,
        concurrency=settings.replay_concurrency,
    )
    kernel.lifecycle.add("resolution sweep", resolution.periodic.start, resolution.periodic.stop)
    kernel.lifecycle.add("question log retention", retention.periodic.start, retention.periodic.stop)
    # Also without a model: drafts queued before it (or the drafts) were turned off.
    gap_drafts = GapDraftRetention(unit_of_work)
    kernel.lifecycle.add("knowledge gap draft retention", gap_drafts.periodic.start, gap_drafts.periodic.stop)
    # A batch commits (and its replies leave) after its last answer: with a model taking seconds per
    # answer, a visitor would wait for everyone else's answers. With a model, each message gets its own
    # transaction and different threads are answered at once.
    register_subscribers(
        kernel.broker,
        conversations,
        config,
        replay,
        settings.consumer_group,
        kernel.batch_consumer(unit_of_work, settings),
        settings.consumer_offset_reset,
        parallel_answers=settings.llm_parallel_answers if llm is not None else None,
    )
    start_consumers_last(kernel)
    return ConversationService(kernel, settings, conversations, config, resolution, replay)


def started_answer_engine(
    kernel: ServiceKernel, settings: ConversationSettings, *, llm: ChatModel | None
) -> AnswerEngine:
    """The answer engine, its embedding model and bilingual dictionaries loaded by the kernel's lifecycle."""
    assert kernel.opensearch is not None
    embedder = create_embedder(settings)
    if embedder is not None:
        kernel.lifecycle.add("embedding model", embedder.start, embedder.aclose)
    lexicon = Lexicon()
    kernel.lifecycle.add(
        "bilingual dictionaries", functools.partial(load_dictionaries, lexicon, settings.dictionary_dir)
    )
    return build_answer_engine(settings, kernel.opensearch, embedder=embedder, llm=llm, lexicon=lexicon)


def conversation_options(settings: ConversationSettings) -> ConversationOptions:
    """How threads are answered, from the settings."""
    return ConversationOptions(
        recent_turns=settings.recent_turns,
        send_handoff_notice=settings.send_handoff_notice,
        unavailable_wait_seconds=settings.unavailable_wait_seconds,
        draft_gaps=bool(settings.llm_base_url) and settings.llm_gap_drafts,
    )


def add_llm(
    kernel: ServiceKernel, settings: ConversationSettings, unit_of_work: UnitOfWorkFactory, live: LiveAnswers
) -> ChatCompletionsClient | None:
    """The LLM client when one is configured, closed with the process, and the drafter of knowledge gaps'
    answers that uses it (stopped before it closes) whenever no ``live`` answer waits for it."""
    llm = build_llm_client(settings)
    if llm is None:
        return None
    kernel.lifecycle.add("llm client", None, llm.close)
    if settings.llm_gap_drafts:
        options = DraftOptions(
            timeout_seconds=settings.llm_timeout_seconds,
            attempts=settings.gap_draft_attempts,
            retry_seconds=settings.gap_draft_retry_seconds,
            interval_seconds=settings.gap_draft_interval_seconds,
        )
        drafter = GapDrafter(unit_of_work, llm, options, live=live)
        kernel.lifecycle.add("knowledge gap drafts", drafter.periodic.start, drafter.periodic.stop)
    return llm


def build_llm_client(settings: ConversationSettings) -> ChatCompletionsClient | None:
    """The chat-completions client when an LLM is configured, else None (extractive answers only)."""
    if not settings.llm_base_url:
        return None
    return ChatCompletionsClient(
        settings.llm_base_url,
        settings.llm_model,
        api_key=settings.llm_api_key,
        timeout_seconds=settings.llm_timeout_seconds,
    )


def build_answer_engine(
    settings: ConversationSettings,
    opensearch: AsyncOpenSearch,
    *,
    embedder: Embedder | None,
    llm: ChatModel | None = None,
    lexicon: Lexicon = GLOSSARY_ONLY,
) -> AnswerEngine:
    """The answer pipeline the settings describe, reading ``settings.content_index``."""
    search = ContentSearch(
        opensearch,
        settings.content_index,
        statistics=TermStatistics(settings.term_statistics_seconds, clock=time.monotonic),
        embedder=embedder,
        dense_candidates=settings.dense_candidates,
        fusion=FusionWeights(lexical=settings.fusion_lexical_weight, dense=settings.fusion_dense_weight),
    )
    thresholds = AnswerThresholds(
        min_confidence=settings.min_confidence,
        min_support=settings.support_threshold,
    )
    policy = AnswerPolicy(
        thresholds=thresholds,
        retrieval_size=settings.retrieval_size,
        lexical_share=settings.rank_lexical_share,
        suggested_pages=settings.suggested_pages,
        suggest_min_confidence=settings.suggest_min_confidence,
    )
    return AnswerEngine(search, policy, llm, lexicon=lexicon)


def asyncapi_document(service: ConversationService) -> str:
    """The AsyncAPI document of conversation's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: ConversationSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
