"""Ingestion's Prometheus metrics (labels are bounded: outcomes and file types, never ids)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PAGES_FETCHED = Counter(
    "customer_agent_ingestion_pages_fetched_total", "HTTP responses received by the crawler.", ["outcome"]
)
BYTES_FETCHED = Counter("customer_agent_ingestion_fetched_bytes_total", "Body bytes downloaded by the crawler.")
PARSE_FAILURES = Counter(
    "customer_agent_ingestion_parse_failures_total", "Pages and files that could not be parsed.", ["failure_type"]
)
DOCUMENTS_INDEXED = Counter(
    "customer_agent_ingestion_documents_indexed_total", "Documents written to the index.", ["source_kind"]
)
CHUNKS_INDEXED = Counter("customer_agent_ingestion_chunks_indexed_total", "Chunks written to the index.")
INDEXING_LATENCY = Histogram(
    "customer_agent_ingestion_indexing_latency_seconds",
    "From receiving content (page fetched, file or article event) to its chunks being written.",
    ["source_kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
SYNC_BACKLOG = Gauge("customer_agent_ingestion_sync_backlog", "Website syncs waiting or running.")
FILE_BACKLOG = Gauge("customer_agent_ingestion_file_backlog", "Uploaded files waiting for their parse or parsing.")
SYNCS_FINISHED = Counter("customer_agent_ingestion_syncs_total", "Finished source syncs.", ["source_kind", "state"])
COMMANDS_PASSED_OVER = Counter(
    "customer_agent_ingestion_commands_passed_over_total",
    "Sync or update commands claimed and not carried out because their source moved past them (replayed or "
    "redelivered late): deleted since (source_deleted), or given a file sent well after the command's (newer_file).",
    ["source_kind", "reason"],
)
CHUNKS_EMBEDDED = Counter(
    "customer_agent_ingestion_chunks_embedded_total", "Chunks given a vector of the current embedding model."
)
EMBEDDING_BATCH_SECONDS = Histogram(
    "customer_agent_ingestion_embedding_batch_seconds",
    "Time to compute the vectors of one batch of chunks.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
EMBEDDING_PENDING = Gauge(
    "customer_agent_ingestion_embedding_pending_chunks", "Chunks still waiting for a vector (all accounts)."
)
EMBEDDING_FAILURES = Counter(
    "customer_agent_ingestion_embedding_failures_total",
    "Embedding passes that failed (model or index unavailable: retried) or chunks refused for good.",
    ["reason"],
)
ARTICLES_REFUSED = Counter(
    "customer_agent_ingestion_articles_refused_total",
    "Knowledge-base article events refused because the account's admin removed its knowledge base.",
)
LINKS_DROPPED = Counter(
    "customer_agent_ingestion_links_dropped_total",
    "Links the crawler did not follow to bound a page's cost: past the per-page cap under the site's robots.txt "
    "(per_page), longer than 2,048 characters (too_long), or not judged in time (unjudged).",
    ["reason"],
)
