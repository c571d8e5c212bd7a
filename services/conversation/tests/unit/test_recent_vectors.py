from __future__ import annotations

from conversation_service.adapters.content_search import RecentVectors


def test_recent_vectors_forget_the_least_recently_used_first() -> None:
    recent = RecentVectors(2)
    recent.put("a", [1.0, 0.0])
    recent.put("b", [0.0, 1.0])
    assert recent.get("a") == [1.0, 0.0]  # now the most recent
    recent.put("c", [0.5, 0.5])
    assert recent.get("b") is None
    assert recent.get("a") == [1.0, 0.0]
    assert recent.get("c") == [0.5, 0.5]
    nothing = RecentVectors(0)
    nothing.put("a", [1.0])
    assert nothing.get("a") is None
