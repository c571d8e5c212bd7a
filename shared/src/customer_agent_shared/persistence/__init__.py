"""PostgreSQL plumbing: engines, units of work, the transactional outbox and inbox."""
