from __future__ import annotations

import pytest
from conversation_service.domain.fusion import FusionWeights, cosine_from_score, fuse
from conversation_service.domain.retrieval import Passage


def _passage(chunk_id: str, *, score: float = 0.0, similarity: float | None = None) -> Passage:
    return Passage(
        chunk_id=chunk_id, score=score, title=chunk_id, url="", body="", language="en", similarity=similarity
    )


def test_a_passage_both_searches_found_keeps_its_bm25_score_and_gets_the_similarity() -> None:
    lexical = [_passage("a", score=7.0), _passage("b", score=3.0)]
    dense = [_passage("b", similarity=0.9), _passage("c", similarity=0.8)]
    fused = fuse(lexical, dense, weights=FusionWeights(lexical=1.0, dense=1.0))
    assert [passage.chunk_id for passage in fused] == ["b", "a", "c"]
    by_id = {passage.chunk_id: passage for passage in fused}
    assert (by_id["b"].score, by_id["b"].similarity) == (3.0, 0.9)
    assert (by_id["a"].score, by_id["a"].similarity) == (7.0, None)
    assert all(passage.fused is not None for passage in fused)


def test_the_weights_decide_which_ranking_wins_a_disagreement() -> None:
    lexical = [_passage("word-match")]
    dense = [_passage("meaning-match", similarity=0.9)]
    words_first = fuse(lexical, dense, weights=FusionWeights(lexical=2.0, dense=1.0))
    meaning_first = fuse(lexical, dense, weights=FusionWeights(lexical=1.0, dense=2.0))
    assert words_first[0].chunk_id == "word-match"
    assert meaning_first[0].chunk_id == "meaning-match"


def test_no_results_fuse_to_nothing() -> None:
    assert fuse([], [], weights=FusionWeights()) == []


@pytest.mark.parametrize(("score", "cosine"), [(1.0, 1.0), (0.5, 0.0), (0.0, -1.0), (0.9, 0.8)])
def test_an_opensearch_cosinesimil_score_maps_back_to_the_cosine(score: float, cosine: float) -> None:
    assert cosine_from_score(score) == pytest.approx(cosine)
