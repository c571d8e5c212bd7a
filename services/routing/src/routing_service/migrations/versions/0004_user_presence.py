"""Users' presence reported by the human inbox (user.availability), apart from the admin's config.

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
    op.create_table(
        "user_presence",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        schema=context.config.attributes.get("schema", "routing"),
    )


def downgrade() -> None:
    op.drop_table("user_presence", schema=context.config.attributes.get("schema", "routing"))
