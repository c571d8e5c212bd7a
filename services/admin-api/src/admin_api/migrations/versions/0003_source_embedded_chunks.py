"""Sources show how many of their chunks have a vector.

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


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.add_column(
        "sources", sa.Column("embedded_chunks", sa.Integer, nullable=False, server_default="0"), schema=schema
    )


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.drop_column("sources", "embedded_chunks", schema=schema)
