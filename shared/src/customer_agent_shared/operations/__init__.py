"""Operator tools behind the ``customer-agent`` command (dead letters first)."""
