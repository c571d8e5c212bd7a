"""Prometheus metrics, JSON logs with event context, health and readiness endpoints."""
