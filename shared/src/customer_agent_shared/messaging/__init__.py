"""Reliable Kafka messaging: broker factory, producer, dedup, retries and dead letters."""
