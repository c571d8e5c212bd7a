"""admin-api's retention policy: each table it trims, for as long as its settings say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from admin_api.handlers.retention import retentions
from admin_api.settings import AdminSettings
from pydantic import ValidationError


def test_closed_gaps_are_kept_the_days_set_beside_facts_and_idempotent_responses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ADMIN_CLOSED_GAP_RETENTION_DAYS", raising=False)
    assert AdminSettings().closed_gap_retention_days == 180
    monkeypatch.setenv("ADMIN_CLOSED_GAP_RETENTION_DAYS", "90")
    settings = AdminSettings()
    policy = retentions(
        performance_days=settings.performance_retention_days,
        idempotency_hours=settings.idempotency_retention_hours,
        closed_gap_days=settings.closed_gap_retention_days,
    )
    assert {retention.table: retention.keep for retention in policy} == {
        "conversation_facts": timedelta(days=400),
        "credit_usage_days": timedelta(days=400),
        "idempotency_keys": timedelta(hours=48),
        "knowledge_gaps": timedelta(days=90),
    }


def test_closed_gaps_are_kept_at_least_a_day() -> None:
    with pytest.raises(ValidationError):
        AdminSettings(closed_gap_retention_days=0)
