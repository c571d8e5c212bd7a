"""Conversation settings: ``CONVERSATION_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.content_index import READ_ALIAS
from customer_agent_shared.embeddings import EmbeddingSettings
from customer_agent_shared.settings import BatchConsumerSettings, ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from conversation_service.domain.confidence import AnswerThresholds
from conversation_service.domain.fusion import FusionWeights
from conversation_service.domain.policy import SUGGEST_MIN_CONFIDENCE, SUGGESTED_PAGES
from conversation_service.domain.retrieval import LEXICAL_SHARE

REPLAY_MARGIN_SECONDS = 10.0


class ConversationSettings(ServiceSettings, BatchConsumerSettings, EmbeddingSettings):
    """Everything the conversation service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CONVERSATION_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="conversation", description="Name in logs, metrics and client ids.")
    http_port: int = Field(default=8002, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    database_schema: str = Field(default="conversation", description="PostgreSQL schema owned by conversation.")
    consumer_group: str = Field(default="conversation", description="Kafka consumer group prefix (<prefix>.<topic>).")

    content_index: str = Field(
        default=READ_ALIAS, description="OpenSearch index or alias the chunks are read from (the read alias)."
    )
    retrieval_size: int = Field(default=6, ge=1, le=50, description="Chunks fetched per question.")
    min_confidence: float = Field(
        default=AnswerThresholds.min_confidence,
        ge=0.0,
        le=1.0,
        description="Least calibrated confidence (the probability that the answer cites the right page) to "
        "answer; the default was chosen on bench/quality's dev split for precision 0.8. An account's "
        "answer_threshold overrides it.",
    )
    support_threshold: float = Field(
        default=AnswerThresholds.min_support,
        ge=0.0,
        le=1.0,
        description="Weighted share of the question's topic words the best passage must contain to answer when "
        "no passage has a vector (embeddings off or not computed yet); also what makes a passage cited "
        "beside the best.",
    )
    suggested_pages: int = Field(
        default=SUGGESTED_PAGES,
        ge=0,
        le=5,
        description="Nearest pages offered as citations with a rephrase request ('these pages might help'), when "
        "the declined question's confidence reaches CONVERSATION_SUGGEST_MIN_CONFIDENCE; 0: none.",
    )
    suggest_min_confidence: float = Field(
        default=SUGGEST_MIN_CONFIDENCE,
        ge=0.0,
        le=1.0,
        description="Least confidence of a declined question for its nearest pages to be offered; the default gave "
        "the most offers holding the right page net of offers to questions the content cannot answer on "
        "bench/quality's dev split.",
    )
    dictionary_dir: str = Field(
        default="/usr/share/dictd",
        description="Directory of FreeDict's bilingual dictionaries to English (the Debian packages this service's "
        "pyproject.toml lists), read at start-up to translate visitors' words for the word search; empty: none. "
        "A missing dictionary is logged; questions in its language then find English content by vectors and the "
        "support glossary alone.",
    )
    dense_candidates: int = Field(
        default=20, ge=1, le=200, description="Nearest chunks the vector search returns per question."
    )
    rank_lexical_share: float = Field(
        default=LEXICAL_SHARE,
        ge=0.0,
        le=1.0,
        description="Share of the word support (the question's words found in the passage) in a passage's rank; "
        "the rest is the hybrid search's fused rank.",
    )
    fusion_lexical_weight: float = Field(
        default=FusionWeights.lexical, ge=0.0, description="Weight of the word search's ranking in the hybrid ranking."
    )
    fusion_dense_weight: float = Field(
        default=FusionWeights.dense, ge=0.0, description="Weight of the vector search's ranking in the hybrid ranking."
    )
    recent_turns: int = Field(default=6, ge=1, le=50, description="Turns kept per thread for follow-up questions.")
    send_handoff_notice: bool = Field(
        default=False,
        description=(
            "Also tell the visitor they are being passed to a person when conversation hands off "
            "(off by default: routing sends the availability message that fits; leave it off when a channel's "
            'handoff rule is to stay assigned, whose visitors get "handoff unavailable" instead). A handoff '
            "because the content index stayed unavailable always says it cannot look this up now."
        ),
    )
    llm_parallel_answers: int = Field(
        default=8,
        ge=1,
        le=256,
        description=("With an LLM: how many threads one consumer answers at once (a thread's messages stay in order)."),
    )
    unavailable_wait_seconds: float = Field(
        default=60.0,
        ge=0.0,
        description=(
            "How long a visitor's message is retried while the content index is unavailable before the visitor "
            "is told it cannot be looked up now and a person takes the thread (0: at once)."
        ),
    )
    resolution_hours: int = Field(
        default=72,
        ge=1,
        description="Quiet hours after the agent's reply before a thread counts as resolved, for an account whose "
        "credit plan has not set them (admin-api carries the plan's into the configuration).",
    )
    resolution_sweep_seconds: float = Field(
        default=300.0, ge=0.0, description="How often resolved threads are looked for (0 disables the sweep)."
    )
    question_log_days: int = Field(
        default=30,
        ge=1,
        description="How long visitors' questions are kept for draft replays (POST /agent/draft/replay replays "
        "an account's latest ones); older ones are deleted every hour (also with the resolution sweep off).",
    )
    replay_seconds: float = Field(
        default=40.0,
        gt=0.0,
        description="How long one draft replay may run; it reports the questions it finished (newest first). "
        f"At least {REPLAY_MARGIN_SECONDS:g} s below CONVERSATION_HANDLER_TIMEOUT_SECONDS (checked at start-up).",
    )
    replay_concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Draft replays one conversation process runs at once, so a burst of replays from many "
        "accounts leaves live answers their share; a replay waits for a free one within its time budget.",
    )
    config_cache_seconds: float = Field(
        default=30.0, ge=0.0, description="How long an account's agent profile is cached in memory."
    )
    term_statistics_seconds: float = Field(
        default=60.0,
        ge=0.0,
        description="How long the number of an account's chunks holding a question word is remembered "
        "(it weighs rare words above common ones; 0 asks OpenSearch with every question).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API (e.g. http://127.0.0.1:11434/v1); unset = extractive only.",
    )
    llm_model: str = Field(default="", description="Model name sent to the chat-completions endpoint.")
    llm_api_key: str | None = Field(default=None, description="Bearer token for the LLM endpoint, if it needs one.")
    llm_timeout_seconds: float = Field(
        default=8.0, gt=0.0, description="Time the LLM may take before the extractive answer is used."
    )
    llm_gap_drafts: bool = Field(
        default=True,
        description="With an LLM: it also drafts each knowledge gap's recommended answer in the gap's language, "
        "in the background after the decline (the extract from the nearest content stays until it has): one at "
        "a time, while no live answer waits for the model, and an account's same question in the same language "
        "once a day.",
    )
    gap_draft_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries of the LLM per knowledge gap draft before the extract is kept."
    )
    gap_draft_retry_seconds: float = Field(
        default=30.0,
        gt=0.0,
        description="Wait after a failed knowledge gap draft before the next try; doubled after each (at most 1 h).",
    )
    gap_draft_interval_seconds: float = Field(
        default=2.0, gt=0.0, description="How often pending knowledge gap drafts are looked for."
    )

    @model_validator(mode="after")
    def _replay_within_handler_timeout(self) -> ConversationSettings:
        """Refuse a replay budget the handler timeout would cut off (a cancelled replay is retried forever)."""
        if self.replay_seconds > self.handler_timeout_seconds - REPLAY_MARGIN_SECONDS:
            raise ValueError(
                f"CONVERSATION_REPLAY_SECONDS ({self.replay_seconds:g}) must be at least {REPLAY_MARGIN_SECONDS:g} s "
                f"below CONVERSATION_HANDLER_TIMEOUT_SECONDS ({self.handler_timeout_seconds:g}): a replay cut off "
                "by the handler timeout is retried and blocks its partition"
            )
        return self
