"""Conversation's Prometheus metrics (labels are bounded: outcomes, kinds, reasons — never ids)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ANSWER_SECONDS = Histogram(
    "customer_agent_conversation_answer_seconds",
    "Time from taking a message to staging the reply, by what the reply was.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
REPLIES = Counter(
    "customer_agent_conversation_replies_total",
    "Messages handled, by outcome (answered, rephrase, cannot_answer, handoff, feedback, preview_*).",
    ["outcome"],
)
RETRIEVAL_SUPPORT = Histogram(
    "customer_agent_conversation_retrieval_support",
    "Support (0..1, share of the question's topic words) of the best retrieved passage.",
    buckets=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
RETRIEVAL_SCORE = Histogram(
    "customer_agent_conversation_retrieval_score",
    "BM25 score of the best retrieved passage (index-wide statistics: it moves with other accounts' content "
    "and gates nothing).",
    buckets=(0.5, 1, 2, 4, 6, 8, 10, 15, 20, 30, 50),
)
LLM_REQUESTS = Counter(
    "customer_agent_conversation_llm_requests_total",
    "Answers asked of the LLM, by outcome (used, fallback).",
    ["outcome"],
)
LLM_FALLBACKS = Counter(
    "customer_agent_conversation_llm_fallbacks_total",
    "LLM answers replaced by the extractive answer, by reason (error, ungrounded).",
    ["reason"],
)
GAP_DRAFTS = Counter(
    "customer_agent_conversation_gap_drafts_total",
    "Knowledge gaps' recommended answers asked of the LLM, by outcome (drafted; ungrounded: none kept; retried; "
    "given_up after the last attempt failed).",
    ["outcome"],
)
GAP_DRAFTS_DROPPED = Counter(
    "customer_agent_conversation_gap_drafts_dropped_total",
    "Knowledge gaps' LLM drafts never asked for, by reason (account_full: not queued, the account had the most "
    "pending; expired: deleted still pending, no drafter took them in time).",
    ["reason"],
)
RESOLVED = Counter(
    "customer_agent_conversation_resolved_total",
    "Threads the resolution sweep marked resolved.",
)
PREFETCHED_SEARCHES = Counter(
    "customer_agent_conversation_prefetched_searches_total",
    "Searches run ahead for a batch of messages (fetched), those that shared an identical search's request"
    " (coalesced) and those a message then used (used).",
    ["outcome"],
)
ANSWER_CONFIDENCE = Histogram(
    "customer_agent_conversation_answer_confidence",
    "Confidence of the answer decision (calibrated probability; word support when no passage has a vector).",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
QUESTION_EMBEDDING_SECONDS = Histogram(
    "customer_agent_conversation_question_embedding_seconds",
    "Time to compute the vectors of the questions of one search request.",
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5),
)
VECTOR_SEARCH_FAILURES = Counter(
    "customer_agent_conversation_vector_search_failures_total",
    "Question embeddings or vector searches that failed while the word search answered (words only).",
)
QUESTION_VECTORS = Counter(
    "customer_agent_conversation_question_vectors_total",
    "Question vectors computed (embedded) or taken from the recent questions' (remembered).",
    ["outcome"],
)
ANSWERS_DELAYED = Counter(
    "customer_agent_conversation_answers_delayed_total",
    "Messages put back for a later retry because the content index was unavailable.",
)

REPLAYED_QUESTIONS = Counter(
    "customer_agent_conversation_replayed_questions_total",
    "Real questions replayed against a draft configuration (never sent, never billed).",
)

DICTIONARY_HEADWORDS = Gauge(
    "customer_agent_conversation_dictionary_headwords",
    "Headwords of the bilingual dictionary to English loaded for each visitor language (absent: none).",
    ["language"],
)
