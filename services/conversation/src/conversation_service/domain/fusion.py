"""Hybrid retrieval: one ranking from the word search's and the vector search's, and their evidence.

Word search (BM25) wins on exact identifiers (commands, paths, error codes); the vector search finds
a passage phrased in other words or another language. Each list votes for its passages by rank
(weighted reciprocal-rank fusion), so neither list's raw scores, which live on different scales,
need to be comparable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from conversation_service.domain.retrieval import Passage


@dataclass(frozen=True)
class FusionWeights:
    """How much each ranking's vote counts; ``rank_constant`` damps the difference between top ranks."""

    lexical: float = 0.5
    dense: float = 1.0
    rank_constant: float = 20.0


def cosine_from_score(score: float) -> float:
    """The cosine similarity behind an OpenSearch ``cosinesimil`` score, which is (1 + cosine) / 2."""
    return 2.0 * score - 1.0


def fuse(lexical: Sequence[Passage], dense: Sequence[Passage], *, weights: FusionWeights) -> list[Passage]:
    """Passages of both lists, best first by fused score (in ``Passage.fused``), each once.

    A passage found by both keeps its BM25 score and gets the vector list's ``similarity``.
    """
    merged: dict[str, Passage] = {}
    votes: dict[str, float] = {}
    for rank, passage in enumerate(lexical, start=1):
        merged[passage.chunk_id] = passage
        votes[passage.chunk_id] = weights.lexical / (weights.rank_constant + rank)
    for rank, passage in enumerate(dense, start=1):
        known = merged.get(passage.chunk_id)
        merged[passage.chunk_id] = (
            dataclasses.replace(known, similarity=passage.similarity) if known is not None else passage
        )
        votes[passage.chunk_id] = votes.get(passage.chunk_id, 0.0) + weights.dense / (weights.rank_constant + rank)
    ordered = sorted(merged, key=lambda chunk: votes[chunk], reverse=True)
    return [dataclasses.replace(merged[chunk], fused=votes[chunk]) for chunk in ordered]
