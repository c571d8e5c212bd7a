"""Sources and their documents (crawl state).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    op.create_table(
        "sources",
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("import_related", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("citations_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("resync_interval_hours", sa.Integer, nullable=False, server_default="168"),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("status_sequence", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("documents", sa.Integer, nullable=False, server_default="0"),
        sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sync_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_full", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "source_id", name="pk_sources"),
        schema=schema,
    )
    op.create_index("ix_sources_state", "sources", ["state", "kind"], schema=schema)
    op.create_table(
        "documents",
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("document_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("etag", sa.Text, nullable=True),
        sa.Column("last_modified", sa.Text, nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("chunk_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("extra", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("account_id", "source_id", "document_id", name="pk_documents"),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "ingestion")
    op.drop_table("documents", schema=schema)
    op.drop_index("ix_sources_state", table_name="sources", schema=schema)
    op.drop_table("sources", schema=schema)
