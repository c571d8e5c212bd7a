"""The content index's contract: aliases, mapping, field names and the account filter.

Like a topic, the index is a contract between services. Ingestion owns the documents (it is
the only writer); readers go through ``client.AccountScopedSearch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from customer_agent_shared.embeddings import BUILTIN_DIMENSION

INDEX_VERSION = 3
READ_ALIAS = "customer-agent-chunks"
WRITE_ALIAS = "customer-agent-chunks-write"


def concrete_index_name(version: int = INDEX_VERSION) -> str:
    """Name of a concrete index behind the aliases (mapping changes bump the version)."""
    return f"customer-agent-chunks-v{version}"


# How often new chunks become searchable on their own (a dynamic setting: no new index version).
# Writes that must be searchable at once refresh explicitly (articles, files, the end of a website
# sync). 13k chunks bulk-indexed over ~11 s, as in a crawl, cost OpenSearch 4.7-5.1 CPU s with a 1 s
# refresh and 3.9-4.2 s with 10 s (6.1-8.8 vs 4.3-5.0 s when OpenSearch was in a slower state).
REFRESH_INTERVAL = "10s"

# Each chunk's sentence embedding (added by ingestion after the chunk is written, so word search works
# at once) and the model it came from: readers compare a question only with vectors of their own model.
EMBEDDING_FIELD = "embedding"
EMBEDDING_MODEL_FIELD = "embedding_model"
DEFAULT_EMBEDDING_DIMENSION = BUILTIN_DIMENSION  # the built-in model's
# HNSW graph in Lucene (no native library); cosine scores come back as (1 + cosine) / 2.
_EMBEDDING_METHOD = {
    "name": "hnsw",
    "engine": "lucene",
    "space_type": "cosinesimil",
    "parameters": {"m": 16, "ef_construction": 128},
}

# Languages with a dedicated analyzer; anything else uses the standard analyzer.
LANGUAGE_ANALYZERS: dict[str, str] = {
    "en": "english",
    "da": "danish",
    "nl": "dutch",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "sv": "swedish",
    "no": "norwegian",
    "it": "italian",
    "pt": "portuguese",
    "fi": "finnish",
}

# Text fields indexed twice: with the standard analyzer for every chunk, and under
# ``stemmed.<language>.<field>`` with the analyzer of the chunk's own language only
# (one language analysis per chunk instead of one per supported language).
LOCALIZED_FIELDS: tuple[str, ...] = ("title", "section", "body", "question")
_LOCALIZED_OBJECT = "stemmed"

# Painless: fill the per-language fields from ``language`` (reindexing from an older version).
LOCALIZE_SCRIPT = """
String language = ctx._source.language;
if (language != null && params.languages.contains(language)) {
  Map localized = new HashMap();
  for (String name : params.fields) {
    def value = ctx._source.get(name);
    if (value != null) { localized.put(name, value); }
  }
  Map stemmed = new HashMap();
  stemmed.put(language, localized);
  ctx._source.put(params.object, stemmed);
}
"""


def localize_script() -> dict[str, Any]:
    """The painless script (with params) that adds the per-language fields to a document being reindexed."""
    return {
        "lang": "painless",
        "source": LOCALIZE_SCRIPT,
        "params": {
            "languages": list(LANGUAGE_ANALYZERS),
            "fields": list(LOCALIZED_FIELDS),
            "object": _LOCALIZED_OBJECT,
        },
    }


def localized_field(language: str, field: str) -> str | None:
    """Reader's side: the field holding ``field`` analysed for ``language`` ('stemmed.da.body'), if any."""
    if language not in LANGUAGE_ANALYZERS or field not in LOCALIZED_FIELDS:
        return None
    return f"{_LOCALIZED_OBJECT}.{language}.{field}"


def localized_fields(language: str, values: Mapping[str, str | None]) -> dict[str, Any]:
    """Writer's side: the per-language fields of a chunk in ``language`` (empty without an analyzer)."""
    if language not in LANGUAGE_ANALYZERS:
        return {}
    texts = {name: values[name] for name in LOCALIZED_FIELDS if values.get(name) is not None}
    return {_LOCALIZED_OBJECT: {language: texts}} if texts else {}


def with_localized_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """A chunk's ``_source`` with the per-language fields of its ``language`` added."""
    return {**document, **localized_fields(str(document.get("language") or ""), document)}


def index_body(embedding_dimension: int = DEFAULT_EMBEDDING_DIMENSION) -> dict[str, Any]:
    """Settings and mappings of the chunk index (vectors of ``embedding_dimension`` numbers)."""
    text_field = {"type": "text", "analyzer": "standard"}
    per_language = {
        language: {
            "properties": {name: {"type": "text", "analyzer": analyzer} for name in LOCALIZED_FIELDS},
        }
        for language, analyzer in LANGUAGE_ANALYZERS.items()
    }
    return {
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "refresh_interval": REFRESH_INTERVAL,
            "knn": True,
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"index_version": INDEX_VERSION},
            "properties": {
                "chunk_id": {"type": "keyword"},
                "account_id": {"type": "keyword"},
                "source_id": {"type": "keyword"},
                "source_kind": {"type": "keyword"},
                "document_id": {"type": "keyword"},
                "url": {"type": "keyword"},
                "title": text_field,
                "section": text_field,
                "body": text_field,
                "question": text_field,
                "answer": text_field,
                _LOCALIZED_OBJECT: {"properties": per_language},
                "language": {"type": "keyword"},
                "private": {"type": "boolean"},
                "citations_allowed": {"type": "boolean"},
                "position": {"type": "integer"},
                "content_hash": {"type": "keyword"},
                "updated_at": {"type": "date"},
                EMBEDDING_FIELD: {"type": "knn_vector", "dimension": embedding_dimension, "method": _EMBEDDING_METHOD},
                EMBEDDING_MODEL_FIELD: {"type": "keyword"},
            },
        },
    }


def embedding_dimension(mapping: Mapping[str, Any]) -> int | None:
    """The vector length an existing index was created for (None before vectors existed)."""
    field = (mapping.get("properties") or {}).get(EMBEDDING_FIELD) or {}
    dimension = field.get("dimension")
    return int(dimension) if dimension is not None else None


def index_version(mapping: Mapping[str, Any]) -> int:
    """The contract version of an existing index from its mapping (indexes before version 2 carry none)."""
    meta = mapping.get("_meta") or {}
    return int(meta.get("index_version", 1))


def account_filter(account_id: str) -> dict[str, Any]:
    """The filter clause every read carries."""
    if not account_id:
        raise ValueError("account_id is required for every content query")
    return {"term": {"account_id": account_id}}


def knn_query(account_id: str, vector: list[float], *, k: int, model_id: str) -> dict[str, Any]:
    """A k-NN query over one account's vectors of one model. The filter runs inside the graph search
    (Lucene's efficient filtering), so an account gets its own ``k`` nearest however many others share
    the index; ``AccountScopedSearch`` still adds its own account filter around it."""
    scope = {"bool": {"filter": [account_filter(account_id), {"term": {EMBEDDING_MODEL_FIELD: model_id}}]}}
    return {"knn": {EMBEDDING_FIELD: {"vector": vector, "k": k, "filter": scope}}}
