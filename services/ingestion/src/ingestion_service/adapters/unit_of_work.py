"""Ingestion's unit of work over its schema."""

from __future__ import annotations

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork
from customer_agent_shared.uploads.postgres import PostgresUploadStore
from customer_agent_shared.uploads.store import UploadReader

from ingestion_service.adapters.parse_attempts import ParseAttemptRepository
from ingestion_service.adapters.repositories import DocumentRepository, SourceRepository


class IngestionUnitOfWork(SqlUnitOfWork):
    """Transaction scope for ingestion's use cases."""

    sources: SourceRepository
    documents: DocumentRepository
    parse_attempts: ParseAttemptRepository
    uploads: UploadReader

    def on_begin(self) -> None:
        """Bind the repositories to this transaction's session."""
        self.sources = SourceRepository(self.session)
        self.documents = DocumentRepository(self.session)
        self.parse_attempts = ParseAttemptRepository(self.session)
        self.uploads = PostgresUploadStore(self.session)  # typed read-only: admin-api writes the upload store
