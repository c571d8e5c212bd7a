"""When a thread's charged resolution counted, so a handoff heard late can take the charge back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "billing")
    op.add_column("threads", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True), schema=schema)


def downgrade() -> None:
    op.drop_column("threads", "resolved_at", schema=context.config.attributes.get("schema", "billing"))
