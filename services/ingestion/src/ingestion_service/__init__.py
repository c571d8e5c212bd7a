"""ingestion: Crawls, parses, chunks and indexes content sources."""
