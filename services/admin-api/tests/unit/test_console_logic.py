"""The console's own small rules: chart buckets, chart data, handoff targets typed as text, and the agent's answer
threshold as typed, shown and refused."""

from __future__ import annotations

import itertools
from datetime import date

import httpx
import pytest
from admin_api.entrypoints.console.charts import buckets, performance_charts
from admin_api.entrypoints.console.client import ApiRefused, Console
from admin_api.entrypoints.console.rendering import templates
from admin_api.entrypoints.console.setup import parse_targets
from admin_api.entrypoints.console.talk import profile_form, typed_threshold


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


def test_a_typed_threshold_goes_to_the_api_as_a_number_as_null_or_as_typed() -> None:
    assert typed_threshold(" 0.35 ") == 0.35
    assert typed_threshold("1") == 1.0
    assert typed_threshold("  ") is None  # blank: back to the tuned default
    assert typed_threshold("abc") == "abc"  # the API words the refusal
    assert typed_threshold("nan") == "nan"  # never a NaN in JSON
    assert typed_threshold("-inf") == "-inf"
    assert typed_threshold("0,45") == 0.45  # a decimal comma, as admins in Danish or German type it
    assert typed_threshold("1,000.5") == "1,000.5"  # thousands separators stay as typed: refused by the API
    assert typed_threshold("0.725") == 0.725  # no step: any precision the API keeps


PROFILE = {"name": "Ava", "role": "customer_service", "personality": "friendly"}


def _form(*, can_edit: bool, threshold: float | str | None, refused: ApiRefused | None = None) -> str:
    console = Console("acc", can_edit, httpx.AsyncClient())
    context = profile_form(console, {**PROFILE, "answer_threshold": threshold}, etag="e1", refused=refused)
    return templates.get_template("agent_form.html").render(context)


def test_the_profile_form_shows_the_threshold_described_by_its_hint() -> None:
    shown = _form(can_edit=True, threshold=0.65)
    assert '<label for="agent-answer-threshold">How sure the agent must be to answer' in shown
    field = shown.split('<input id="agent-answer-threshold"')[1].split(">")[0]
    # Text with a decimal keyboard: a number field in a decimal-comma browser would turn "0,1" into "01" (1.0).
    assert 'name="answer_threshold" type="text" inputmode="decimal"' in field
    assert "step=" not in field
    assert "min=" not in field
    assert 'value="0.65"' in field
    assert 'aria-describedby="agent-answer-threshold-hint"' in field
    assert "aria-invalid" not in field
    assert 'id="agent-answer-threshold-hint"' in shown
    assert 'value=""' in _form(can_edit=True, threshold=None).split('id="agent-answer-threshold"')[1].split(">")[0]
    read_only = _form(can_edit=False, threshold=0.65)
    assert "<fieldset disabled>" in read_only
    assert "hx-post" not in read_only


def test_the_apis_problem_with_the_threshold_is_shown_by_it_and_read_with_it() -> None:
    details = [{"field": "answer_threshold", "problem": "Input should be less than or equal to 1"}]
    message = "The request is invalid: answer_threshold: Input should be less than or equal to 1."
    shown = _form(can_edit=True, threshold="1.5", refused=ApiRefused(422, "validation_error", message, details))
    banner = "Nothing was saved: see the field marked below."  # the API's words stand under the field
    assert f'<strong>Refused (422):</strong> <span class="message">{banner}</span>' in shown
    elsewhere = [{"field": "locale", "problem": "Extra inputs are not permitted"}]  # no field of the form
    unplaced = _form(can_edit=True, threshold="1.5", refused=ApiRefused(422, "validation_error", message, elsewhere))
    assert f'<span class="message">{message}</span>' in unplaced
    field = shown.split('<input id="agent-answer-threshold"')[1].split(">")[0]
    assert 'value="1.5"' in field
    assert 'aria-invalid="true" aria-describedby="agent-answer-threshold-hint agent-answer-threshold-error"' in field
    problem = '<p class="error-text" id="agent-answer-threshold-error" data-field="answer_threshold">'
    assert f"{problem}Input should be less than or equal to 1</p>" in shown
    assert 'id="agent-name" name="name" value="Ava" required maxlength="100">' in shown  # only the field named
