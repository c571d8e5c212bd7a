"""Helpers for integration tests against the real local stack (never used in production code)."""
