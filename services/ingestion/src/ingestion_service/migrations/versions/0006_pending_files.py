"""An uploaded file's command waits on its source for the background parse (no Kafka handler parses).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    op.add_column("sources", sa.Column("pending_file", sa.JSON(none_as_null=True), nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    op.drop_column("sources", "pending_file", schema=schema)
