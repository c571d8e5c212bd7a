"""The built-in model, loaded from the installed package (no download), and the embedder factory."""

from __future__ import annotations

import math

import pytest
from customer_agent_shared.embeddings import (
    BUILTIN_DIMENSION,
    BuiltinEmbedder,
    EmbeddingSettings,
    OpenAICompatibleEmbedder,
    create_embedder,
    normalized,
)

PASSAGES = [
    "The machine's hostname is stored in the file /etc/hostname; edit it and reboot to rename the computer.",
    "To shrink a Windows partition before installing, use the disk management tool of Windows.",
    "The json module parses JSON documents into Python dictionaries and lists.",
]


@pytest.fixture(scope="module")
def builtin() -> BuiltinEmbedder:
    embedder = BuiltinEmbedder(threads=1)
    embedder.load()
    return embedder


def _dot(first: list[float], second: list[float]) -> float:
    return sum(a * b for a, b in zip(first, second, strict=True))


def test_vectors_are_unit_length_and_of_the_model_dimension(builtin: BuiltinEmbedder) -> None:
    vectors = builtin.embed_passages_now(PASSAGES)
    assert len(vectors) == len(PASSAGES)
    for vector in vectors:
        assert len(vector) == BUILTIN_DIMENSION
        assert math.isclose(math.sqrt(_dot(vector, vector)), 1.0, rel_tol=1e-3)
    assert builtin.embed_passages_now([]) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which file holds the computer's name?", 0),
        ("Hvor gemmer maskinen sit værtsnavn?", 0),  # Danish
        ("Kan ik Windows kleiner maken zodat Debian ernaast past?", 1),  # Dutch
        ("Wie lese ich eine JSON-Datei in Python ein?", 2),  # German
    ],
)
def test_a_paraphrase_in_any_language_is_nearest_its_english_passage(
    builtin: BuiltinEmbedder, question: str, expected: int
) -> None:
    passages = builtin.embed_passages_now(PASSAGES)
    [query] = builtin.embed_queries_now([question])
    similarities = [_dot(query, passage) for passage in passages]
    assert max(range(len(PASSAGES)), key=similarities.__getitem__) == expected


async def test_the_async_calls_give_the_same_vectors_off_the_event_loop(builtin: BuiltinEmbedder) -> None:
    [now] = builtin.embed_queries_now(["hostname"])
    [later] = await builtin.embed_queries(["hostname"])
    assert now == later


def test_the_settings_choose_the_embedder() -> None:
    assert create_embedder(EmbeddingSettings(embeddings="off")) is None
    assert isinstance(create_embedder(EmbeddingSettings()), BuiltinEmbedder)
    endpoint = create_embedder(EmbeddingSettings(embeddings="openai", embeddings_url="http://127.0.0.1:1/v1"))
    assert isinstance(endpoint, OpenAICompatibleEmbedder)
    assert endpoint.model_id != BuiltinEmbedder().model_id
    int8 = create_embedder(EmbeddingSettings(embeddings_int8=True))
    assert isinstance(int8, BuiltinEmbedder)
    assert int8.model_id != BuiltinEmbedder().model_id  # a switch re-embeds: vectors of both never meet
    with pytest.raises(ValueError, match="EMBEDDINGS_URL"):
        create_embedder(EmbeddingSettings(embeddings="openai"))


def test_normalized_scales_to_unit_length_and_keeps_zero() -> None:
    assert normalized([3.0, 4.0]) == pytest.approx([0.6, 0.8])
    assert normalized([0.0, 0.0]) == [0.0, 0.0]
