"""Which LLM draft becomes a knowledge gap's recommended answer."""

from __future__ import annotations

import pytest
from admin_api.domain.gaps import DRAFTED_BY_EXTRACT, DRAFTED_BY_MODEL, takes_model_draft


@pytest.mark.parametrize(
    ("status", "gap_language", "drafted_by", "draft_language", "taken"),
    [
        ("open", "da", DRAFTED_BY_EXTRACT, "da", True),  # the model's draft replaces the extract
        ("open", "da", None, "da-DK", True),  # or fills an empty one; a region does not matter
        ("open", None, None, "en", True),  # a gap of unknown language takes any
        ("open", "da", DRAFTED_BY_MODEL, "da", False),  # an earlier model draft stays
        ("open", "en", DRAFTED_BY_EXTRACT, "da", False),  # a question of another language that joined the gap
        ("dismissed", "da", DRAFTED_BY_EXTRACT, "da", False),
        ("resolved", "da", DRAFTED_BY_EXTRACT, "da", False),
    ],
)
def test_a_model_draft_is_taken_by_an_open_gap_in_its_language_over_an_extract(
    status: str, gap_language: str | None, drafted_by: str | None, draft_language: str, taken: bool
) -> None:
    decision = takes_model_draft(
        status=status, gap_language=gap_language, drafted_by=drafted_by, draft_language=draft_language
    )
    assert decision is taken
