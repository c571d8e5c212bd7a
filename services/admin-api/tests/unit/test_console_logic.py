"""The console's own small rules: chart buckets, chart data, and handoff targets typed as text."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from admin_api.entrypoints.console.charts import buckets, performance_charts
from admin_api.entrypoints.console.client import ApiRefused
from admin_api.entrypoints.console.rendering import templates
from admin_api.entrypoints.console.setup import parse_targets


def test_a_month_is_shown_day_by_day() -> None:
    days = buckets(date(2026, 11, 1), date(2026, 11, 30))
    assert len(days) == 30
    assert all(bucket.first == bucket.last for bucket in days)
    assert days[0].label == "2026-11-01"


def test_a_longer_period_is_cut_into_at_most_31_buckets_that_cover_it_exactly() -> None:
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    cut = buckets(first, last)
    assert len(cut) <= 31
    assert cut[0].first == first
    assert cut[-1].last == last
    assert all((b.first - a.last).days == 1 for a, b in itertools.pairwise(cut))
    assert cut[0].label == "2026-01-01 to 01-12"


def _figures(conversations: int, answer_rate: float) -> dict[str, object]:
    return {
        "conversations": conversations,
        "handoffs": 1,
        "answer_rate": answer_rate,
        "resolution_rate": 0.5,
        "credits_used": conversations,
    }


def test_a_bucket_without_conversations_has_no_rate_rather_than_zero() -> None:
    days = buckets(date(2026, 11, 1), date(2026, 11, 2))
    summary = {"handoffs_by_reason": {"trigger": 2, "cannot_answer": 5}}
    charts = performance_charts(days, [_figures(4, 0.75), _figures(0, 0.0)], summary)
    answer_rate = charts["rates"]["data"]["datasets"][0]["data"]
    assert answer_rate == [75.0, None]
    assert charts["conversations"]["data"]["datasets"][0]["data"] == [4, 0]
    assert charts["handoffs"]["data"]["labels"] == ["cannot answer", "trigger"]  # most frequent first


def test_handoff_targets_are_read_from_text() -> None:
    assert parse_targets("team:support, user:u-ada\n") == [
        {"kind": "team", "id": "support"},
        {"kind": "user", "id": "u-ada"},
    ]
    assert parse_targets("  ") == []
    with pytest.raises(ApiRefused, match="user:<id> or team:<id>"):
        parse_targets("support")


def test_the_preview_shows_what_routing_would_do_escaped() -> None:
    reply = {
        "text": "Hej",
        "kind": "answer",
        "language": "da",
        "citations": [],
        "routing": {
            "channel": {"type": "live_chat", "id": "web"},
            "outcome": "handed_off",
            "reason": "trigger",
            "assignee": {"kind": "team", "id": "sales"},
            "notice": {"kind": "availability", "text": "<b>En kollega</b> kommer", "language": "da"},
        },
    }
    html = templates.get_template("preview_exchange.html").render(question="Q", locale="da-DK", reply=reply)
    assert 'data-outcome="handed_off"' in html
    assert "hand it to team sales (trigger)" in html
    assert "&lt;b&gt;En kollega&lt;/b&gt;" in html  # the configured text is shown, never as markup
    without = templates.get_template("preview_exchange.html").render(
        question="Q", locale="", reply={**reply, "routing": None}
    )
    assert "Routing" not in without
