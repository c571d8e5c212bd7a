"""Knowledge gaps keep conversation's drafted answer and the question's vector; gaps can be dismissed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("recommended_answer", "question_embedding", "embedding_model")


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.add_column("knowledge_gaps", sa.Column("recommended_answer", sa.Text, nullable=True), schema=schema)
    op.add_column("knowledge_gaps", sa.Column("question_embedding", JSONB, nullable=True), schema=schema)
    op.add_column("knowledge_gaps", sa.Column("embedding_model", sa.String(200), nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.execute(sa.text(f"UPDATE \"{schema}\".knowledge_gaps SET status = 'open' WHERE status = 'dismissed'"))
    for column in reversed(COLUMNS):
        op.drop_column("knowledge_gaps", column, schema=schema)
