"""Bodies of the insights endpoints: performance and knowledge gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from customer_agent_shared.events.channels import Citation
from pydantic import BaseModel, Field

from admin_api.adapters.repositories import Row
from admin_api.domain.gaps import recommended_answer
from admin_api.entrypoints.http.models.common import ApiModel, CitationOut, examples
from admin_api.entrypoints.http.models.sources import SourceOut


class QuestionCountOut(BaseModel):
    """A frequent question."""

    model_config = examples({"question": "How do I reset my password?", "count": 12})

    question: str
    count: int


class PerformanceOut(BaseModel):
    """What the agent did over a period (preview conversations excluded)."""

    model_config = examples(
        {
            "from": "2026-11-01",
            "to": "2026-11-30",
            "conversations": 100,
            "answered": 80,
            "resolved": 60,
            "cannot_answer": 10,
            "handoffs": 15,
            "resolution_rate": 0.6,
            "answer_rate": 0.88,
            "cannot_answer_rate": 0.12,
            "handoff_rate": 0.15,
            "handoff_rate_by_reason": {"trigger": 0.05, "cannot_answer": 0.1},
            "handoffs_by_reason": {"trigger": 5, "cannot_answer": 10},
            "credits_used": 100,
            "top_questions": [{"question": "How do I reset my password?", "count": 12}],
        }
    )

    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    conversations: int
    answered: int
    resolved: int
    cannot_answer: int
    handoffs: int
    resolution_rate: float
    answer_rate: float
    cannot_answer_rate: float
    handoff_rate: float
    handoff_rate_by_reason: dict[str, float]
    handoffs_by_reason: dict[str, int]
    credits_used: int = Field(
        description="Credits billing charged for usage on these UTC days, minus what it refunded of those charges "
        "whenever it did (purchases, allotments and resets are no usage), as its credit states report them. Over "
        "the days of a credit period (a UTC plan) it is GET /credits' used_this_period."
    )
    top_questions: list[QuestionCountOut]


class KnowledgeGapOut(BaseModel):
    """Similar unanswered questions grouped together."""

    model_config = examples(
        {
            "id": "gap_9a1",
            "question": "Kan jeg betale med MobilePay?",
            "count": 7,
            "language": "da",
            "status": "open",
            "first_seen_at": "2026-11-20T08:00:00Z",
            "last_seen_at": "2026-11-21T09:00:00Z",
            "nearest_content": [{"title": "Payment", "url": "https://help.example.com/payment"}],
            "recommended_answer": "Vi tager imod Visa og bankoverførsel.",
            "recommended_answer_by": "llm",
            "resolved_source_id": None,
        }
    )

    id: str
    question: str
    count: int
    language: str | None = None
    status: Literal["open", "resolved", "dismissed"]
    first_seen_at: datetime
    last_seen_at: datetime
    nearest_content: list[CitationOut]
    recommended_answer: str | None = Field(
        default=None,
        description="A draft answer for an open gap: the LLM's, in the gap's language, when one is configured and "
        "has drafted it; else the nearest content's best sentences, noted in the gap's language when the content "
        "is in another.",
    )
    recommended_answer_by: Literal["extract", "llm"] | None = Field(
        default=None, description="Who wrote recommended_answer: 'extract' (from the nearest content) or 'llm'."
    )
    resolved_source_id: str | None = None


class KnowledgeGapList(BaseModel):
    """Knowledge gaps, most frequent first."""

    model_config = examples({"items": []})

    items: list[KnowledgeGapOut]


class ResolveGapBody(ApiModel):
    """The answer that closes the gap (becomes a short answer)."""

    model_config = examples({"answer": "Yes, we accept MobilePay."})

    answer: str = Field(min_length=1, max_length=10_000)
    question: str | None = Field(default=None, min_length=1, max_length=1000, description="Defaults to the gap's.")


class ResolvedGapOut(BaseModel):
    """The resolved gap and the short answer created from it."""

    model_config = examples(
        {
            "gap": {"id": "gap_9a1", "question": "Can I pay with MobilePay?", "count": 7, "status": "resolved"},
            "source": {"id": "src_77", "kind": "short_answer", "state": "pending"},
        }
    )

    gap: KnowledgeGapOut
    source: SourceOut


def gap_out(row: Row) -> KnowledgeGapOut:
    """A knowledge gap with its drafted answer."""
    nearest = [Citation.model_validate(item) for item in row["nearest_content"]]
    answer = recommended_answer(status=row["status"], drafted=row.get("recommended_answer"))
    return KnowledgeGapOut(
        id=row["id"],
        question=row["question"],
        count=row["count"],
        language=row.get("language"),
        status=row["status"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        nearest_content=[CitationOut(title=c.title, url=c.url) for c in nearest],
        recommended_answer=answer,
        recommended_answer_by=row.get("drafted_by") if answer else None,
        resolved_source_id=row.get("resolved_source_id"),
    )
