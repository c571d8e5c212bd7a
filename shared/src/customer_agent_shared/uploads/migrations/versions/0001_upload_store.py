"""The upload store: an account's blobs by SHA-256, and who holds each.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "uploads")
    op.create_table(
        "blobs",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="blobs_sha256_is_hex"),
        sa.CheckConstraint("size = octet_length(content)", name="blobs_size_is_content_length"),
        schema=schema,
    )
    op.create_table(
        "holds",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        # No hold without its blob: the store deletes a blob only with its last hold.
        sa.ForeignKeyConstraint(
            ["account_id", "sha256"], [f"{schema}.blobs.account_id", f"{schema}.blobs.sha256"], name="holds_blob_fk"
        ),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "uploads")
    op.drop_table("holds", schema=schema)
    op.drop_table("blobs", schema=schema)
