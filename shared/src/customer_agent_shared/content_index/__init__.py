"""The content index: its contract (``contract``: aliases, mapping, fields, the account filter) and
its account-scoped reader (``client``). Both are re-exported here."""

from __future__ import annotations

from customer_agent_shared.content_index.client import (
    AccountScopedSearch,
    ScopedSearch,
)
from customer_agent_shared.content_index.contract import (
    DEFAULT_EMBEDDING_DIMENSION,
    EMBEDDING_FIELD,
    EMBEDDING_MODEL_FIELD,
    INDEX_VERSION,
    LANGUAGE_ANALYZERS,
    LOCALIZE_SCRIPT,
    LOCALIZED_FIELDS,
    READ_ALIAS,
    REFRESH_INTERVAL,
    WRITE_ALIAS,
    account_filter,
    concrete_index_name,
    embedding_dimension,
    index_body,
    index_version,
    knn_query,
    localize_script,
    localized_field,
    localized_fields,
    with_localized_fields,
)

__all__ = [
    "DEFAULT_EMBEDDING_DIMENSION",
    "EMBEDDING_FIELD",
    "EMBEDDING_MODEL_FIELD",
    "INDEX_VERSION",
    "LANGUAGE_ANALYZERS",
    "LOCALIZED_FIELDS",
    "LOCALIZE_SCRIPT",
    "READ_ALIAS",
    "REFRESH_INTERVAL",
    "WRITE_ALIAS",
    "AccountScopedSearch",
    "ScopedSearch",
    "account_filter",
    "concrete_index_name",
    "embedding_dimension",
    "index_body",
    "index_version",
    "knn_query",
    "localize_script",
    "localized_field",
    "localized_fields",
    "with_localized_fields",
]
