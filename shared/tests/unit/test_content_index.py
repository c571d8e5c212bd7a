"""The content-index contract: one language analysis per chunk, field names shared by writer and reader."""

from __future__ import annotations

from typing import Any

from customer_agent_shared.content_index import (
    INDEX_VERSION,
    LANGUAGE_ANALYZERS,
    index_body,
    index_version,
    localized_field,
    localized_fields,
    with_localized_fields,
)


def _resolve(properties: dict[str, Any], path: str) -> Any:
    """The mapping of a dotted field path ('stemmed.da.body') inside object properties."""
    *objects, name = path.split(".")
    for part in objects:
        properties = properties[part]["properties"]
    return properties[name]


def test_the_writer_fills_only_the_chunk_s_own_language() -> None:
    chunk = {"title": "Levering", "section": "", "body": "Vi leverer", "question": None, "language": "da"}
    assert localized_fields("da", chunk) == {
        "stemmed": {"da": {"title": "Levering", "section": "", "body": "Vi leverer"}}
    }
    assert with_localized_fields(chunk)["stemmed"] == {"da": {"title": "Levering", "section": "", "body": "Vi leverer"}}
    assert with_localized_fields(chunk)["body"] == "Vi leverer"


def test_a_language_without_an_analyzer_gets_no_localized_fields() -> None:
    assert localized_fields("pl", {"body": "Dostawa"}) == {}
    assert "stemmed" not in with_localized_fields({"body": "Dostawa", "language": "pl"})
    assert localized_field("pl", "body") is None
    assert localized_field("en", "answer") is None  # answers are only analysed with the standard analyzer


def test_every_reader_field_is_mapped_with_its_language_analyzer() -> None:
    properties = index_body()["mappings"]["properties"]
    for language, analyzer in LANGUAGE_ANALYZERS.items():
        for name in ("title", "section", "body", "question"):
            field = localized_field(language, name)
            assert field is not None
            assert _resolve(properties, field) == {"type": "text", "analyzer": analyzer}
    for name in ("title", "section", "body", "question", "answer"):
        assert properties[name] == {"type": "text", "analyzer": "standard"}  # no per-language sub-fields


def test_the_index_records_its_version_and_older_indexes_read_as_version_1() -> None:
    assert index_version(index_body()["mappings"]) == INDEX_VERSION == 3
    assert index_version({"properties": {}}) == 1
