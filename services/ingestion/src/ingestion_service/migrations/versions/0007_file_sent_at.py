"""A source keeps the event time of the file command it last took, so an older one replayed does not replace it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    op.add_column("sources", sa.Column("file_sent_at", sa.DateTime(timezone=True), nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    op.drop_column("sources", "file_sent_at", schema=schema)
