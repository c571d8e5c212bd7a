"""Sources keep the progress they last reported and how many of their chunks have a vector.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ("discovered", "fetched", "indexed", "failed", "embedded_chunks")


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    for name in COUNTS:
        op.add_column("sources", sa.Column(name, sa.Integer, nullable=False, server_default="0"), schema=schema)
    op.add_column("sources", sa.Column("recent_failures", sa.JSON, nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    op.drop_column("sources", "recent_failures", schema=schema)
    for name in reversed(COUNTS):
        op.drop_column("sources", name, schema=schema)
