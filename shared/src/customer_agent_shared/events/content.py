"""External knowledge-base article announcements (content.events.v1)."""

from __future__ import annotations

from pydantic import Field

from customer_agent_shared.events.channels import ContractModel
from customer_agent_shared.events.envelope import Timestamp

ARTICLE_PUBLISHED = "article.published"
ARTICLE_UPDATED = "article.updated"
ARTICLE_DELETED = "article.deleted"
ARTICLE_EVENT_TYPES = (ARTICLE_PUBLISHED, ARTICLE_UPDATED, ARTICLE_DELETED)


class ArticleChanged(ContractModel):
    """An article of an external knowledge base was published, updated or deleted."""

    account_id: str = Field(min_length=1, description="Account id.")
    article_id: str = Field(min_length=1, description="Article id in the knowledge base.")
    url: str = Field(default="", description="Public URL of the article.")
    title: str = Field(default="", description="Article title.")
    body_html: str = Field(default="", description="Article body as HTML (empty on delete).")
    language: str | None = Field(
        default=None, description="Article language (BCP 47); when absent, ingestion detects it from the body."
    )
    updated_at: Timestamp = Field(description="When the article last changed.")
