"""The question log: the account's recent real questions, which a draft replay runs again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.create_table(
        "questions",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("thread_id", sa.String(220), primary_key=True),
        sa.Column("message_id", sa.String(220), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("channel_type", sa.String(40), nullable=True),
        sa.Column("channel_id", sa.String(200), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("ix_questions_account_asked", "questions", ["account_id", "asked_at"], schema=schema)
    op.create_index("ix_questions_asked", "questions", ["asked_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.drop_table("questions", schema=schema)
